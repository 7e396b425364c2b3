"""dis_audit.torch.metrics on hand-made masks: per-image IoU, per-class means, rarest-k and worst-k."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dis_audit.torch as dt
from dis_audit.torch import per_class_mean, per_image_iou, rarest_k_mean, worst_k_mean


def _square(size: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    m = torch.zeros(size, size, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


EMPTY = torch.zeros(8, 8, dtype=torch.bool)
TARGET = _square(8, 0, 4, 0, 4)  # 16 pixels
HALF = _square(8, 0, 4, 2, 6)  # 16 pixels, 8 shared with TARGET -> 8 / 24


def test_the_metrics_are_public():
    for name in ("per_image_iou", "per_class_mean", "rarest_k_mean", "worst_k_mean"):
        assert name in dt.__all__ and getattr(dt, name).__doc__


def test_iou_of_known_masks():
    pred = torch.stack([TARGET, HALF, EMPTY, EMPTY, TARGET])
    gt = torch.stack([TARGET, TARGET, TARGET, EMPTY, EMPTY])
    iou = per_image_iou(pred, gt)
    assert iou.dtype == torch.float64 and iou.shape == (5,)
    # Perfect, 8/24, nothing found, both empty (nothing to find, nothing predicted), a false alarm.
    assert iou.tolist() == pytest.approx([1.0, 1 / 3, 0.0, 1.0, 0.0])


def test_channel_dimension_and_symmetry():
    pred, gt = torch.stack([HALF])[:, None], torch.stack([TARGET])[:, None]  # B×1×H×W
    assert per_image_iou(pred, gt).tolist() == pytest.approx([1 / 3])
    assert per_image_iou(gt, pred).tolist() == pytest.approx([1 / 3])


def test_probabilities_are_thresholded_strictly():
    gt = torch.stack([TARGET])
    prob = TARGET.double()[None] * 0.7 + HALF.double()[None] * 0.2  # TARGET at 0.7 or 0.9, HALF-only at 0.2
    assert per_image_iou(prob, gt).tolist() == [1.0]
    assert per_image_iou(prob, gt, threshold=0.8).tolist() == pytest.approx([8 / 16])  # only the overlap, 0.9
    at_threshold = torch.full((1, 8, 8), 0.5)
    assert per_image_iou(at_threshold, gt).tolist() == [0.0]  # 0.5 is not foreground at threshold 0.5


def test_uint8_masks_are_read_on_their_0_to_255_scale():
    gt = torch.stack([TARGET]).to(torch.uint8) * 255
    soft = torch.zeros(1, 8, 8, dtype=torch.uint8)
    soft[0, 0:4, 0:2] = 128  # just above half
    soft[0, 0:4, 2:4] = 127  # just below half
    assert per_image_iou(soft, gt).tolist() == pytest.approx([8 / 16])
    assert per_image_iou(gt, gt).tolist() == [1.0]


def test_shape_mismatch_and_missing_batch_dimension_raise():
    with pytest.raises(ValueError, match="same shape"):
        per_image_iou(torch.stack([TARGET]), TARGET[None, :4])
    with pytest.raises(ValueError, match="batch"):
        per_image_iou(TARGET.flatten(), TARGET.flatten())


def test_per_class_mean_with_a_missing_class():
    class_iou = per_class_mean([1.0, 0.5, 0.2, 0.4, 0.9], [0, 0, 1, 1, 3], num_classes=5)
    assert class_iou.dtype == np.float64 and len(class_iou) == 5
    assert class_iou[[0, 1, 3]].tolist() == pytest.approx([0.75, 0.3, 0.9])
    assert math.isnan(class_iou[2]) and math.isnan(class_iou[4])  # no samples: NaN, not 0


def test_per_class_mean_takes_tensors_and_skips_ignored_ids():
    values = per_image_iou(torch.stack([TARGET, HALF, EMPTY]), torch.stack([TARGET, TARGET, TARGET]))
    class_iou = per_class_mean(values, torch.tensor([1, 1, -100]))
    assert len(class_iou) == 2 and math.isnan(class_iou[0])  # length from the largest id
    assert class_iou[1] == pytest.approx((1 + 1 / 3) / 2)  # the ignore_index sample is left out


def test_per_class_mean_refuses_bad_input():
    with pytest.raises(ValueError, match="length"):
        per_class_mean([0.5, 0.5], [0])
    with pytest.raises(ValueError, match="integers"):
        per_class_mean([0.5], [0.0])
    with pytest.raises(ValueError, match="out of range"):
        per_class_mean([0.5], [3], num_classes=3)


def test_rarest_and_worst_k():
    ious = np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2])
    counts = [100, 3, 50, 3, 10, 20, 5]
    assert rarest_k_mean(ious, counts, k=3) == pytest.approx((0.1 + 0.7 + 0.2) / 3)  # classes with 3, 3, 5
    assert worst_k_mean(ious, k=3) == pytest.approx((0.1 + 0.2 + 0.3) / 3)
    # Ties in count go to the lower class id: of the two 3-image classes, class 1 comes first.
    assert rarest_k_mean(ious, counts, k=1) == pytest.approx(0.1)
    assert rarest_k_mean(torch.tensor(ious), torch.tensor(counts), k=1) == pytest.approx(0.1)
    # NaN classes (no test images) are left out of both.
    with_nan = np.array([np.nan, 0.4, 0.6])
    assert rarest_k_mean(with_nan, [1, 2, 3], k=2) == pytest.approx(0.4)
    assert worst_k_mean(with_nan, k=2) == pytest.approx(0.5)
    assert worst_k_mean(with_nan, k=10) == pytest.approx(0.5)  # k beyond the classes: all of them


def test_rarest_and_worst_k_refuse_bad_input():
    with pytest.raises(ValueError, match="length"):
        rarest_k_mean([0.5, 0.5], [1])
    with pytest.raises(ValueError, match="k must"):
        worst_k_mean([0.5], k=0)
    with pytest.raises(ValueError, match="no values"):
        worst_k_mean([float("nan")])
