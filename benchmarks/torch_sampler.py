"""Benchmark (b): 10M draws from the samplers (target: < 1 s for ClassBalancedSampler;
HardExampleSampler's guide table >= 4x the binary search it replaced, with identical draws).

    python benchmarks/torch_sampler.py --draws 10000000

Labels: 1M samples over 219 classes with a DIS-TR-like long tail (class sizes ∝ 1/rank).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from torch_common import command, machine

from dis_audit.torch import ClassBalancedSampler, DifficultyMixBatchSampler, HardExampleSampler


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def searchsorted_draw(sampler: HardExampleSampler) -> np.ndarray:
    rng = np.random.default_rng([sampler.seed, sampler.epoch])
    cdf = np.cumsum(sampler.probabilities())
    return np.minimum(np.searchsorted(cdf, rng.random(sampler.total_size) * cdf[-1], side="right"), len(cdf) - 1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--draws", type=int, default=10_000_000)
    p.add_argument("--samples", type=int, default=1_000_000)
    args = p.parse_args()
    print(machine())
    rng = np.random.default_rng(0)
    share = 1.0 / np.arange(1, 220)
    labels = rng.choice(219, size=args.samples, p=share / share.sum())
    difficulties = np.array(["easy", "medium", "hard"])[rng.integers(0, 3, args.samples)]

    s, t_build = timed(lambda: ClassBalancedSampler(labels, power=0.5, num_samples=args.draws))
    idx, t_draw = timed(s.draw)
    _, t_iter = timed(lambda: sum(1 for _ in s))
    print(f"ClassBalancedSampler: build {t_build:.3f}s, {len(idx):,} draws as an array {t_draw:.3f}s, "
          f"through __iter__ (Python ints) {t_iter:.3f}s")
    h = HardExampleSampler(labels, num_samples=args.draws)
    h.update(np.arange(0, args.samples, 7), rng.random(len(range(0, args.samples, 7))))
    hard, t_hard = timed(h.draw)
    print(f"HardExampleSampler (after {len(range(0, args.samples, 7)):,} updates): {args.draws:,} draws {t_hard:.3f}s")
    # The same draws by one binary search per draw (the implementation before the guide table),
    # timed in the same run so the ratio does not depend on the machine's drift.
    reference, t_search = timed(lambda: searchsorted_draw(h))
    assert np.array_equal(hard, reference), "guide-table draws differ from the binary search"
    print(f"  same draws by binary search {t_search:.3f}s: guide table {t_search / t_hard:.1f}x faster, identical")
    d = DifficultyMixBatchSampler(difficulties, batch_size=32, num_batches=args.draws // 32)
    _, t_mix = timed(d._global_batches)
    print(f"DifficultyMixBatchSampler: {args.draws // 32 * 32:,} indices in batches of 32: {t_mix:.3f}s")
    print("command:", command())


if __name__ == "__main__":
    main()
