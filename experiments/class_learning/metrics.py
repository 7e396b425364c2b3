"""What only this experiment measures: pooled pixel IoU, its summary keys, and statistics over seeds.

Per-image IoU, per-class means and the rarest-k / worst-k means are the public
:mod:`dis_audit.torch.metrics` functions, so users can measure the same on their data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dis_audit.torch import rarest_k_mean, worst_k_mean

from .config import RunResult

#: The per-run metrics averaged over seeds, in table order.
METRIC_KEYS = ("mean_iou", "rarest5_iou", "worst5_iou", "pixel_iou", "aux_accuracy", "wall_s")
#: The summary IoUs compared seed by seed against (a) and (b).
PAIRED_KEYS = ("mean_iou", "rarest5_iou", "worst5_iou")


def pooled_iou(pred: torch.Tensor, target: torch.Tensor) -> float:
    """IoU over all pixels of all images together."""
    pred, target = pred.bool(), target.bool()
    union = int((pred | target).sum())
    return float((pred & target).sum()) / union if union else 1.0


def summary_metrics(class_iou: np.ndarray, train_counts: Sequence[int], k: int = 5) -> dict[str, float]:
    """Mean over classes, mean of the ``k`` rarest training classes and of the ``k`` worst classes.

    The keys say 5 whatever ``k`` is: they are results.json's field names.
    """
    return {
        "mean_iou": float(np.nanmean(class_iou)),
        "rarest5_iou": rarest_k_mean(class_iou, train_counts, k),
        "worst5_iou": worst_k_mean(class_iou, k),
    }


def aggregate(runs: Sequence[RunResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per condition: metric → (mean, sample std over seeds; 0 with one seed)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for cond in dict.fromkeys(r.condition for r in runs):
        rows = [r for r in runs if r.condition == cond]
        out[cond] = {}
        for key in METRIC_KEYS:
            vals = np.array([getattr(r, key) for r in rows], dtype=np.float64)
            out[cond][key] = (float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0)
    return out


def paired_differences(
    runs: Sequence[RunResult], baseline: str, key: str = "mean_iou"
) -> dict[str, tuple[float, float]]:
    """Per condition: mean and sample std over seeds of ``metric(condition) - metric(baseline)``.

    Only seeds that both conditions ran are paired.
    """
    by = {(r.condition, r.seed): getattr(r, key) for r in runs}
    out = {}
    for cond in dict.fromkeys(r.condition for r in runs):
        diffs = np.array(
            [by[(cond, s)] - by[(baseline, s)] for (c, s) in by if c == cond and (baseline, s) in by]
        )
        if len(diffs):
            out[cond] = (float(diffs.mean()), float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0)
    return out


def all_paired_differences(runs: Sequence[RunResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{"<metric>_vs_<a|b>": paired_differences(...)}`` for the summary IoUs.

    Against (a) and against (b), each when it was run (and something else was run beside it).
    """
    conditions = {r.condition for r in runs}
    return {
        f"{key}_vs_{base}": paired_differences(runs, base, key)
        for base in ("a", "b")
        if base in conditions and len(conditions) > 1
        for key in PAIRED_KEYS
    }
