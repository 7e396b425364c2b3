"""Loader profiles: chosen by layout or by --loader, recorded in the manifest, and what they change."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.loaders import BIREFNET, BIREFNET_FORK, DIS_AUDIT, LoaderError, choose_profile, get_profile
from dis_audit.scan import ScanError, scan
from dis_audit.testing import make_pair

GOOD = "1#Accessories#1#Bag#26345192014_f722d1ef0b_o"
runner = CliRunner()


def test_auto_picks_the_fork_for_jpgs_masks_and_birefnet_otherwise():
    assert choose_profile(None, ["DIS-TR/jpgs", "easy/JPGS"]) is BIREFNET_FORK
    assert choose_profile("auto", ["DIS-TR/im", "easy/jpgs"]) is BIREFNET
    assert choose_profile("auto", ["x/images"]) is BIREFNET
    assert choose_profile("dis-audit", ["x/jpgs"]) is DIS_AUDIT
    with pytest.raises(LoaderError, match="choose one of: auto, birefnet, birefnet-fork, dis-audit"):
        get_profile("mydata")


def test_loader_recorded_and_changes_labels(tmp_path):
    make_pair(tmp_path, "easy", GOOD, image_dir="jpgs", mask_dir="masks")
    make_pair(tmp_path, "easy", "1#Accessories#1#Bag#2_o", image_ext=".jpeg", image_dir="jpgs", mask_dir="masks")
    result = scan(tmp_path, workers=1)
    assert result.options.loader == "birefnet-fork"
    assert sorted(result.table.column("class_id").to_pylist()) == [-1, 6]  # the fork skips .jpeg: DA203
    result.write_manifest()
    meta = json.loads(pq.read_schema(tmp_path / "manifest.parquet").metadata[b"dis_audit"])
    assert meta["options"]["loader"] == "birefnet-fork"
    own = scan(tmp_path, workers=1, loader="dis-audit")
    assert own.table.column("class_id").to_pylist() == [6, 6] and own.findings == []


def test_cli_loader_flag_and_bad_name(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    ok = runner.invoke(app, ["scan", str(tmp_path), "--loader", "dis-audit", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(pq.read_schema(tmp_path / "manifest.parquet").metadata[b"dis_audit"])["options"]["loader"] == "dis-audit"
    bad = runner.invoke(app, ["scan", str(tmp_path), "--loader", "mydata"])
    assert bad.exit_code == 2 and "unknown loader 'mydata'" in bad.output
    assert "Traceback" not in bad.output
    with pytest.raises(ScanError, match="unknown loader"):
        scan(tmp_path, loader="mydata")


def test_changing_the_loader_re_evaluates_an_incremental_scan(tmp_path):
    make_pair(tmp_path, "DIS-TR", "sub/" + GOOD)
    first = runner.invoke(app, ["scan", str(tmp_path), "--json"])
    assert json.loads(first.stdout)["summary"]["by_rule"] == {"DA207": 1}
    again = runner.invoke(app, ["scan", str(tmp_path), "--json", "--incremental", "--loader", "dis-audit"])
    assert json.loads(again.stdout)["summary"]["by_rule"] == {}
    assert pq.read_table(tmp_path / "manifest.parquet").column("class_id").to_pylist() == [6]


def test_configuration_file_sets_the_loader_and_the_flag_wins(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    (tmp_path / "dis-audit.toml").write_text('loader = "dis-audit"\n', encoding="utf-8")

    def recorded() -> str:
        return json.loads(pq.read_schema(tmp_path / "manifest.parquet").metadata[b"dis_audit"])["options"]["loader"]

    assert runner.invoke(app, ["scan", str(tmp_path), "--json"]).exit_code == 0
    assert recorded() == "dis-audit"
    assert runner.invoke(app, ["scan", str(tmp_path), "--json", "--loader", "birefnet"]).exit_code == 0
    assert recorded() == "birefnet"
