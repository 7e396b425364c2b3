"""The class-learning experiment's device run: 256², a U-Net of a few million parameters, 3 seeds.

Prepared for a session that is lent an accelerator (15 minutes of device time in all, start-up
included), so it is one short command that saves every finished run as it goes:

    python -m experiments.class_learning.gpu --out "$OUT/class_learning_gpu"   # on the device
    python -m experiments.class_learning.gpu --dry-run                        # the same plan, tiny, on CPU

It generates the benchmark at 256×256 (round 1's class-to-count assignment), scans it, and trains
:data:`GPU_CONDITIONS` for seeds 0, 1, 2 at full resolution with :data:`GPU_SETTINGS`. Each run is
written to ``OUT/runs/<condition>_seed<seed>.json`` when it finishes and ``OUT/results.json`` holds
all of them, so a run cut short by the time limit still returns what it finished; ``--resume``
continues it. ``--dry-run`` trains the same conditions on a tiny configuration on the CPU in
seconds (the test suite runs it), which checks the whole path except the device itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from .config import QUICK, Config
from .run import RESULTS, run_experiment

#: (a), the two pixel-loss-only settings of round 2 that touch the tail most directly, and (j).
GPU_CONDITIONS = ("a", "g", "h", "j")
#: The device run: full 256² input, width 40 (3.0 M parameters), 24,000 samples (about 30 epochs).
GPU_SETTINGS = {
    "train_size": 256,
    "image_size": 256,
    "width": 40,
    "samples": 24000,
    "batch_size": 16,
    "seeds": (0, 1, 2),
    "threads": 8,
}
#: ``--dry-run``: round 1's ``--quick`` sizes, one seed, on the CPU.
DRY_RUN_SETTINGS = {**QUICK, "seeds": (0,), "threads": 2, "device": "cpu"}


def gpu_config(dry_run: bool, device: str | None = None) -> Config:
    """The device run's settings, or the tiny CPU ones of ``--dry-run``."""
    cfg = Config(**(DRY_RUN_SETTINGS if dry_run else GPU_SETTINGS))  # type: ignore[arg-type]
    cfg.conditions = GPU_CONDITIONS
    if not dry_run:
        cfg.device = device or "cuda"
    return cfg


def parameter_count(width: int, num_classes: int = 20) -> int:
    """Parameters of the experiment's U-Net at ``width`` (the plan prints it)."""
    from .model import SmallUNet

    return sum(p.numel() for p in SmallUNet(num_classes, width).parameters())


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.class_learning.gpu [--dry-run] [--out DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m experiments.class_learning.gpu", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="the same plan, tiny, on the CPU (seconds)")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--data", type=Path, default=None, help="generated data folder (default OUT/data)")
    parser.add_argument("--device", default=None, help="torch device (cuda)")
    parser.add_argument("--resume", action="store_true", help="reuse runs saved under OUT/runs/")
    args = parser.parse_args(argv)
    cfg = gpu_config(args.dry_run, args.device)
    if not args.dry_run and cfg.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: no CUDA device here; use --dry-run to check the plan on the CPU", file=sys.stderr)
        return 2
    out = args.out or RESULTS / ("class_learning_gpu-dry-run" if args.dry_run else "class_learning_gpu")
    print(
        f"plan: conditions {' '.join(cfg.conditions)}, seeds {list(cfg.seeds)}, {cfg.train_size}² input, "
        f"width {cfg.width} ({parameter_count(cfg.width) / 1e6:.2f} M parameters), "
        f"{cfg.samples} samples per run, device {cfg.device}"
    )
    started = time.perf_counter()
    try:
        run_experiment(cfg, out, args.data or out / "data", resume=args.resume)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"total {time.perf_counter() - started:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
