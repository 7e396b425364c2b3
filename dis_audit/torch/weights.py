"""Per-class loss weights for ``CrossEntropyLoss(weight=...)``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def class_weights(
    counts: Sequence[int] | np.ndarray | torch.Tensor,
    scheme: str = "inverse",
    beta: float = 0.999,
) -> torch.Tensor:
    """Class weights from per-class sample counts (e.g. ``ManifestDataset.class_counts()``).

    Schemes (raw weight of a class with ``n`` samples):

    * ``"inverse"``: ``1 / n``;
    * ``"sqrt"``: ``1 / sqrt(n)``;
    * ``"effective"``: ``(1 - beta) / (1 - beta ** n)``, the effective number of samples of
      Cui et al., CVPR 2019 (``beta -> 0`` gives uniform weights, ``beta -> 1`` inverse).

    The weights of the classes that have samples are scaled to sum to their number, so the
    mean weight is 1 and the loss keeps its scale. Classes with zero samples get weight 0:
    they never occur as a training target, and a finite value avoids inf/NaN.

    Returns:
        float32 tensor of the same length as ``counts``.
    """
    n = counts.detach().cpu().numpy() if isinstance(counts, torch.Tensor) else np.asarray(counts)
    n = n.astype(np.float64).reshape(-1)
    if len(n) == 0:
        raise ValueError("counts is empty")
    if (n < 0).any() or not np.isfinite(n).all():
        raise ValueError("counts must be finite and non-negative")
    present = n > 0
    if not present.any():
        raise ValueError("every class count is zero; there is nothing to weight")
    raw = np.zeros_like(n)
    if scheme == "inverse":
        raw[present] = 1.0 / n[present]
    elif scheme == "sqrt":
        raw[present] = 1.0 / np.sqrt(n[present])
    elif scheme == "effective":
        if not 0 <= beta < 1:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        # 1 - beta**n via expm1/log1p stays accurate when beta is close to 1.
        raw[present] = (1.0 - beta) / -np.expm1(n[present] * np.log(beta)) if beta > 0 else 1.0
    else:
        raise ValueError(f"scheme must be 'inverse', 'sqrt' or 'effective', not {scheme!r}")
    raw *= present.sum() / raw.sum()
    return torch.tensor(raw, dtype=torch.float32)
