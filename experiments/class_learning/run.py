"""The command line: generate and scan the data, run every (condition, seed), write the outputs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from . import data
from .config import CONDITIONS, QUICK, Config, RunResult
from .metrics import aggregate, all_paired_differences
from .report import write_outputs, write_text
from .train import load_split, normalize, scan_clean, train_and_evaluate

DESCRIPTION = "Does class-aware training help segmentation? A controlled experiment on generated data."
#: Default results folders live under benchmarks/results/, where the committed results are.
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def prepare_data(data_dir: Path, cfg: Config) -> data.GeneratedBenchmark:
    """Generate the benchmark data once; reuse it when it was generated with the same parameters."""
    params = {
        "seed": cfg.data_seed,
        "test_seed": cfg.test_seed,
        "test_per_class": cfg.test_per_class,
        "size": cfg.image_size,
        "scale": cfg.data_scale,
        "generator": 2,
    }
    if cfg.count_seed != data.COUNT_SEED:  # round 1's stamps have no such key
        params["count_seed"] = cfg.count_seed
    stamp = data_dir / "params.json"
    if stamp.exists():
        if json.loads(stamp.read_text()) != params:
            raise SystemExit(
                f"error: {data_dir} holds data generated with other parameters; use another --data"
            )
        counts = data.train_counts(scale=cfg.data_scale, count_seed=cfg.count_seed)
        return data.GeneratedBenchmark(
            data_dir,
            data_dir / "train",
            data_dir / "test",
            data_dir / "classes.txt",
            counts,
            cfg.test_per_class,
        )
    print(f"generating the benchmark data in {data_dir} ...", file=sys.stderr)
    bench = data.generate(
        data_dir,
        seed=cfg.data_seed,
        test_seed=cfg.test_seed,
        test_per_class=cfg.test_per_class,
        size=cfg.image_size,
        scale=cfg.data_scale,
        count_seed=cfg.count_seed,
    )
    write_text(stamp, json.dumps(params))
    return bench


#: Config fields that do not change a run's numbers (left out when --resume matches a saved run).
_NOT_RESULT_FIELDS = ("seeds", "conditions", "threads", "device")


def run_key(cfg: Config) -> dict:
    """The settings a saved run must match to be reused by ``--resume``."""
    return {k: v for k, v in asdict(cfg).items() if k not in _NOT_RESULT_FIELDS}


def saved_run(path: Path, cfg: Config) -> RunResult | None:
    """The run saved at ``path`` when it was made with the same settings, else None."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("key") != json.loads(json.dumps(run_key(cfg))):  # tuples are lists once saved
        return None
    return RunResult(**saved["run"])


def run_experiment(
    cfg: Config,
    out: Path,
    data_dir: Path,
    log: Callable[[str], None] = print,
    resume: bool = False,
    saved_only: bool = False,
) -> list[RunResult]:
    """Generate/scan the data, run every (condition, seed), write results.json, table.md and the SVG.

    Every finished run is also saved alone under ``OUT/runs/``; with ``resume`` a run saved there
    with the same settings is reused instead of trained again; with ``saved_only`` the runs not
    saved are left out instead of trained (collects what parallel sweeps saved).
    """
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    bench = prepare_data(data_dir, cfg)
    class_names = list(data.CLASS_NAMES)
    train_scan = scan_clean(bench.train_root, bench.classes_file)
    test_scan = scan_clean(bench.test_root, bench.classes_file)
    train = load_split(train_scan.table, bench.train_root, cfg.train_size)
    # The network sees the test images decoded and resized exactly like the training images;
    # IoU is measured against the masks at full size.
    test = load_split(test_scan.table, bench.test_root, None)
    test_inputs = normalize(load_split(test_scan.table, bench.test_root, cfg.train_size).images)
    counts = np.bincount(train.labels, minlength=len(class_names)).tolist()
    log(
        f"train {len(train.labels)} samples ({min(counts)}..{max(counts)} per class), "
        f"test {len(test.labels)} ({cfg.test_per_class} per class); scans clean"
    )

    machine = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": cfg.threads,
    }
    runs: list[RunResult] = []
    total = len(cfg.seeds) * len(cfg.conditions)
    for seed in cfg.seeds:
        for cond in cfg.conditions:
            run_file = out / "runs" / f"{cond}_seed{seed}.json"
            r = saved_run(run_file, cfg) if resume or saved_only else None
            if r is None and saved_only:
                continue
            if r is None:
                r = train_and_evaluate(cond, seed, train, test, test_inputs, class_names, counts, cfg, log)
                run_file.parent.mkdir(exist_ok=True)
                write_text(run_file, json.dumps({"key": run_key(cfg), "run": asdict(r)}, indent=1))
            runs.append(r)
            log(
                f"({cond}) seed {seed}: mean IoU {r.mean_iou:.3f}, rarest-5 {r.rarest5_iou:.3f}, "
                f"worst-5 {r.worst5_iou:.3f}, pixel {r.pixel_iou:.3f}, aux acc {r.aux_accuracy:.3f}, "
                f"{r.wall_s:.0f} s [{len(runs)}/{total}]"
            )
            # Saved after every run, so an interrupted experiment keeps what it finished.
            report = {
                "config": asdict(cfg),
                "machine": machine,
                "class_names": class_names,
                "train_counts": counts,
                "complete": len(runs) == total,
                "aggregate": aggregate(runs),
                "paired": all_paired_differences(runs),
                "runs": [asdict(r) for r in runs],
            }
            write_text(out / "results.json", json.dumps(report, indent=1))
    if not runs:
        raise ValueError(f"no run saved under {out / 'runs'} with these settings")
    log("\n" + write_outputs(report, out))
    return runs


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.class_learning [options]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m experiments.class_learning", description=DESCRIPTION)
    parser.add_argument(
        "--quick", action="store_true", help="tiny data, tiny net, 2 seeds: a smoke run in seconds"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default benchmarks/results/class_learning[-quick])",
    )
    parser.add_argument("--data", type=Path, default=None, help="generated data folder (default OUT/data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--conditions", nargs="+", choices=sorted(CONDITIONS), default=None)
    parser.add_argument("--samples", type=_positive_int, default=None, help="training samples seen per run")
    parser.add_argument(
        "--retable",
        action="store_true",
        help="only rebuild table.md and the SVG from OUT/results.json (no training)",
    )
    parser.add_argument(
        "--aux-weight", type=float, default=None, help="weight of the auxiliary class loss (0.3)"
    )
    parser.add_argument(
        "--weight-scheme",
        choices=("effective", "sqrt", "inverse"),
        default=None,
        help="class_weights scheme of condition (c) (effective)",
    )
    parser.add_argument(
        "--weight-beta", type=float, default=None, help="beta of the effective-number scheme (0.999)"
    )
    parser.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default 2)")
    parser.add_argument(
        "--width", type=_positive_int, default=None, help="channels of the U-Net's first level (8)"
    )
    parser.add_argument(
        "--count-seed",
        type=int,
        default=None,
        help=f"shuffle that gives classes their training counts ({data.COUNT_SEED}; round 2 adds {data.COUNT_SEED_2})",
    )
    parser.add_argument("--device", default=None, help="torch device to train on (cpu)")
    parser.add_argument(
        "--resume", action="store_true", help="reuse runs saved under OUT/runs/ with the same settings"
    )
    parser.add_argument(
        "--saved-only",
        action="store_true",
        help="train nothing: write the outputs from the runs saved under OUT/runs/ with the same settings",
    )
    args = parser.parse_args(argv)

    cfg = Config(**QUICK) if args.quick else Config()
    for name in ("seeds", "conditions"):
        if getattr(args, name):
            setattr(cfg, name, tuple(getattr(args, name)))
    # Options where 0 or "" means "not given" override only when truthy; the rest whenever given.
    for name in ("samples", "weight_scheme", "threads", "width", "device"):
        if getattr(args, name):
            setattr(cfg, name, getattr(args, name))
    for name in ("aux_weight", "weight_beta", "count_seed"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    out = args.out or RESULTS / ("class_learning-quick" if args.quick else "class_learning")
    data_dir = args.data or out / "data"
    started = time.perf_counter()
    try:
        if args.retable:
            print(write_outputs(json.loads((out / "results.json").read_text(encoding="utf-8")), out))
            return 0
        run_experiment(cfg, out, data_dir, resume=args.resume, saved_only=args.saved_only)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"total {time.perf_counter() - started:.0f} s; results in {out}")
    return 0
