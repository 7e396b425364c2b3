"""Samplers: target frequencies, determinism, DDP sharding, difficulty mix, hard-example mining."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from dis_audit.torch import ClassBalancedSampler, DifficultyMixBatchSampler, HardExampleSampler

# DIS-TR-like long tail: 1 to 84 per class, plus a group of unlabeled (-1) samples.
COUNTS = {0: 1, 1: 5, 2: 20, 3: 84, 4: 200, -1: 10}
LABELS = np.concatenate([np.full(n, c) for c, n in COUNTS.items()])
np.random.default_rng(1).shuffle(LABELS)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_class_balanced_frequencies_within_2_percent(power):
    draws = 200_000
    sampler = ClassBalancedSampler(LABELS, power=power, num_samples=draws, seed=3)
    idx = np.fromiter(iter(sampler), dtype=np.int64)
    assert len(idx) == len(sampler) == draws
    got = Counter(LABELS[idx].tolist())
    mass = {c: n ** (1 - power) for c, n in COUNTS.items()}
    total = sum(mass.values())
    for c, m in mass.items():
        target = m / total
        freq = got[c] / draws
        # 2% relative is only measurable (> 3.5 binomial sd) for targets above ~15% at 200k
        # draws; rarer classes get the binomial bound instead (4 sd).
        sd = (target * (1 - target) / draws) ** 0.5
        if target >= 0.15:
            assert abs(freq - target) <= 0.02 * target, (c, freq, target)
        assert abs(freq - target) <= 4 * sd, (c, freq, target, sd)
    assert sum(mass[c] / total >= 0.15 for c in mass) >= 1
    # within a class every member is drawn (uniform inside the class)
    assert set(idx[LABELS[idx] == 1].tolist()) == set(np.flatnonzero(LABELS == 1).tolist())


def test_class_balanced_works_past_2_pow_24_samples():
    n = 2**24 + 5
    labels = np.zeros(n, dtype=np.int32)
    labels[-5:] = 1  # a tiny class living past index 2^24
    sampler = ClassBalancedSampler(labels, power=1.0, num_samples=10_000, seed=0)
    idx = sampler.draw()
    assert idx.max() < n and (idx >= 2**24).mean() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("num_samples", [1000, 1001])
def test_ranks_are_disjoint_shards_of_one_global_draw(num_samples):
    ranks = [
        ClassBalancedSampler(LABELS, power=0.5, num_samples=num_samples, seed=7, num_replicas=4, rank=r)
        for r in range(4)
    ]
    for s in ranks:
        s.set_epoch(2)
    shards = [list(s) for s in ranks]
    assert len({len(s) for s in shards}) == 1  # equal length
    total = len(shards[0]) * 4
    single = ClassBalancedSampler(LABELS, power=0.5, num_samples=total, seed=7, num_replicas=1, rank=0)
    single.set_epoch(2)
    glob = list(single)
    # positions r, r+4, ... of the global draw: disjoint and together exactly the global draw
    for r, shard in enumerate(shards):
        assert shard == glob[r::4]
    interleaved = [shards[p % 4][p // 4] for p in range(total)]
    assert interleaved == glob


def test_set_epoch_changes_order_and_seed_repeats():
    a = ClassBalancedSampler(LABELS, seed=1)
    b = ClassBalancedSampler(LABELS, seed=1)
    first = list(a)
    assert first == list(b) == list(a)  # same seed, same epoch: same draw, repeatable
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(ClassBalancedSampler(LABELS, seed=2)) != first


def test_ddp_defaults_come_from_torch_distributed(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 4)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None: 3)
    s = ClassBalancedSampler(LABELS, num_samples=100)
    assert (s.num_replicas, s.rank, len(s)) == (4, 3, 25)
    d = DifficultyMixBatchSampler(["easy", "hard"] * 40, batch_size=4, mix={"easy": 1, "hard": 1})
    assert (d.num_replicas, d.rank, len(d)) == (4, 3, 5)
    with pytest.raises(ValueError, match="rank"):
        ClassBalancedSampler(LABELS, num_replicas=2, rank=2)


DIFF = np.array(["easy"] * 50 + ["medium"] * 100 + ["hard"] * 30 + ["veryhard"] * 20)


def test_difficulty_mix_exact_per_batch():
    sampler = DifficultyMixBatchSampler(DIFF, batch_size=7, seed=0)  # default 0.2/0.3/0.5
    # 1.4 / 2.1 / 3.5 -> floors 1/2/3, the one leftover slot goes to hard (largest remainder .5)
    assert sampler.quotas() == {"easy": 1, "medium": 2, "hard": 4}
    batches = list(sampler)
    assert len(batches) == len(sampler) == len(DIFF) // 7
    for batch in batches:
        assert Counter(DIFF[batch].tolist()) == {"easy": 1, "medium": 2, "hard": 4}
    # no repeats inside a difficulty until its pool is used up (hard: 30 samples, 4 per batch)
    hard = [i for b in batches[:7] for i in b if DIFF[i] == "hard"]
    assert len(hard) == len(set(hard)) == 28


def test_difficulty_schedule_and_ddp():
    schedule = {0: {"easy": 1.0}, 2: {"easy": 0.5, "veryhard": 0.5}}
    ranks = [DifficultyMixBatchSampler(DIFF, 4, schedule=schedule, seed=5, num_replicas=2, rank=r) for r in range(2)]
    for s in ranks:
        s.set_epoch(1)
    assert all(set(DIFF[b].tolist()) == {"easy"} for s in ranks for b in s)
    for s in ranks:
        s.set_epoch(3)
    shards = [list(s) for s in ranks]
    assert len(shards[0]) == len(shards[1])
    for b in shards[0] + shards[1]:
        assert Counter(DIFF[b].tolist()) == {"easy": 2, "veryhard": 2}
    whole = DifficultyMixBatchSampler(DIFF, 4, schedule=schedule, seed=5, num_batches=2 * len(shards[0]))
    whole.set_epoch(3)
    glob = list(whole)
    assert shards[0] == glob[0::2] and shards[1] == glob[1::2]
    curriculum = DifficultyMixBatchSampler(DIFF, 10, schedule=lambda e: {"easy": 1 - e / 4, "hard": e / 4})
    curriculum.set_epoch(1)
    assert curriculum.quotas() == {"easy": 8, "hard": 2}  # 7.5/2.5: tie goes to the first listed


def test_difficulty_mix_errors():
    with pytest.raises(ValueError, match=r"extreme.*the data has: easy, hard, medium, veryhard"):
        DifficultyMixBatchSampler(DIFF, 4, mix={"extreme": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        DifficultyMixBatchSampler(DIFF, 4, mix={"easy": -1.0})


def test_difficulty_epoch_determinism():
    a = DifficultyMixBatchSampler(DIFF, 7, seed=0)
    b = DifficultyMixBatchSampler(DIFF, 7, seed=0)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


HE_LABELS = np.repeat(np.arange(10), 50)


def test_hard_example_shifts_mass_to_high_loss_class():
    sampler = HardExampleSampler(HE_LABELS, num_samples=200_000, floor=0.1, class_blend=0.5, seed=0)
    np.testing.assert_allclose(sampler.probabilities(), 1 / 500)  # uniform before any update
    losses = np.where(HE_LABELS == 3, 5.0, 0.5)
    sampler.update(torch.arange(500), torch.tensor(losses))
    idx = sampler.draw()
    share = (HE_LABELS[idx] == 3).mean()
    expected = 0.9 * (50 * 5.0) / (50 * 5.0 + 450 * 0.5) + 0.1 * 0.1
    assert share == pytest.approx(expected, rel=0.02)
    assert sampler.probabilities().min() >= 0.1 / 500  # the floor: nobody starves


def test_hard_example_class_blend_and_ema():
    sampler = HardExampleSampler(HE_LABELS, momentum=0.5, class_blend=0.5, floor=0.1)
    sampler.update([0], [4.0])
    sampler.update([0], [2.0])
    assert sampler.ema[0] == pytest.approx(0.5 * 4.0 + 0.5 * 2.0)
    sampler.update([100], [1.0])  # class 2
    p = sampler.probabilities()
    # unseen members inherit their class mean (class 0: 3, class 2: 1); samples of classes
    # never seen get the global mean (2), so they are tried rather than starved
    assert p[1] > p[200] > p[101]
    assert p[0] == pytest.approx(p[1]) and p[100] == pytest.approx(p[101])
    np.testing.assert_allclose(sampler.class_loss()[[0, 1, 2]], [3.0, np.nan, 1.0])
    with pytest.raises(IndexError):
        sampler.update([500], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        sampler.update([1], [float("nan")])


def test_hard_example_ranks_share_one_draw():
    shards = []
    for r in range(4):
        s = HardExampleSampler(HE_LABELS, num_samples=400, seed=9, num_replicas=4, rank=r)
        s.update(np.arange(500), np.where(HE_LABELS == 7, 3.0, 1.0))
        s.set_epoch(1)
        shards.append(s.draw())
    glob = np.empty(400, dtype=np.int64)
    for r in range(4):
        glob[r::4] = shards[r]
    single = HardExampleSampler(HE_LABELS, num_samples=400, seed=9)
    single.update(np.arange(500), np.where(HE_LABELS == 7, 3.0, 1.0))
    single.set_epoch(1)
    np.testing.assert_array_equal(glob, single.draw())


def _searchsorted_draw(sampler: HardExampleSampler) -> np.ndarray:
    """The draw as HardExampleSampler made it before the guide table: one binary search per draw."""
    rng = np.random.default_rng([sampler.seed, sampler.epoch])
    cdf = np.cumsum(sampler.probabilities())
    idx = np.searchsorted(cdf, rng.random(sampler.total_size) * cdf[-1], side="right")
    return np.minimum(idx, len(cdf) - 1)[sampler.rank :: sampler.num_replicas]


@pytest.mark.parametrize("floor", [1.0, 0.1, 1e-4])
@pytest.mark.parametrize("num_samples", [37, 5_000, 60_000])  # fewer draws than samples, and many more
def test_hard_example_guide_table_gives_the_binary_search_draws(floor, num_samples):
    rng = np.random.default_rng(3)
    labels = rng.integers(-1, 40, 2_000)
    sampler = HardExampleSampler(labels, num_samples=num_samples, floor=floor, seed=5)
    np.testing.assert_array_equal(sampler.draw(), _searchsorted_draw(sampler))  # uniform, before updates
    # Extreme skew: a few samples carry almost all mass, many carry ~nothing, exact ties elsewhere.
    losses = np.where(rng.random(2_000) < 0.01, 1e6, rng.choice([0.0, 1e-9, 0.5, 0.5, 2.0], 2_000))
    sampler.update(np.arange(2_000), losses)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        np.testing.assert_array_equal(sampler.draw(), _searchsorted_draw(sampler))


def test_hard_example_guide_table_single_sample_and_ranks():
    one = HardExampleSampler([4], num_samples=100)
    one.update([0], [2.0])
    assert one.draw().tolist() == [0] * 100
    for r in range(3):
        s = HardExampleSampler(HE_LABELS, num_samples=3_001, seed=2, num_replicas=3, rank=r)
        s.update(np.arange(500), np.linspace(0, 9, 500))
        np.testing.assert_array_equal(s.draw(), _searchsorted_draw(s))
