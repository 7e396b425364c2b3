"""The experiment's outputs: markdown tables and the per-class IoU plot (SVG, no plotting dependency)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dis_audit.manifest import atomic_write_bytes

from .config import CONDITIONS, Config, RunResult
from .metrics import METRIC_KEYS, aggregate, all_paired_differences

#: Legend labels for the plot.
SHORT_NAMES = {
    "a": "natural, pixel loss only",
    "b": "natural + aux CE",
    "c": "balanced + weighted CE",
    "d": "hard-example + aux CE",
    "e": "curriculum + aux CE",
    "f": "balanced + aux CE",
    "g": "class-weighted pixel (sqrt)",
    "g-inv": "class-weighted pixel (inverse)",
    "h": "balanced, pixel only",
    "i": "hard-example, pixel only",
    "j": "deferred re-balancing",
    "k": "logit-adjusted aux CE",
}
#: Columns of the results table, in order (the test suite checks them).
TABLE_COLUMNS = (
    "condition",
    "mean IoU (classes)",
    "rarest-5 IoU",
    "worst-5 IoU",
    "pixel IoU",
    "aux accuracy",
    "wall s / run",
)


def condition_labels(config: dict) -> dict[str, str]:
    """Table labels for a run's config: the defaults, with any changed class-loss setting spelled out."""
    labels = dict(CONDITIONS)
    scheme = config.get("weight_scheme", Config.weight_scheme)
    if scheme != Config.weight_scheme or config.get("weight_beta", Config.weight_beta) != Config.weight_beta:
        beta = f", beta={config['weight_beta']}" if scheme == "effective" else ""
        labels["c"] = f"class-balanced (p={config.get('balance_power', 0.5)}) + {scheme}-weighted CE{beta}"
    aux = config.get("aux_weight", Config.aux_weight)
    if aux != Config.aux_weight:
        labels = {c: (text if c == "a" else f"{text} [aux weight {aux}]") for c, text in labels.items()}
    return labels


def markdown_table(runs: Sequence[RunResult], labels: dict[str, str] | None = None) -> str:
    """The results table: mean ± std over seeds for every condition."""
    agg = aggregate(runs)
    labels = labels or CONDITIONS
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for cond, m in agg.items():
        cells = [f"({cond}) {labels[cond]}"]
        for key in METRIC_KEYS:
            mean, std = m[key]
            cells.append(f"{mean:.0f} ± {std:.0f}" if key == "wall_s" else f"{mean:.3f} ± {std:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def per_class_table(
    runs: Sequence[RunResult], class_names: Sequence[str], train_counts: Sequence[int]
) -> str:
    """Per-class IoU (mean over seeds) per condition, classes from most to least frequent."""
    conds = list(dict.fromkeys(r.condition for r in runs))
    lines = [
        "| class | train images | " + " | ".join(f"({c})" for c in conds) + " |",
        "|---|---:|" + "---:|" * len(conds),
    ]
    for cid in sorted(range(len(class_names)), key=lambda c: (-train_counts[c], c)):
        cells = [class_names[cid], str(train_counts[cid])]
        for c in conds:
            cells.append(f"{np.mean([r.class_iou[cid] for r in runs if r.condition == c]):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_table(paired: dict[str, dict[str, tuple[float, float]]]) -> str:
    """Markdown: per condition, the same-seed difference to (a) and (b), mean ± std over seeds."""
    cols = list(paired)
    if not cols:  # neither (a) nor (b) was run
        return ""
    conds = list(dict.fromkeys(c for k in cols for c in paired[k]))
    lines = [
        "| condition | " + " | ".join(k.replace("_vs_", " − (") + ")" for k in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for c in conds:
        cells = [f"({c})"]
        for k in cols:
            m = paired[k].get(c)
            if m is None or k.endswith(f"_vs_{c}"):
                cells.append("—")
            else:
                text = f"{m[0]:+.3f} ± {m[1]:.3f}"
                cells.append(f"**{text}**" if abs(m[0]) > 2 * m[1] else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nSame-seed differences, mean ± std over seeds; **bold**: |mean| > 2 × std (beyond the seed spread)."
    )
    return "\n".join(lines) + "\n"


#: Plot colour per condition.
_COLOURS = {
    "a": "#444444",
    "b": "#1f77b4",
    "c": "#d62728",
    "d": "#2ca02c",
    "e": "#9467bd",
    "f": "#ff7f0e",
    "g": "#8c564b",
    "g-inv": "#e377c2",
    "h": "#17becf",
    "i": "#bcbd22",
    "j": "#7f7f7f",
    "k": "#aec7e8",
}


def svg_plot(runs: Sequence[RunResult], train_counts: Sequence[int], title: str) -> str:
    """Per-class IoU (mean over seeds) against training images per class (log axis).

    One line per condition.
    """
    W, H, left, right, top, bottom = 760, 440, 60, 210, 36, 50
    pw, ph = W - left - right, H - top - bottom
    counts = np.asarray(train_counts, dtype=np.float64)
    lo, hi = math.log10(max(counts.min(), 1) * 0.8), math.log10(counts.max() * 1.25)

    def px(count: float) -> float:
        return left + (math.log10(count) - lo) / (hi - lo) * pw

    def py(iou: float) -> float:
        return top + (1 - iou) * ph

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            'font-family="sans-serif" font-size="12">'
        ),
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14">{html.escape(title, quote=False)}</text>',
    ]
    for v in np.linspace(0, 1, 6):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    for tick in (1, 2, 3, 5, 10, 20, 30, 50, 100, 150, 200, 300, 500):
        if lo <= math.log10(tick) <= hi:
            x = px(tick)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>')
            out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{tick}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out.append(
        f'<text x="{left + pw / 2}" y="{H - 10}" text-anchor="middle">'
        "training images of the class (log)</text>"
    )
    out.append(
        f'<text x="16" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 {top + ph / 2})">'
        "test IoU of the class (mean over seeds)</text>"
    )
    order = np.argsort(counts, kind="stable")
    conds = list(dict.fromkeys(r.condition for r in runs))
    for k, cond in enumerate(conds):
        colour = _COLOURS.get(cond, "#000")
        iou = np.mean([r.class_iou for r in runs if r.condition == cond], axis=0)
        pts = [(px(counts[c]), py(iou[c])) for c in order if not math.isnan(iou[c])]
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" stroke-opacity="0.6" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            + '"/>'
        )
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        ly = top + 14 + 18 * k
        out.append(f'<circle cx="{left + pw + 16}" cy="{ly - 4}" r="4" fill="{colour}"/>')
        out.append(
            f'<text x="{left + pw + 26}" y="{ly}">'
            f"({cond}) {html.escape(SHORT_NAMES[cond], quote=False)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (an interrupted run never leaves half a results file)."""
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_outputs(report: dict, out: Path) -> str:
    """Write ``table.md`` and ``per_class_iou.svg`` from a results.json report; return the tables."""
    runs = [RunResult(**r) for r in report["runs"]]
    tables = (
        markdown_table(runs, condition_labels(report["config"]))
        + "\n"
        + paired_table(all_paired_differences(runs))
    )
    write_text(
        out / "table.md", tables + "\n" + per_class_table(runs, report["class_names"], report["train_counts"])
    )
    seeds = len({r.seed for r in runs})
    write_text(
        out / "per_class_iou.svg",
        svg_plot(
            runs,
            report["train_counts"],
            (
                f"Per-class test IoU vs class frequency ({seeds} seeds, "
                f"{report['config']['samples']} samples/run)"
            ),
        ),
    )
    return tables
