"""benchmarks/class_learning.py: the metric code on hand-made masks, and a --quick run end to end."""

from __future__ import annotations

import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))  # benchmark scripts are not a package

import class_learning as cl  # noqa: E402


def _square(size: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    m = torch.zeros(size, size, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


def test_iou_of_known_masks():
    target = _square(8, 0, 4, 0, 4)  # 16 pixels
    half = _square(8, 0, 4, 2, 6)  # 16 pixels, 8 shared -> 8 / 24
    pred = torch.stack([target, half, torch.zeros(8, 8, dtype=torch.bool), torch.zeros(8, 8, dtype=torch.bool)])
    gt = torch.stack([target, target, target, torch.zeros(8, 8, dtype=torch.bool)])
    iou = cl.iou_per_image(pred, gt).tolist()
    assert iou == pytest.approx([1.0, 1 / 3, 0.0, 1.0])  # both empty counts as perfect
    # Pooled over images: intersections 16 + 8 + 0, unions 16 + 24 + 16.
    assert cl.pooled_iou(pred, gt) == pytest.approx(24 / 56)


def test_per_class_and_summary_metrics():
    class_iou = cl.per_class_mean([1.0, 0.5, 0.2, 0.4, 0.9], [0, 0, 1, 1, 3], 4)
    assert class_iou[:2].tolist() == pytest.approx([0.75, 0.3]) and math.isnan(class_iou[2]) and class_iou[3] == 0.9
    ious = np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2])
    counts = [100, 3, 50, 3, 10, 20, 5]
    m = cl.summary_metrics(ious, counts, k=3)
    assert m["mean_iou"] == pytest.approx(ious.mean())
    assert m["rarest5_iou"] == pytest.approx((0.1 + 0.7 + 0.2) / 3)  # classes with 3, 3, 5 images
    assert m["worst5_iou"] == pytest.approx((0.1 + 0.2 + 0.3) / 3)


def _run(cond: str, seed: int, mean_iou: float) -> cl.RunResult:
    return cl.RunResult(cond, seed, [mean_iou] * 3, mean_iou, mean_iou, mean_iou, mean_iou, 0.5, 10.0 + seed, 48)


def test_aggregate_and_paired_differences():
    runs = [_run("a", 0, 0.5), _run("a", 1, 0.7), _run("b", 0, 0.6), _run("b", 1, 0.9)]
    agg = cl.aggregate(runs)
    assert agg["a"]["mean_iou"] == pytest.approx((0.6, np.std([0.5, 0.7], ddof=1)))
    assert agg["b"]["wall_s"][0] == pytest.approx(10.5)
    diffs = cl.paired_differences(runs, "a")
    assert diffs["b"] == pytest.approx((0.15, np.std([0.1, 0.2], ddof=1)))
    table = cl.markdown_table(runs)
    assert "0.600 ± 0.141" in table and table.count("\n") == 4


def test_changed_class_loss_settings_show_in_the_labels():
    assert cl.condition_labels({}) == cl.CONDITIONS
    labels = cl.condition_labels({"weight_scheme": "sqrt", "aux_weight": 0.1})
    assert "sqrt-weighted CE" in labels["c"] and labels["c"].endswith("[aux weight 0.1]")
    assert labels["a"] == cl.CONDITIONS["a"] and "[aux weight 0.1]" in labels["b"]


def test_step_count_matches_the_batches_every_condition_yields():
    cfg = cl.Config(samples=100, batch_size=16)
    labels = np.repeat(np.arange(4), [20, 10, 5, 2])
    split = cl.Split(torch.zeros(37, 3, 4, 4, dtype=torch.uint8), torch.zeros(37, 1, 4, 4, dtype=torch.uint8),
                     labels, np.array(["easy", "medium", "hard"] * 12 + ["easy"]))
    for cond in cl.CONDITIONS:
        hard = cl.hard_example_sampler(labels, cfg, seed=0) if cond == "d" else None
        got = list(cl.batches(cond, split, cfg, seed=0, hard=hard))
        assert len(got) == cl.count_steps(cond, 37, cfg), cond
        assert sum(len(b) for _, b in got) == 100, cond  # the same budget for every condition
        epochs = [e for e, _ in got]
        # 100 samples of 37 are epochs 0..2; (e) draws whole batches only, 32 per epoch: 0..3.
        assert epochs == sorted(epochs) and epochs[-1] == (3 if cond == "e" else 2), cond


def test_quick_run_writes_the_table_plot_and_logs(tmp_path):
    out = tmp_path / "out"
    assert cl.main(["--quick", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert len(report["runs"]) == 2 * len(cl.DEFAULT_CONDITIONS) and report["complete"] is True
    assert {r["samples_seen"] for r in report["runs"]} == {cl.QUICK["samples"]}
    for run in report["runs"]:
        assert len(run["class_iou"]) == 20 and all(0 <= v <= 1 for v in run["class_iou"])
        assert 0 <= run["mean_iou"] <= 1 and 0 <= run["aux_accuracy"] <= 1
        assert any(k.startswith("loss_seg/") for k in run["epoch_log"][0])
        assert any(k.startswith("loss_cls/") for k in run["epoch_log"][0])
        assert set(run["difficulty_iou"]) <= {"easy", "medium", "hard"} and run["difficulty_iou"]
    header = (out / "table.md").read_text().splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == list(cl.TABLE_COLUMNS)
    svg = ET.parse(out / "per_class_iou.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) == 5
    assert set(report["paired"]) == {f"{k}_vs_{b}" for k in ("mean_iou", "rarest5_iou", "worst5_iou") for b in "ab"}
    assert set(report["paired"]["worst5_iou_vs_a"]) == set(cl.DEFAULT_CONDITIONS)
    # A second run reuses the generated data (same parameters) instead of regenerating it, and
    # reproduces the first run's numbers for the same condition and seed.
    stamp = (out / "data" / "params.json").stat().st_mtime_ns
    assert cl.main(["--quick", "--out", str(out), "--seeds", "0", "--conditions", "c"]) == 0
    assert (out / "data" / "params.json").stat().st_mtime_ns == stamp
    again = json.loads((out / "results.json").read_text())["runs"]
    first = next(r for r in report["runs"] if r["condition"] == "c" and r["seed"] == 0)
    assert len(again) == 1 and again[0]["class_iou"] == first["class_iou"]


@pytest.mark.parametrize("flag", ["--samples", "--threads"])
def test_non_positive_counts_are_refused_by_the_command_line(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        cl.main(["--quick", flag, "0"])
    assert exc.value.code == 2 and "must be at least 1" in capsys.readouterr().err
