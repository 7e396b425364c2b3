"""--shard i/N and `dis-audit merge`: shards partition the samples, and merged parts equal one scan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from deep_trees import build_planted
from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.manifest import ManifestError, read_findings, read_manifest_table
from dis_audit.merge import merge_manifests
from dis_audit.scan import ScanError, scan
from dis_audit.shards import ShardError, parse_shard, shard_of

N = 3


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    return build_planted(tmp_path_factory.mktemp("merge") / "dis-mini")


@pytest.fixture(scope="module")
def parts(planted, tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("parts")
    paths = []
    for i in range(N):
        result = scan(planted, deep=True, workers=1, shard=f"{i}/{N}")
        paths.append(result.write_manifest(out / f"part-{i}.parquet"))
    return paths


def _comparable(table):
    return table.replace_schema_metadata(None)


def test_shards_partition_the_samples(planted, parts):
    whole = scan(planted, workers=1)
    seen = []
    for path in parts:
        table, meta = read_manifest_table(path)
        seen.extend(table.column("image_path").to_pylist())
        i = int(meta.options.shard.split("/")[0])
        assert all(shard_of(p, N) == i for p in table.column("image_path").to_pylist())
        assert table.column("dup_group").null_count == table.num_rows  # cross-file checks wait for merge
    assert sorted(seen) == whole.table.column("image_path").to_pylist()
    assert all(0 < read_manifest_table(p)[0].num_rows < whole.table.num_rows for p in parts)


def test_merge_equals_single_scan(planted, parts, tmp_path):
    single = scan(planted, deep=True, workers=1)
    merged = merge_manifests(list(reversed(parts)))
    assert _comparable(merged.table).equals(_comparable(single.table))
    assert [f.to_dict() for f in merged.findings] == [f.to_dict() for f in single.findings]
    assert merged.summary["by_rule"] == single.summary["by_rule"]
    assert merged.summary["datasets"] == single.summary["datasets"]
    assert merged.summary["deep"] == single.summary["deep"]
    assert merged.vocabulary.names == single.vocabulary.names
    written = merged.write_manifest(tmp_path / "merged.parquet")
    table, meta = read_manifest_table(written)
    assert meta.options.merged_from == N and "shard" not in meta.options.to_dict()
    assert len(read_findings(table)) == len(single.findings)


def test_merge_with_inferred_vocabularies_renumbers_classes(planted, tmp_path):
    parts = [scan(planted, workers=1, classes="infer", shard=f"{i}/2").write_manifest(tmp_path / f"p{i}.parquet")
             for i in range(2)]
    single = scan(planted, workers=1, classes="infer")
    merged = merge_manifests(parts)
    assert merged.vocabulary.names == single.vocabulary.names
    assert _comparable(merged.table).equals(_comparable(single.table))


def test_merge_refuses_missing_or_repeated_shards(parts):
    with pytest.raises(ManifestError, match=r"shard 2/3 missing"):
        merge_manifests(parts[:2])
    with pytest.raises(ManifestError, match=r"more than once"):
        merge_manifests([parts[0], parts[0], parts[1], parts[2]])


def test_merge_refuses_parts_of_different_scans(planted, parts, tmp_path):
    other = scan(planted, workers=1, shard="2/3").write_manifest(tmp_path / "header-only.parquet")
    with pytest.raises(ManifestError, match="different options"):
        merge_manifests([parts[0], parts[1], other])


@pytest.mark.parametrize("spec", ["3/3", "-1/3", "1/0", "a/b", "1"])
def test_bad_shard_specs(spec):
    with pytest.raises(ShardError):
        parse_shard(spec)


def test_scan_rejects_bad_shard(planted):
    with pytest.raises(ScanError):
        scan(planted, shard="5/2")


def test_cli_shard_and_merge(planted, tmp_path):
    runner = CliRunner()
    for i in range(2):
        res = runner.invoke(app, ["scan", str(planted), "--deep", "--workers", "1", "--shard", f"{i}/2", "--json"])
        assert res.exit_code in (0, 1), res.output
        assert (planted / f"manifest.shard-{i}-of-2.parquet").is_file()
    out = tmp_path / "all.parquet"
    res = runner.invoke(app, ["merge", str(planted / "manifest.shard-0-of-2.parquet"),
                              str(planted / "manifest.shard-1-of-2.parquet"), "-o", str(out)])
    assert res.exit_code == 1, res.output  # the planted leakage is an error
    assert "DA503" in res.output and out.is_file()


def test_cli_merge_bad_input_exits_2_without_traceback(tmp_path):
    import subprocess

    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    repo = Path(__file__).resolve().parents[1]
    for args in ([str(junk)], [str(tmp_path / "missing.parquet")]):
        proc = subprocess.run([sys.executable, "-m", "dis_audit", "merge", *args, "-o", str(tmp_path / "o.parquet")],
                              capture_output=True, text=True, cwd=repo, env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "dis-audit: error" in proc.stderr


def test_merge_refuses_a_mistyped_eval_dataset(parts):
    names = set()
    for part in parts:
        names |= set(read_manifest_table(part)[0].column("dataset").to_pylist())
    some = sorted(names)[0]
    with pytest.raises(ManifestError, match=rf"no dataset named '{some}x' \(did you mean '{some}'\?\)"):
        merge_manifests(parts, eval_datasets=f"{some}x")
