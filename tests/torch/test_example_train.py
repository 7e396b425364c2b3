"""examples/train_classes.py runs end to end (short mode) on a small manifest built here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from da_torch_helpers import Sample, samples_from_names, write_tree

REPO = Path(__file__).resolve().parents[2]


def test_train_classes_short(tmp_path, vocabulary, dis5k_names):
    tr = [n for n in dis5k_names if n[0] == "DIS-TR"]
    picked = tr[:6] + tr[-6:]  # two classes at either end of the list, imbalanced
    difficulty = {0: "easy", 1: "hard"}
    samples = samples_from_names(picked, vocabulary, width=64, height=48)
    for k, s in enumerate(samples):
        s.difficulty = difficulty[k % 2]
    samples.append(Sample("DIS-TR", "hard", "1#Accessories#Bag.jpg", None, -1, width=64, height=48))
    manifest = write_tree(tmp_path / "data", samples, vocabulary, manifest=tmp_path / "m" / "manifest.parquet")
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "train_classes.py"), "--manifest", str(manifest),
         "--root", str(tmp_path / "data"), "--epochs", "2", "--short"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "13 samples" in out and "1 unlabeled" in out
    assert "epoch 0 (ClassBalancedSampler)" in out and "epoch 1 (HardExampleSampler)" in out
    assert "worst classes by mean loss_seg" in out
    assert any(s.class_name in out for s in samples if s.class_name)
    assert "easy" in out and "hard" in out


def test_train_classes_bad_manifest(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "train_classes.py"), "--manifest", str(tmp_path / "x.parquet")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "manifest not found" in proc.stdout and "x.parquet" in proc.stdout
    assert "Traceback" not in proc.stderr
