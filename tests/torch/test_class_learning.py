"""experiments/class_learning: its own metrics and tables, the step budget, and a --quick run end to end.

Per-image IoU and per-class means are dis_audit.torch's public functions (tests/torch/test_metrics.py).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from experiments.class_learning.config import CONDITIONS, DEFAULT_CONDITIONS, QUICK, Config, RunResult
from experiments.class_learning.metrics import aggregate, paired_differences, pooled_iou, summary_metrics
from experiments.class_learning.report import TABLE_COLUMNS, condition_labels, markdown_table
from experiments.class_learning.run import main
from experiments.class_learning.train import Split, batches, count_steps, hard_example_sampler


def _square(size: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    m = torch.zeros(size, size, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


def test_pooled_iou_counts_all_pixels_of_all_images_together():
    target = _square(8, 0, 4, 0, 4)  # 16 pixels
    half = _square(8, 0, 4, 2, 6)  # 16 pixels, 8 shared -> 8 / 24
    empty = torch.zeros(8, 8, dtype=torch.bool)
    pred = torch.stack([target, half, empty, empty])
    gt = torch.stack([target, target, target, empty])
    # Intersections 16 + 8 + 0, unions 16 + 24 + 16.
    assert pooled_iou(pred, gt) == pytest.approx(24 / 56)
    assert pooled_iou(torch.stack([empty]), torch.stack([empty])) == 1.0


def test_summary_metrics_use_the_rarest_and_worst_classes():
    ious = np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2])
    counts = [100, 3, 50, 3, 10, 20, 5]
    m = summary_metrics(ious, counts, k=3)
    assert m["mean_iou"] == pytest.approx(ious.mean())
    assert m["rarest5_iou"] == pytest.approx((0.1 + 0.7 + 0.2) / 3)  # classes with 3, 3, 5 images
    assert m["worst5_iou"] == pytest.approx((0.1 + 0.2 + 0.3) / 3)
    with_missing = summary_metrics(np.array([np.nan, 0.4, 0.6]), [1, 2, 3], k=2)
    assert with_missing["mean_iou"] == pytest.approx(0.5)  # a class without test images is left out
    assert with_missing["rarest5_iou"] == pytest.approx(0.4)
    assert with_missing["worst5_iou"] == pytest.approx(0.5)


def _run(cond: str, seed: int, mean_iou: float) -> RunResult:
    return RunResult(cond, seed, [mean_iou] * 3, mean_iou, mean_iou, mean_iou, mean_iou, 0.5, 10.0 + seed, 48)


def test_aggregate_and_paired_differences():
    runs = [_run("a", 0, 0.5), _run("a", 1, 0.7), _run("b", 0, 0.6), _run("b", 1, 0.9)]
    agg = aggregate(runs)
    assert agg["a"]["mean_iou"] == pytest.approx((0.6, np.std([0.5, 0.7], ddof=1)))
    assert agg["b"]["wall_s"][0] == pytest.approx(10.5)
    diffs = paired_differences(runs, "a")
    assert diffs["b"] == pytest.approx((0.15, np.std([0.1, 0.2], ddof=1)))
    table = markdown_table(runs)
    assert "0.600 ± 0.141" in table and table.count("\n") == 4


def test_changed_class_loss_settings_show_in_the_labels():
    assert condition_labels({}) == CONDITIONS
    labels = condition_labels({"weight_scheme": "sqrt", "aux_weight": 0.1})
    assert "sqrt-weighted CE" in labels["c"] and labels["c"].endswith("[aux weight 0.1]")
    assert labels["a"] == CONDITIONS["a"] and "[aux weight 0.1]" in labels["b"]


def test_step_count_matches_the_batches_every_condition_yields():
    cfg = Config(samples=100, batch_size=16)
    labels = np.repeat(np.arange(4), [20, 10, 5, 2])
    split = Split(torch.zeros(37, 3, 4, 4, dtype=torch.uint8), torch.zeros(37, 1, 4, 4, dtype=torch.uint8),
                     labels, np.array(["easy", "medium", "hard"] * 12 + ["easy"]))
    for cond in CONDITIONS:
        hard = hard_example_sampler(labels, cfg, seed=0) if cond in ("d", "i") else None
        got = list(batches(cond, split, cfg, seed=0, hard=hard))
        assert len(got) == count_steps(cond, 37, cfg), cond
        assert sum(len(b) for _, b in got) == 100, cond  # the same budget for every condition
        epochs = [e for e, _ in got]
        # 100 samples of 37 are epochs 0..2; (e) draws whole batches only, 32 per epoch: 0..3.
        assert epochs == sorted(epochs) and epochs[-1] == (3 if cond == "e" else 2), cond


# Minutes on a loaded 2-core machine: `python -m pytest -m "not slow"` skips it locally; CI runs it.
@pytest.mark.slow
def test_quick_run_writes_the_table_plot_and_logs(tmp_path):
    out = tmp_path / "out"
    assert main(["--quick", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert len(report["runs"]) == 2 * len(DEFAULT_CONDITIONS) and report["complete"] is True
    assert {r["samples_seen"] for r in report["runs"]} == {QUICK["samples"]}
    for run in report["runs"]:
        assert len(run["class_iou"]) == 20 and all(0 <= v <= 1 for v in run["class_iou"])
        assert 0 <= run["mean_iou"] <= 1 and 0 <= run["aux_accuracy"] <= 1
        assert any(k.startswith("loss_seg/") for k in run["epoch_log"][0])
        assert any(k.startswith("loss_cls/") for k in run["epoch_log"][0])
        assert set(run["difficulty_iou"]) <= {"easy", "medium", "hard"} and run["difficulty_iou"]
    header = (out / "table.md").read_text().splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == list(TABLE_COLUMNS)
    svg = ET.parse(out / "per_class_iou.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) == 5
    summaries = ("mean_iou", "rarest5_iou", "worst5_iou")
    assert set(report["paired"]) == {f"{k}_vs_{b}" for k in summaries for b in "ab"}
    assert set(report["paired"]["worst5_iou_vs_a"]) == set(DEFAULT_CONDITIONS)
    # A second run reuses the generated data (same parameters) instead of regenerating it, and
    # reproduces the first run's numbers for the same condition and seed.
    stamp = (out / "data" / "params.json").stat().st_mtime_ns
    assert main(["--quick", "--out", str(out), "--seeds", "0", "--conditions", "c"]) == 0
    assert (out / "data" / "params.json").stat().st_mtime_ns == stamp
    again = json.loads((out / "results.json").read_text())["runs"]
    first = next(r for r in report["runs"] if r["condition"] == "c" and r["seed"] == 0)
    assert len(again) == 1 and again[0]["class_iou"] == first["class_iou"]


@pytest.mark.parametrize("flag", ["--samples", "--threads"])
def test_non_positive_counts_are_refused_by_the_command_line(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--quick", flag, "0"])
    assert exc.value.code == 2 and "must be at least 1" in capsys.readouterr().err
