"""The new user's workflow of issue 15, end to end, from one configuration file and no repeated flag.

find (scan) -> fix from a CSV keyed by file names (rename plan, reviewed, applied) -> manifest with
difficulty = folder -> ManifestDataset + ClassBalancedSampler with 2 DataLoader workers -> per-class
loss table. Every command gets only the dataset root (and the plan file): classes, the class
source, the evaluation datasets and the rule selection come from ``mydata/dis-audit.toml``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.manifest import read_manifest_meta, read_manifest_table
from dis_audit.testing import make_pair
from dis_audit.torch import ClassBalancedSampler, ManifestDataset, PerClassLossTracker

runner = CliRunner()
DIFFICULTIES = ("easy", "medium", "hard")
#: Classes of the plain-named half: three DIS5K classes and one new to DIS5K.
MAPPED = ("Bag", "Kite", "Seahorse", "Quadcopter")


def _make_tree(base: Path) -> Path:
    """``mydata/1024px/{easy,medium,hard}/{jpgs,masks}``: half plain ``IMG_1234.jpg`` names, half ``#`` names."""
    root = base / "mydata"
    rows = []
    n = 0
    for difficulty in DIFFICULTIES:
        for i in range(4):
            stem = f"IMG_{1234 + n}"
            make_pair(root / "1024px", difficulty, stem, image_dir="jpgs", mask_dir="masks", size=(24, 16))
            rows.append((f"{stem}.jpg", MAPPED[n % len(MAPPED)]))
            n += 1
            make_pair(root / "1024px", difficulty, f"1#Accessories#6#Bag#{difficulty}{i}", image_dir="jpgs",
                      mask_dir="masks", size=(24, 16))
    rows.append(("IMG_9999.jpg", "Kite"))  # a key that matches no file: listed, not fatal
    with open(root / "classes.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "class"])
        writer.writerows(rows)
    (root / "dis-audit.toml").write_text(
        'extend-vocab = true\n'
        'class-from = ["map:classes.csv"]\n'
        'eval-datasets = ["hard"]\n'
        'loader = "birefnet"\n'
        'ignore = ["nested-sample"]\n'
        "workers = 1\n",
        encoding="utf-8",
    )
    return root


def test_workflow_from_a_config_file(tmp_path, monkeypatch):
    root = _make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)  # relative paths in the file resolve against the file, not the cwd

    # find: the plain names carry no class
    found = runner.invoke(app, ["scan", "mydata", "--json"])
    assert found.exit_code == 1, found.output
    codes = {f["code"] for f in json.loads(found.stdout)["findings"]}
    assert codes == {"DA101"}

    # fix: plan from the CSV keyed by file names (the config names it), review it, apply it
    planned = runner.invoke(app, ["rename", "mydata", "--plan-out", "plan.csv", "--json"])
    assert planned.exit_code == 0, planned.output
    summary = json.loads(planned.stdout)["summary"]
    assert summary["pairs_to_rename"] == 12 and summary["extended_classes"] == ["Quadcopter"]
    assert summary["unmatched_map_keys"][f"map:{root / 'classes.csv'}"] == {"count": 1, "keys": ["IMG_9999.jpg"]}
    applied = runner.invoke(app, ["rename", "mydata", "--plan", "plan.csv", "--apply"])
    assert applied.exit_code == 0, applied.output

    # manifest: clean, difficulty = folder, the configuration recorded
    final = runner.invoke(app, ["scan", "mydata", "--json"])
    assert final.exit_code == 0, final.output
    table, meta = read_manifest_table(root / "manifest.parquet")
    assert meta.vocabulary[-1] == "Quadcopter" and len(meta.vocabulary) == 220
    assert set(table.column("difficulty").to_pylist()) == set(DIFFICULTIES)
    assert min(table.column("class_id").to_pylist()) >= 0
    recorded = read_manifest_meta(root / "manifest.parquet").options.config
    assert recorded is not None and recorded["file"] == str(root / "dis-audit.toml")
    assert recorded["settings"]["loader"] == "birefnet" and recorded["settings"]["eval-datasets"] == ["hard"]

    # train: balanced sampling with two worker processes, losses tracked per class and difficulty
    ds = ManifestDataset(root / "manifest.parquet", size=16, return_info=True)
    assert len(ds) == 24
    sampler = ClassBalancedSampler(ds.labels, power=1.0, num_samples=48, seed=0)
    loader = DataLoader(ds, batch_size=8, sampler=sampler, num_workers=2)
    tracker = PerClassLossTracker(ds.vocabulary, ignore_index=ds.ignore_index)
    torch.manual_seed(0)
    head = torch.nn.Conv2d(3, 1, 3, padding=1)
    seen = 0
    for images, masks, class_ids, info in loader:
        per_sample = F.binary_cross_entropy_with_logits(head(images), masks, reduction="none").mean((1, 2, 3))
        tracker.update(per_sample.detach(), class_ids, difficulty=info["difficulty"], loss="seg")
        seen += len(images)
    assert seen == 48
    losses = tracker.compute()
    per_class = {k.split("/", 1)[1] for k in losses if k.startswith("loss_seg/")}
    assert per_class == {"Bag", "Kite", "Seahorse", "Quadcopter"}
    per_difficulty = {k.split("/", 1)[1] for k in losses if k.startswith("loss_seg_difficulty/")}
    assert per_difficulty == set(DIFFICULTIES)
