"""experiments/class_learning round 2: the new losses and samplers do what they claim, tiny runs train.

The conditions are (g) class-weighted pixel loss, (h) class-balanced sampling, (i) hard-example
mining, (j) deferred re-balancing (all with the pixel loss only) and (k) logit-adjusted aux CE.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dis_audit.torch import class_weights
from experiments.class_learning import data
from experiments.class_learning.config import PIXEL_ONLY, PIXEL_WEIGHT_SCHEMES, Config, RunResult
from experiments.class_learning.gpu import GPU_CONDITIONS
from experiments.class_learning.gpu import main as gpu_main
from experiments.class_learning.model import logit_adjusted_ce, weighted_pixel_loss
from experiments.class_learning.run import run_key, saved_run
from experiments.class_learning.train import (
    Split,
    batches,
    deferred_start,
    hard_example_sampler,
    normalize,
    train_and_evaluate,
)


def test_class_weighted_pixel_loss_is_the_weighted_mean_of_the_per_sample_losses():
    pix = torch.tensor([0.2, 0.8, 0.5, 1.0])
    labels = torch.tensor([0, 1, 1, 2])
    weight = torch.tensor([3.0, 1.0, 0.5])
    # Hand-computed: (3*0.2 + 1*0.8 + 1*0.5 + 0.5*1.0) / (3 + 1 + 1 + 0.5) = 2.4 / 5.5
    assert float(weighted_pixel_loss(pix, labels, weight)) == pytest.approx(2.4 / 5.5)
    # Uniform weights give the plain mean, whatever their scale.
    assert float(weighted_pixel_loss(pix, labels, torch.full((3,), 7.0))) == pytest.approx(float(pix.mean()))


def test_the_pixel_weight_schemes_favour_rare_classes_as_class_weights_says():
    counts = [150, 10, 3]
    for scheme in PIXEL_WEIGHT_SCHEMES.values():
        w = class_weights(counts, scheme)
        assert w[2] > w[1] > w[0]
    assert PIXEL_WEIGHT_SCHEMES == {"g": "sqrt", "g-inv": "inverse"}


def test_logit_adjusted_ce_shifts_the_logits_by_the_log_prior():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    labels = torch.tensor([2, 0])
    prior = torch.tensor([0.7, 0.2, 0.1])
    expected = F.cross_entropy(logits + torch.log(prior), labels, reduction="none")
    assert torch.allclose(logit_adjusted_ce(logits, labels, prior), expected)
    # A uniform prior shifts every logit equally: plain cross-entropy.
    flat = logit_adjusted_ce(logits, labels, torch.full((3,), 1 / 3))
    assert torch.allclose(flat, F.cross_entropy(logits, labels, reduction="none"))
    # The rare class's loss rises (its prior shift is the most negative), so training pushes it up more.
    assert logit_adjusted_ce(logits, labels, prior)[0] > F.cross_entropy(logits[:1], labels[:1])


def _split(labels: np.ndarray, size: int = 16, seed: int = 0) -> Split:
    g = torch.Generator().manual_seed(seed)
    n = len(labels)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    masks = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    masks[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    diffs = np.array([("easy", "medium", "hard")[i % 3] for i in range(n)])
    return Split(images, masks, labels, diffs)


def _class_share(order: list[np.ndarray], labels: np.ndarray, cls: int) -> float:
    idx = np.concatenate(order)
    return float((labels[idx] == cls).mean())


def test_balanced_and_deferred_sampling_draw_what_they_claim():
    labels = np.repeat([0, 1], [90, 10])  # 10 % rare class
    split = _split(labels, size=4)
    cfg = Config(samples=2000, batch_size=10)  # 20 rounds of 100
    # (h): ClassBalancedSampler(power=0.5): class mass ∝ count ** 0.5 -> 10**0.5 / (90**0.5 + 10**0.5) = 0.25.
    h = [b for _, b in batches("h", split, cfg, seed=0, hard=None)]
    assert _class_share(h, labels, 1) == pytest.approx(0.25, abs=0.04)
    # (j): natural permutations until the last quarter of the budget, then equal mass per class.
    start = deferred_start(cfg, len(labels))
    assert start == 15
    rounds: dict[int, list[np.ndarray]] = {}
    for epoch, b in batches("j", split, cfg, seed=0, hard=None):
        rounds.setdefault(epoch, []).append(b)
    for r in range(start):
        assert sorted(np.concatenate(rounds[r]).tolist()) == list(range(100)), r  # each sample once
    assert _class_share([np.concatenate(rounds[r]) for r in range(start, 20)], labels, 1) == pytest.approx(
        0.5, abs=0.06
    )
    # (g) samples naturally, exactly like (a).
    a = [b.tolist() for _, b in batches("a", split, cfg, seed=3, hard=None)]
    assert [b.tolist() for _, b in batches("g", split, cfg, seed=3, hard=None)] == a


def _tiny_run(cond: str, cfg: Config, train: Split, test: Split):
    names = [f"c{i}" for i in range(3)]
    counts = np.bincount(train.labels, minlength=3).tolist()
    return train_and_evaluate(cond, 0, train, test, normalize(test.images), names, counts, cfg)


@pytest.fixture(scope="module")
def tiny():
    train = _split(np.repeat([0, 1, 2], [12, 4, 2]), seed=1)
    test = _split(np.repeat([0, 1, 2], 2), seed=2)
    return Config(samples=36, batch_size=6, train_size=16, image_size=16, width=2, threads=1), train, test


@pytest.mark.parametrize("cond", ["g", "g-inv", "h", "i", "j", "k"])
def test_every_new_condition_trains_a_tiny_config(cond, tiny):
    cfg, train, test = tiny
    r = _tiny_run(cond, cfg, train, test)
    assert r.samples_seen == 36 and r.condition == cond
    assert len(r.class_iou) == 3 and 0 <= r.mean_iou <= 1 and r.cpu_s is not None and r.cpu_s > 0
    assert r.epoch_log and any(v is not None for k, v in r.epoch_log[-1].items() if k.startswith("loss_seg/"))


def _seg_losses(r) -> list:
    """The per-epoch pixel losses the network reached (they depend on every backbone update)."""
    return [v for row in r.epoch_log for k, v in sorted(row.items()) if k.startswith("loss_seg/")]


def test_pixel_only_conditions_are_not_touched_by_the_class_loss(tiny):
    cfg, train, test = tiny
    no_aux = Config(**{**cfg.__dict__, "aux_weight": 0.0})
    assert PIXEL_ONLY == {"a", "g", "g-inv", "h", "i", "j"}
    for cond in ("h",):
        assert _seg_losses(_tiny_run(cond, no_aux, train, test)) == _seg_losses(
            _tiny_run(cond, cfg, train, test)
        )
    # (k) does train the backbone through its class loss: the aux weight changes the pixel losses.
    assert _seg_losses(_tiny_run("k", no_aux, train, test)) != _seg_losses(_tiny_run("k", cfg, train, test))


def test_hard_example_mining_follows_the_pixel_loss_for_i():
    labels = np.zeros(40, dtype=np.int64)
    cfg = Config(samples=400, batch_size=10)
    hard = hard_example_sampler(labels, cfg, seed=0)
    hard.update(np.arange(40), np.where(np.arange(40) < 4, 5.0, 0.01))  # samples 0..3 are hard
    split = _split(labels, size=4)
    drawn = np.concatenate([b for e, b in batches("i", split, cfg, seed=0, hard=hard) if e == 0])
    # Samples 0..3 are 10 % of the data; with the class blend and the 10 % uniform floor they get
    # about half of the draws (0.9 * 11 / 20.4 + 0.01).
    assert len(drawn) == 40 and (drawn < 4).mean() > 0.3


def test_second_count_assignment_breaks_the_shape_family_confound():
    first, second = data.train_counts(), data.train_counts(count_seed=data.COUNT_SEED_2)
    assert sorted(first) == sorted(second) and first != second
    rare = sorted(range(20), key=lambda c: second[c])[:5]
    assert len({data.CLASSES[c].group for c in rare}) == 5
    assert not set(rare) & set(sorted(range(20), key=lambda c: first[c])[:5])


def test_resume_reuses_a_saved_run_only_with_the_same_settings(tmp_path, tiny):
    cfg, train, test = tiny
    r = _tiny_run("h", cfg, train, test)
    from dataclasses import asdict

    path = tmp_path / "h_seed0.json"
    path.write_text(json.dumps({"key": run_key(cfg), "run": asdict(r)}))
    assert saved_run(path, cfg) == r
    assert (
        saved_run(path, Config(**{**cfg.__dict__, "threads": 2, "seeds": (5,)})) == r
    )  # no effect on results
    assert saved_run(path, Config(**{**cfg.__dict__, "width": 4})) is None
    assert saved_run(tmp_path / "missing.json", cfg) is None


@pytest.mark.slow  # about 20 s on an idle 2-core machine, minutes under load
def test_gpu_plan_dry_run_trains_every_condition_on_the_cpu(tmp_path):
    out = tmp_path / "gpu"
    assert gpu_main(["--dry-run", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["complete"] and report["config"]["device"] == "cpu"
    assert [r["condition"] for r in report["runs"]] == list(GPU_CONDITIONS)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(
        f"{c}_seed0.json" for c in GPU_CONDITIONS
    )


def test_moonshot_needs_the_gain_beyond_the_spread_without_a_lower_class_mean():
    from experiments.class_learning.round2 import moonshot

    def diffs(rare: tuple[float, float], mean: tuple[float, float]) -> dict:
        return {"rarest5_iou": {"h": rare}, "mean_iou": {"h": mean}, "worst5_iou": {}}

    assert moonshot(diffs((0.06, 0.02), (0.0, 0.01)), "h")
    assert not moonshot(diffs((0.06, 0.0), (0.0, 0.0)), "h")  # one seed: no spread to exceed
    assert moonshot(diffs((0.06, 0.02), (-0.01, 0.01)), "h")  # lower, but within the spread
    assert not moonshot(diffs((0.04, 0.01), (0.01, 0.01)), "h")  # gain under 5 points
    assert not moonshot(diffs((0.06, 0.04), (0.01, 0.01)), "h")  # gain within the spread
    assert not moonshot(diffs((0.06, 0.01), (-0.03, 0.01)), "h")  # class mean lowered beyond it
    assert not moonshot(diffs((0.06, 0.01), (0.0, 0.01)), "g")  # not run


def test_round2_summary_pairs_each_condition_with_a_by_seed():
    from experiments.class_learning.round2 import class_differences, summary_table

    def run(cond: str, seed: int, ious: list[float], cpu: float | None) -> RunResult:
        m = float(np.mean(ious))
        return RunResult(cond, seed, ious, m, min(ious), min(ious), m, 0.1, 1.0, 10, cpu_s=cpu)

    runs = [
        run("a", 0, [0.5, 0.5], None),
        run("a", 1, [0.6, 0.4], None),
        run("h", 0, [0.6, 0.6], 12.0),
        run("h", 1, [0.7, 0.6], 14.0),
    ]
    table = summary_table(runs)
    row = next(line for line in table.splitlines() if line.startswith("| (h)"))
    assert "+0.150 ± 0.071" in row and "| 13 |" in row  # rarest-5 diffs 0.1 and 0.2; CPU s mean
    assert "— (round 1)" in next(line for line in table.splitlines() if line.startswith("| (a)"))
    per_class = class_differences(runs, ["x", "y"], [5, 50])
    assert per_class.splitlines()[2].startswith("| x | 5 | 0.550 | +0.100 |")


def test_budget_comparison_pairs_each_large_run_with_the_base_run_of_its_seed():
    from experiments.class_learning.round2 import budget_comparison

    def run(cond: str, seed: int, ious: list[float], cpu: float) -> RunResult:
        m = float(np.mean(ious))
        return RunResult(cond, seed, ious, m, min(ious), min(ious), m, 0.1, 1.0, 10, cpu_s=cpu)

    base = [run("a", 0, [0.5, 0.5], 10.0), run("a", 1, [0.6, 0.4], 10.0), run("h", 2, [0.5, 0.5], 10.0)]
    large = [run("a", 0, [0.6, 0.6], 40.0), run("a", 1, [0.8, 0.6], 50.0), run("h", 0, [0.9, 0.9], 40.0)]
    table = budget_comparison(base, large)
    row = next(line for line in table.splitlines() if line.startswith("| (a)"))
    # same-seed gains: mean 0.1 and 0.2 -> +0.150 ± 0.071; rarest-5 (min) 0.1 and 0.2 the same
    assert row == "| (a) | 2 | 0.500 → 0.650 | +0.150 ± 0.071 | 0.450 → 0.600 | +0.150 ± 0.071 | 10 → 45 |"
    assert not any(line.startswith("| (h)") for line in table.splitlines())  # no base run of seed 0
