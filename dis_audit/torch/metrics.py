"""Segmentation metrics per image and per class: what docs/class_learning.md measures, for your own data.

Typical evaluation loop::

    ious, ids = [], []
    for images, masks, class_ids in loader:            # ManifestDataset items
        pred = model(images).sigmoid()                   # probabilities, thresholded at 0.5
        ious.append(per_image_iou(pred, masks))          # one IoU per image
        ids.append(class_ids)
    class_iou = per_class_mean(torch.cat(ious), torch.cat(ids), num_classes=len(vocabulary))
    rarest_k_mean(class_iou, ds.class_counts(), k=5), worst_k_mean(class_iou, k=5)

Per-class values are numpy float64 arrays with NaN for a class that has no images, so a missing
class stays visible instead of counting as 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["per_class_mean", "per_image_iou", "rarest_k_mean", "worst_k_mean"]


def _binarize(mask: torch.Tensor, threshold: float) -> torch.Tensor:
    """Foreground of a mask batch: bool as is, uint8 on its 0..255 scale, other dtypes on their own scale."""
    if mask.dtype == torch.bool:
        return mask
    if mask.dtype == torch.uint8:
        # ManifestDataset(output="uint8") masks are 0..255; x > 255 * t keeps 127/128 apart at t = 0.5.
        return mask.float() > threshold * 255
    return mask > threshold


def per_image_iou(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Intersection over union of predicted and target masks, one value per image.

    Args:
        pred: a batch of predictions, ``B×H×W`` or ``B×1×H×W`` (any shape with the batch first).
            ``bool`` is used as is; ``uint8`` is read on a 0..255 scale; any other dtype
            (probabilities, 0/1 label maps) is compared with ``threshold`` directly. Pass
            ``logits > 0`` (bool) rather than raw logits.
        target: the ground-truth masks, same shape and the same dtype rules.
        threshold: foreground is ``value > threshold`` (``> threshold * 255`` for uint8).

    Returns:
        float64 tensor of length ``B`` on the input's device. An image where both masks are
        empty scores 1 (nothing to find, nothing predicted); an empty target with a non-empty
        prediction scores 0.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if pred.dim() < 2:
        raise ValueError(f"expected a batch of masks (B×H×W), got shape {tuple(pred.shape)}")
    p = _binarize(pred, threshold).reshape(len(pred), -1)
    t = _binarize(target, threshold).reshape(len(target), -1)
    inter = (p & t).sum(1).double()
    union = (p | t).sum(1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def _as_numpy(values: Sequence[float] | Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def per_class_mean(
    values: Sequence[float] | np.ndarray | torch.Tensor,
    class_ids: Sequence[int] | np.ndarray | torch.Tensor,
    num_classes: int | None = None,
) -> np.ndarray:
    """Mean of per-sample ``values`` (e.g. :func:`per_image_iou`) for each class id.

    Averaging per image first, then per class, weighs every class equally however many test
    images it has (a "mean IoU over classes"), unlike pooling all pixels.

    Args:
        values: one number per sample.
        class_ids: the class id of each sample, same length. Negative ids (``ManifestDataset``'s
            ``ignore_index`` for an unknown label) are left out.
        num_classes: length of the result (default ``max(class_ids) + 1``); pass the vocabulary
            size so classes absent from this batch still get a slot.

    Returns:
        float64 array of length ``num_classes``; NaN for a class without samples.
    """
    vals = _as_numpy(values).astype(np.float64).reshape(-1)
    ids = _as_numpy(class_ids).reshape(-1)
    if len(vals) != len(ids):
        raise ValueError(f"values and class_ids differ in length: {len(vals)} and {len(ids)}")
    if len(ids) and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"class_ids must be integers, got dtype {ids.dtype}")
    if num_classes is None:
        num_classes = max(int(ids.max()) + 1, 0) if len(ids) else 0
    elif len(ids) and int(ids.max()) >= num_classes:
        raise ValueError(f"class id {int(ids.max())} is out of range for num_classes={num_classes}")
    out = np.full(num_classes, np.nan)
    for class_id in range(num_classes):
        hit = ids == class_id
        if hit.any():
            out[class_id] = vals[hit].mean()
    return out


def rarest_k_mean(
    per_class: Sequence[float] | np.ndarray | torch.Tensor,
    class_counts: Sequence[int] | np.ndarray | torch.Tensor,
    k: int = 5,
) -> float:
    """Mean of ``per_class`` over the ``k`` classes with the fewest training samples.

    ``class_counts`` are the training counts per class id (e.g. ``ManifestDataset.class_counts()``);
    ties go to the lower class id, so the set is fixed for a dataset. Classes with NaN (no test
    images) are left out of the mean, not replaced.
    """
    values = _as_numpy(per_class).astype(np.float64).reshape(-1)
    counts = _as_numpy(class_counts).reshape(-1)
    if len(values) != len(counts):
        raise ValueError(f"per_class and class_counts differ in length: {len(values)} and {len(counts)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    rarest = np.lexsort((np.arange(len(counts)), counts))[:k]  # fewest samples first, ties by id
    return float(np.nanmean(values[rarest]))


def worst_k_mean(per_class: Sequence[float] | np.ndarray | torch.Tensor, k: int = 5) -> float:
    """Mean of the ``k`` lowest values of ``per_class`` (NaN classes ignored).

    The set is chosen from the values themselves, so it is biased low against a fixed set such as
    :func:`rarest_k_mean`'s; compare it between runs, not with other summaries.
    """
    values = _as_numpy(per_class).astype(np.float64).reshape(-1)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    present = np.sort(values[~np.isnan(values)])
    if not len(present):
        raise ValueError("per_class has no values (all NaN or empty)")
    return float(present[:k].mean())
