"""Rows whose image cannot be used: left out by default, decode failures (bombs too) skipped, README example runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

import dis_audit
from dis_audit.torch import ManifestDataset, SampleReadError

REPO = Path(__file__).resolve().parents[2]


def _bomb_tree(tmp_path: Path) -> Path:
    """A tiny dataset with two good pairs and one 40000×40000 PNG (a few KB on disk)."""
    root = tmp_path / "data" / "DIS-TR"
    (root / "im").mkdir(parents=True)
    (root / "gt").mkdir()
    for k, cls in enumerate(("Bag", "Kite")):
        name = f"1#Accessories#{k}#{cls}#{k}"
        Image.new("RGB", (32, 24), (k * 80, 20, 20)).save(root / "im" / f"{name}.jpg")
        Image.new("L", (32, 24), 255).save(root / "gt" / f"{name}.png")
    name = "1#Accessories#9#Bag#bomb"
    Image.new("1", (40000, 40000)).save(root / "im" / f"{name}.png")
    Image.new("L", (32, 24), 255).save(root / "gt" / f"{name}.png")
    return tmp_path / "data"


def test_bomb_row_left_out_by_default_and_kept_on_request(tmp_path):
    root = _bomb_tree(tmp_path)
    result = dis_audit.scan(root, workers=1)
    with pytest.warns(UserWarning, match="cannot be decoded and are left out.*keep_unusable=True"):
        ds = ManifestDataset(result.table, root=root, size=16)
    assert len(ds) == 2 and ds.dropped_unusable == 1
    assert all("bomb" not in ds.image_path(i).name for i in range(len(ds)))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no left-out warning when kept
        kept = ManifestDataset(result.table, root=root, size=16, keep_unusable=True, on_error="skip")
    assert len(kept) == 3 and kept.dropped_unusable == 0
    bomb = next(i for i in range(3) if "bomb" in kept.image_path(i).name)
    with pytest.warns(UserWarning, match="skipping unreadable sample"):
        image, _mask, _ = kept[bomb]  # the next readable sample instead, no DecompressionBombError
    assert image.shape == (3, 16, 16) and kept.skipped == 1

    strict = ManifestDataset(result.table, root=root, size=16, keep_unusable=True)
    with pytest.raises(SampleReadError, match="bomb"):
        strict[bomb]


def test_deep_findings_mark_rows_unusable(tmp_path):
    root = _bomb_tree(tmp_path)
    bad = root / "DIS-TR" / "im" / "1#Accessories#1#Kite#1.jpg"
    bad.write_bytes(bad.read_bytes()[:-60])  # truncated pixel data: --deep reports DA306
    result = dis_audit.scan(root, workers=1, deep=True)
    with pytest.warns(UserWarning, match="2 manifest rows"):
        ds = ManifestDataset(result.table, root=root, size=16)
    assert len(ds) == 1 and "Bag#0" in ds.image_path(0).name


@pytest.mark.slow
def test_readme_example_runs_on_bundled_data(tmp_path):
    """The README's commands, verbatim, on a copy of examples/dis-mini (the checkout stays clean)."""
    shutil.copytree(REPO / "examples" / "dis-mini", tmp_path / "examples" / "dis-mini")
    shutil.copytree(REPO / "examples", tmp_path / "examples", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("dis-mini"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    scan = subprocess.run([sys.executable, "-m", "dis_audit", "scan", "examples/dis-mini"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert scan.returncode == 1, scan.stderr  # the example has planted errors
    assert (tmp_path / "examples" / "dis-mini" / "manifest.parquet").is_file()
    train = subprocess.run(
        [sys.executable, "examples/train_classes.py", "--manifest", "examples/dis-mini/manifest.parquet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env,
    )
    assert train.returncode == 0, train.stdout + train.stderr
    assert "Traceback" not in train.stderr
    assert "DecompressionBombError" not in train.stderr + train.stdout
    assert "epoch 2 (HardExampleSampler)" in train.stdout
