"""``scan --incremental`` leaves the manifest in place when it would write the same content (``_unchanged``),
and writes it as before whenever anything differs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest

from dis_audit import scan
from dis_audit.manifest import manifest_bytes, read_manifest_table, with_findings
from dis_audit.testing import image_array, mask_array, write_image


def _tree(root: Path, n: int = 24) -> None:
    for i in range(n):
        write_image(root / "DS" / "im" / f"1#G#1#Bag#{i}.jpg", image_array(8, 6, key=str(i)))
        if i % 7 != 3:  # some images without a mask: rows with findings, re-read on every scan
            write_image(root / "DS" / "gt" / f"1#G#1#Bag#{i}.png", mask_array(8, 6, key=str(i)))
    # A copy under another name: a cross-file finding too.
    (root / "DS" / "im" / "1#G#1#Bag#dup.jpg").write_bytes((root / "DS" / "im" / "1#G#1#Bag#0.jpg").read_bytes())


def _identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def _expected_bytes(result) -> bytes:
    """What the plain path writes for a scan's result."""
    return manifest_bytes(with_findings(result.table, [f.to_dict() for f in result.findings]))


@pytest.fixture()
def scanned(tmp_path):
    root = tmp_path / "root"
    _tree(root)
    manifest = root / "manifest.parquet"
    scan(root, workers=1).write_manifest(manifest)
    return root, manifest


def test_unchanged_tree_leaves_the_manifest_which_equals_a_fresh_write(scanned):
    root, manifest = scanned
    before, content = _identity(manifest), manifest.read_bytes()
    result = scan(root, workers=1, incremental=manifest)
    assert result.summary["reused_rows"] > 0 and result.findings
    assert result.write_manifest(manifest) == manifest
    assert _identity(manifest) == before  # not rewritten
    # ... and what is there is byte for byte what the plain write would have put there.
    assert manifest.read_bytes() == content == _expected_bytes(result)
    plain = scan(root, workers=1)
    assert plain.table.equals(result.table) and [f.to_dict() for f in plain.findings] == [f.to_dict() for f in result.findings]


def test_a_changed_file_rewrites_the_manifest(scanned):
    root, manifest = scanned
    before = _identity(manifest)
    write_image(root / "DS" / "gt" / "1#G#1#Bag#1.png", mask_array(10, 8, key="new"))
    result = scan(root, workers=1, incremental=manifest)
    result.write_manifest(manifest)
    assert _identity(manifest) != before
    assert manifest.read_bytes() == _expected_bytes(result)
    table, _ = read_manifest_table(manifest)
    assert table.num_rows == result.table.num_rows


def test_other_options_rewrite_the_manifest(scanned):
    root, manifest = scanned
    before = _identity(manifest)
    result = scan(root, workers=1, incremental=manifest, ignore=["DA201"])
    result.write_manifest(manifest)
    assert _identity(manifest) != before
    assert manifest.read_bytes() == _expected_bytes(result)


def test_a_manifest_touched_after_the_read_is_rewritten(scanned):
    root, manifest = scanned
    result = scan(root, workers=1, incremental=manifest)
    st = os.stat(manifest)
    os.utime(manifest, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    before = _identity(manifest)
    result.write_manifest(manifest)
    assert _identity(manifest) != before
    assert manifest.read_bytes() == _expected_bytes(result)


def test_another_target_is_written(scanned, tmp_path):
    root, manifest = scanned
    result = scan(root, workers=1, incremental=manifest)
    other = tmp_path / "other.parquet"
    result.write_manifest(other)
    assert other.read_bytes() == manifest.read_bytes() == _expected_bytes(result)


def test_a_symlinked_manifest_is_written_as_before(scanned, tmp_path):
    root, manifest = scanned
    real = tmp_path / "real.parquet"
    manifest.rename(real)
    manifest.symlink_to(real)
    result = scan(root, workers=1, incremental=manifest)
    result.write_manifest(manifest)
    # The plain atomic write replaces the link by a regular file; leaving it would change that.
    assert not manifest.is_symlink()
    assert manifest.read_bytes() == _expected_bytes(result)


def test_a_manifest_from_another_pyarrow_is_rewritten(scanned, monkeypatch):
    root, manifest = scanned
    before = _identity(manifest)
    monkeypatch.setattr(pa, "__version__", "0.0.1")  # the file's writer now looks older than this one
    result = scan(root, workers=1, incremental=manifest)
    monkeypatch.undo()
    result.write_manifest(manifest)
    assert _identity(manifest) != before
    assert manifest.read_bytes() == _expected_bytes(result)


def test_cli_incremental_of_an_unchanged_tree_keeps_the_file(scanned):
    from typer.testing import CliRunner

    from dis_audit.cli import app

    root, manifest = scanned
    args = ["scan", str(root), "--incremental", "--json", "--workers", "1"]
    # The first run writes: the command line's options travel in the metadata, an API scan's do not.
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 1, first.output  # the tree's missing masks are errors
    before, content = _identity(manifest), manifest.read_bytes()
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 1
    reports = [json.loads(run.output) for run in (first, second)]
    for report in reports:
        report["summary"].pop("elapsed_s")
    assert reports[0] == reports[1]
    assert _identity(manifest) == before and manifest.read_bytes() == content
