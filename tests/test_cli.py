"""The command line: exit codes, --json shape, manifest writing, incremental reuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.manifest import COLUMNS, read_manifest_table
from dis_audit.testing import make_pair

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
GOOD = "1#Accessories#1#Bag#26345192014_f722d1ef0b_o"


def run_module(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "dis_audit", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_exit_0_on_clean_tree_and_manifest_written(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    result = runner.invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 0, result.output
    table, meta = read_manifest_table(tmp_path / "manifest.parquet")
    assert table.column_names == list(COLUMNS)
    assert meta.vocabulary[6] == "Bag" and len(meta.vocabulary) == 219
    assert meta.tool_version and meta.schema_version == 1
    assert str(table.schema.field("class_id").type) == "int32"
    assert not list(tmp_path.glob(".manifest.parquet.*.tmp"))


def test_exit_1_on_errors_and_json_shape(example_tree):
    result = runner.invoke(app, ["scan", str(example_tree), "--json", "--no-manifest"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) == {"summary", "findings", "vocabulary"}
    assert len(data["vocabulary"]) == 219
    for finding in data["findings"]:
        assert {"code", "severity", "path", "message"} <= set(finding)
        assert not finding["path"].startswith("/") and "\\" not in finding["path"]
    codes = {f["code"] for f in data["findings"]}
    assert {"DA101", "DA103", "DA201", "DA202", "DA203", "DA301", "DA403", "DA404", "DA405"} <= codes
    assert data["summary"]["samples"] == 66
    assert data["summary"]["skipped_files"] == 4
    assert not (example_tree / "manifest.parquet").exists()


def test_ignoring_all_errors_gives_exit_0(example_tree):
    result = runner.invoke(app, ["scan", str(example_tree), "--select", "DA2", "--ignore", "DA201", "--no-manifest"])
    assert result.exit_code == 0, result.output


def test_usage_and_io_errors_exit_2(tmp_path):
    missing = runner.invoke(app, ["scan", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "root not found" in missing.output
    (tmp_path / "empty").mkdir()
    nothing = runner.invoke(app, ["scan", str(tmp_path / "empty")])
    assert nothing.exit_code == 2 and "no dataset found" in nothing.output
    make_pair(tmp_path / "ds", "DIS-TR", GOOD)
    bad_rule = runner.invoke(app, ["scan", str(tmp_path / "ds"), "--select", "DA9"])
    assert bad_rule.exit_code == 2 and "unknown rule selector" in bad_rule.output
    bad_classes = runner.invoke(app, ["scan", str(tmp_path / "ds"), "--classes", str(tmp_path / "none.txt")])
    assert bad_classes.exit_code == 2 and "class file not found" in bad_classes.output
    bad_dataset = runner.invoke(app, ["scan", str(tmp_path / "ds"), "--datasets", "DIS-XX"])
    assert bad_dataset.exit_code == 2 and "no dataset named 'DIS-XX'" in bad_dataset.output
    folder = runner.invoke(app, ["scan", str(tmp_path / "ds"), "--manifest", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.output
    blocked = tmp_path / "file"
    blocked.write_text("x")
    unwritable = runner.invoke(app, ["scan", str(tmp_path / "ds"), "--manifest", str(blocked / "m.parquet")])
    assert unwritable.exit_code == 2 and "cannot write manifest" in unwritable.output


def test_module_entry_point_and_no_traceback(tmp_path):
    proc = run_module("scan", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "root not found" in proc.stderr
    proc = run_module("rules", "DA403")
    assert proc.returncode == 0 and "size-mismatch" in proc.stdout


def test_scan_does_not_import_torch(example_tree):
    code = (
        "import sys, dis_audit; r = dis_audit.scan(sys.argv[1], workers=1); "
        "assert 'torch' not in sys.modules, 'torch imported'; print(r.table.num_rows)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code, str(example_tree)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "66"


def test_incremental_reuses_unchanged_rows(example_tree):
    first = runner.invoke(app, ["scan", str(example_tree), "--json"])
    assert first.exit_code == 1
    again = json.loads(runner.invoke(app, ["scan", str(example_tree), "--json", "--incremental"]).stdout)
    # Rows without issues are reused; rows with issues are re-read so their findings are complete.
    # The header scan also sees the two files cut short (DA308, DA309), so 53 rows are clean.
    assert again["summary"]["reused_rows"] == 53
    assert again["summary"]["probed_samples"] == 66 - 53
    assert again["summary"]["by_rule"] == json.loads(first.stdout)["summary"]["by_rule"]
    touched = example_tree / "DIS-VD/gt/1#Accessories#1#Bag#51515151_abcdef0123_o.png"
    touched.write_bytes(touched.read_bytes()[:20])
    third = json.loads(runner.invoke(app, ["scan", str(example_tree), "--json", "--incremental"]).stdout)
    assert third["summary"]["reused_rows"] == 52
    assert third["summary"]["by_rule"]["DA401"] == 1
    table = pq.read_table(example_tree / "manifest.parquet")
    assert table.num_rows == 66
    paths = table.column("image_path").to_pylist()
    assert paths == sorted(paths)


def test_incremental_with_changed_vocabulary_reuses_headers(example_tree):
    runner.invoke(app, ["scan", str(example_tree)])
    again = json.loads(runner.invoke(app, ["scan", str(example_tree), "--json", "--incremental", "--extend-vocab"]).stdout)
    assert again["summary"]["reused_rows"] == 0
    assert again["summary"]["probed_samples"] == 13  # only rows with issues are re-read
    assert again["summary"]["extended_classes"] == ["Snake"]


def test_terminal_report_shows_datasets_classes_and_rules(example_tree):
    result = runner.invoke(app, ["scan", str(example_tree), "--no-manifest"], env={"COLUMNS": "200"})
    out = result.output
    for text in ("DIS-TR", "DIS-VD", "DIS-TE1", "most samples", "not in the vocabulary", "airplane 1 (→ Airplane?)",
                 "DA103 unknown-class (error) × 2", "DA404 mask-not-grayscale (warning) × 1", "66 samples, 58 labelled"):
        assert text in out, text


def test_progress_callback_reports_every_stage(tmp_path):
    from dis_audit import scan

    for i in range(5):
        make_pair(tmp_path, "DIS-TR", f"1#Accessories#1#Bag#{i}_o")
    seen: list[tuple[str, int, int]] = []
    scan(tmp_path, workers=1, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert ("list", 1, 1) in seen
    assert seen[-1] == ("probe", 5, 5)


def test_no_progress_bar_when_stderr_is_not_a_tty(example_tree):
    proc = run_module("scan", str(example_tree), "--no-manifest")
    assert proc.returncode == 1
    assert proc.stderr == ""


def test_difficulty_map_forms(tmp_path):
    from dis_audit.scan import ScanError, parse_difficulty_map

    assert parse_difficulty_map("DIS-TE1=easy, DIS-TE4 = hard") == {"DIS-TE1": "easy", "DIS-TE4": "hard"}
    path = tmp_path / "difficulty.csv"
    path.write_text("# dataset,difficulty\nDIS-TE1,easy\nDIS-TE4=hard\n")
    assert parse_difficulty_map(str(path)) == {"DIS-TE1": "easy", "DIS-TE4": "hard"}
    import pytest

    with pytest.raises(ScanError, match="not DATASET=DIFFICULTY"):
        parse_difficulty_map("DIS-TE1")
    make_pair(tmp_path / "ds", "DIS-TE1", GOOD)
    bad = runner.invoke(app, ["scan", str(tmp_path / "ds"), "--difficulty-map", "oops"])
    assert bad.exit_code == 2 and "not DATASET=DIFFICULTY" in bad.output


def test_terminal_report_shows_the_deep_summary(example_tree):
    result = runner.invoke(app, ["scan", str(example_tree), "--deep", "--no-manifest", "--workers", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "masks (deep scan): binary" in result.output
    assert "duplicate groups: 4 (8 samples in them)" in result.output


def test_version_completion_and_an_example_in_every_help():
    from dis_audit import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"dis-audit {__version__}"
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in top.output and "--show-completion" in top.output
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"scan", "report", "merge", "rules", "rename", "relabel", "config"} <= set(commands)
    for name in commands:
        res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0 and f"Example: dis-audit {name}" in res.output, name
    res = runner.invoke(app, ["scan", "--help"], env={"COLUMNS": "200"})
    assert "[tool.dis-audit] in pyproject.toml" in res.output  # not eaten as markup


def test_rules_by_name(example_tree):
    res = runner.invoke(app, ["rules", "size-mismatch"])
    assert res.exit_code == 0 and res.output.startswith("DA403 size-mismatch")
    res = runner.invoke(app, ["rules", "size-mismach"])
    assert res.exit_code == 2 and "did you mean 'size-mismatch'" in res.output
    by_name = runner.invoke(app, ["scan", str(example_tree), "--json", "--no-manifest", "--ignore", "size-mismatch,DA1"])
    by_code = runner.invoke(app, ["scan", str(example_tree), "--json", "--no-manifest", "--ignore", "DA403,DA1"])
    assert json.loads(by_name.stdout)["findings"] == json.loads(by_code.stdout)["findings"]
    assert "DA403" not in {f["code"] for f in json.loads(by_name.stdout)["findings"]}


def test_report_with_a_missing_root_exits_2(example_tree, tmp_path):
    runner.invoke(app, ["scan", str(example_tree)])
    res = runner.invoke(app, ["report", str(example_tree / "manifest.parquet"), "--html", str(tmp_path / "r.html"),
                              "--root", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is not a folder" in res.output and not (tmp_path / "r.html").exists()
