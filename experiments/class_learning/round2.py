"""Round 2's summary: every condition against (a) per count assignment, and the moonshot check.

    python -m experiments.class_learning.round2      # writes benchmarks/results/class_learning_round2/summary.md

Reads the per-run files the sweep saved (``benchmarks/class_learning_round2.sh``). Round 2 runs with
one torch thread, round 1 with two, which changes the numbers a little: conditions are paired with
round 2's own (a) only; round 1's (a) on the same data is shown beside it for scale.

The moonshot: a setting whose rarest-5 IoU is at least :data:`MOONSHOT_GAIN` above (a) (same-seed
difference), with that difference beyond twice its spread over seeds, and whose class-mean IoU is
not lower than (a)'s beyond the spread.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .config import CONDITIONS, RunResult
from .metrics import PAIRED_KEYS, paired_differences
from .report import per_class_table, write_text
from .run import RESULTS

#: Minimum rarest-5 IoU gain over (a), in IoU (5 points).
MOONSHOT_GAIN = 0.05
#: Folder of each count assignment's sweep, and round 1's results (its (a) is compared with round 2's).
PARTS = {"1": "ds1-base", "2": "ds2-base"}
#: The larger budget on assignment 1 (width 16, 12,000 samples), compared with ds1-base run by run.
LARGE = "ds1-large"
ROUND1 = RESULTS / "class_learning" / "results.json"
OUT = RESULTS / "class_learning_round2"


def load_runs(folder: Path) -> list[RunResult]:
    """Every run saved under ``folder/runs``."""
    return [
        RunResult(**json.loads(p.read_text(encoding="utf-8"))["run"])
        for p in sorted((folder / "runs").glob("*.json"))
    ]


def moonshot(diffs: dict[str, dict[str, tuple[float, float]]], cond: str) -> bool:
    """Whether ``cond`` meets the moonshot against (a): see the module docstring."""
    rare, mean = diffs["rarest5_iou"].get(cond), diffs["mean_iou"].get(cond)
    if rare is None or mean is None:
        return False
    # One seed has no spread (std 0): the gain cannot be shown to exceed it.
    return rare[1] > 0 and rare[0] >= MOONSHOT_GAIN and rare[0] > 2 * rare[1] and not mean[0] < -2 * mean[1]


def _cell(m: tuple[float, float] | None) -> str:
    if m is None:
        return "—"
    text = f"{m[0]:+.3f} ± {m[1]:.3f}"
    return f"**{text}**" if m[1] > 0 and abs(m[0]) > 2 * m[1] else text  # one seed: no spread, no bold


def summary_table(runs: Sequence[RunResult]) -> str:
    """Per condition: mean ± std over seeds, same-seed differences to (a), CPU s per run, moonshot."""
    diffs = {key: paired_differences(runs, "a", key) for key in PAIRED_KEYS}
    head = (
        "| condition | seeds | mean IoU | rarest-5 | worst-5 | mean IoU − (a) | rarest-5 − (a) | worst-5 − (a) "
        "| CPU s / run | moonshot |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for cond in [c for c in CONDITIONS if any(r.condition == c for r in runs)]:
        rows = [r for r in runs if r.condition == cond]
        cells = [f"({cond}) {CONDITIONS[cond]}", str(len(rows))]
        for key in PAIRED_KEYS:
            vals = np.array([getattr(r, key) for r in rows])
            cells.append(f"{vals.mean():.3f} ± {vals.std(ddof=1) if len(vals) > 1 else 0:.3f}")
        for key in PAIRED_KEYS:
            cells.append("—" if cond == "a" else _cell(diffs[key].get(cond)))
        cpu = [r.cpu_s for r in rows if r.cpu_s is not None]
        cells.append(f"{np.mean(cpu):.0f}" if cpu else "— (round 1)")
        cells.append("—" if cond == "a" else ("**yes**" if moonshot(diffs, cond) else "no"))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nSame-seed differences: mean ± std over seeds; **bold**: |mean| > 2 × std (2 seeds or more). "
        f"Moonshot: rarest-5 − (a) ≥ {MOONSHOT_GAIN} and > 2 × std, mean IoU − (a) not below −2 × std."
    )
    return "\n".join(lines) + "\n"


def class_differences(runs: Sequence[RunResult], class_names: Sequence[str], counts: Sequence[int]) -> str:
    """Per class: same-seed IoU difference to (a), mean over seeds, per condition."""
    conds = [c for c in CONDITIONS if c != "a" and any(r.condition == c for r in runs)]
    by = {(r.condition, r.seed): np.asarray(r.class_iou) for r in runs}
    lines = [
        "| class | train images | (a) IoU | " + " | ".join(f"({c}) − (a)" for c in conds) + " |",
        "|---|---:|---:|" + "---:|" * len(conds),
    ]
    a_iou = np.mean([v for (c, _), v in by.items() if c == "a"], axis=0)
    for cid in sorted(range(len(class_names)), key=lambda c: (counts[c], c)):
        cells = [class_names[cid], str(counts[cid]), f"{a_iou[cid]:.3f}"]
        for c in conds:
            d = [by[(c, s)][cid] - by[("a", s)][cid] for (cc, s) in by if cc == c and ("a", s) in by]
            cells.append(f"{np.mean(d):+.3f}" if d else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _ranks(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as Spearman's ρ needs)."""
    arr = np.asarray(x, dtype=np.float64)
    _, inverse = np.unique(arr, return_inverse=True)
    raw = np.argsort(np.argsort(arr, kind="stable"), kind="stable").astype(np.float64)
    return (np.bincount(inverse, raw) / np.bincount(inverse))[inverse]


def _spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> str:
    """Spearman's ρ as text; "n/a" when either side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return "n/a"
    return f"{float(np.corrcoef(rx, ry)[0, 1]):+.2f}"


def assignment_comparison(
    a1: Sequence[RunResult],
    a2: Sequence[RunResult],
    names: Sequence[str],
    c1: Sequence[int],
    c2: Sequence[int],
    spread_runs: Sequence[RunResult] = (),
) -> str:
    """(a)'s per-class IoU under both count assignments: does a class's IoU follow its count?

    Each class keeps its shapes and test images and only its number of training images changes, so
    a class whose IoU moved with its count shows a frequency effect; one that stays put does not.
    The per-class seed spread of (a) on assignment 1 (``spread_runs``, e.g. round 1's 3 seeds) says
    how much a class moves by chance.
    """
    iou1 = np.array([r.class_iou for r in a1])
    iou2 = np.mean([r.class_iou for r in a2], axis=0)
    ref = np.array([r.class_iou for r in spread_runs]) if len(spread_runs) > 1 else iou1
    spread = ref.std(axis=0, ddof=1) if len(ref) > 1 else np.full(len(names), np.nan)
    mean1 = iou1.mean(axis=0)
    lines = [
        f"| class | images (1) | images (2) | (a) IoU (1) | (a) IoU (2) | change | seed std of (a) ({len(ref)} seeds) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cid in sorted(range(len(names)), key=lambda c: (c2[c] / c1[c], c)):
        lines.append(
            f"| {names[cid]} | {c1[cid]} | {c2[cid]} | {mean1[cid]:.3f} | {iou2[cid]:.3f} | "
            f"{iou2[cid] - mean1[cid]:+.3f} | {spread[cid]:.3f} |"
        )
    ratio = np.log(np.asarray(c2, dtype=float) / np.asarray(c1, dtype=float))
    lines.append(
        f"\nSpearman ρ between log(count 2 / count 1) and the IoU change: {_spearman(ratio, iou2 - mean1)}; "
        f"between log(count) and IoU: {_spearman(np.log(c1), mean1)} (assignment 1), "
        f"{_spearman(np.log(c2), iou2)} (assignment 2). (a) runs: {len(a1)} (1), {len(a2)} (2)."
    )
    return "\n".join(lines) + "\n"


def budget_comparison(base: Sequence[RunResult], large: Sequence[RunResult]) -> str:
    """Per condition in both budgets: metric at the base budget, at the larger one, and the same-seed gain."""
    lines = [
        "| condition | seeds | mean IoU base → large | gain | rarest-5 base → large | gain | CPU s / run base → large |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    by_base = {(r.condition, r.seed): r for r in base}
    for cond in [c for c in CONDITIONS if any(r.condition == c for r in large)]:
        pairs = [
            (by_base[(r.condition, r.seed)], r)
            for r in large
            if r.condition == cond and (cond, r.seed) in by_base
        ]
        if not pairs:
            continue
        cells = [f"({cond})", str(len(pairs))]
        for key in ("mean_iou", "rarest5_iou"):
            b = np.array([getattr(x, key) for x, _ in pairs])
            g = np.array([getattr(y, key) for _, y in pairs])
            spread = (g - b).std(ddof=1) if len(pairs) > 1 else 0.0
            cells += [f"{b.mean():.3f} → {g.mean():.3f}", f"{(g - b).mean():+.3f} ± {spread:.3f}"]
        cpu_b = [x.cpu_s for x, _ in pairs if x.cpu_s is not None]
        cpu_g = [y.cpu_s for _, y in pairs if y.cpu_s is not None]
        cells.append(f"{np.mean(cpu_b):.0f} → {np.mean(cpu_g):.0f}" if cpu_b and cpu_g else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build(out: Path = OUT, round1: Path = ROUND1) -> str:
    """Write ``summary.md`` and ``summary.json`` under ``out``; return the markdown."""
    r1 = json.loads(round1.read_text(encoding="utf-8")) if round1.exists() else {"runs": []}
    text = [
        "# Class learning, round 2: summary (generated by `python -m experiments.class_learning.round2`)\n"
    ]
    data: dict[str, dict] = {}
    by_part: dict[str, tuple[list[RunResult], list[int]]] = {}
    for part, folder in PARTS.items():
        if not (out / folder / "results.json").exists():
            continue
        report = json.loads((out / folder / "results.json").read_text(encoding="utf-8"))
        runs = load_runs(out / folder)
        names = report["class_names"]
        note = ""
        if part == "1":  # round 1 ran (a) on the same data with 2 threads: how far apart are they?
            old = {d["seed"]: d["mean_iou"] for d in r1["runs"] if d["condition"] == "a"}
            new = {r.seed: r.mean_iou for r in runs if r.condition == "a"}
            both = sorted(set(old) & set(new))
            if both:
                gap = [new[s] - old[s] for s in both]
                note = (
                    f"Round 1's (a) on the same data, seeds {both}, 2 threads: mean IoU "
                    f"{np.mean([old[s] for s in both]):.3f}; round 2 (1 thread) − round 1, same seed: "
                    f"{np.mean(gap):+.3f} (from {min(gap):+.3f} to {max(gap):+.3f}).\n"
                )
        counts = report["train_counts"]
        by_part[part] = (runs, counts)
        rare = sorted(range(len(names)), key=lambda c: (counts[c], c))[:5]
        text.append(
            f"## Count assignment {part} (`--count-seed {report['config']['count_seed']}`)\n\n"
            f"Rarest 5: {', '.join(f'{names[c]} ({counts[c]})' for c in rare)}.\n\n"
            + (note + "\n" if note else "")
            + summary_table(runs)
            + "\nPer-class IoU, mean over seeds:\n\n"
            + per_class_table(runs, names, counts)
            + "\nPer-class same-seed difference to (a), mean over seeds (rarest first):\n\n"
            + class_differences(runs, names, counts)
        )
        data[part] = {
            "count_seed": report["config"]["count_seed"],
            "train_counts": counts,
            "paired_vs_a": {k: paired_differences(runs, "a", k) for k in PAIRED_KEYS},
            "moonshot": {
                c: moonshot({k: paired_differences(runs, "a", k) for k in PAIRED_KEYS}, c)
                for c in dict.fromkeys(r.condition for r in runs)
                if c != "a"
            },
            "cpu_s": {f"{r.condition}_seed{r.seed}": r.cpu_s for r in runs},
        }
    if set(by_part) == {"1", "2"} and all(any(r.condition == "a" for r in by_part[p][0]) for p in by_part):
        (r1s, c1), (r2s, c2) = by_part["1"], by_part["2"]
        text.append(
            "## (a) under both count assignments\n\n"
            + assignment_comparison(
                [r for r in r1s if r.condition == "a"],
                [r for r in r2s if r.condition == "a"],
                names,
                c1,
                c2,
                [RunResult(**d) for d in r1["runs"] if d["condition"] == "a"],
            )
            + "\nThe seed spread is round 1's (a) on assignment 1 (2 threads, 3 seeds).\n"
        )
    large_dir = out / LARGE
    if "1" in by_part and (large_dir / "results.json").exists():
        large = load_runs(large_dir)
        large_report = json.loads((large_dir / "results.json").read_text(encoding="utf-8"))
        config, names = large_report["config"], large_report["class_names"]
        runs1, counts1 = by_part["1"]
        text.append(
            f"## Larger budget on count assignment 1 (width {config['width']}, {config['samples']} samples)\n\n"
            + summary_table(large)
            + "\nSame seed, larger budget against the base budget:\n\n"
            + budget_comparison(runs1, large)
            + "\nPer-class IoU, mean over seeds:\n\n"
            + per_class_table(large, names, counts1)
            + "\nPer-class same-seed difference to (a), mean over seeds (rarest first):\n\n"
            + class_differences(large, names, counts1)
        )
        data["1-large"] = {
            "width": config["width"],
            "samples": config["samples"],
            "paired_vs_a": {k: paired_differences(large, "a", k) for k in PAIRED_KEYS},
            "cpu_s": {f"{r.condition}_seed{r.seed}": r.cpu_s for r in large},
        }
    md = "\n".join(text)
    write_text(out / "summary.md", md)
    write_text(out / "summary.json", json.dumps(data, indent=1))
    return md


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.class_learning.round2 [--out DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m experiments.class_learning.round2", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        print(build(args.out))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
