"""PyTorch training on dis-audit manifests: Dataset, samplers, class weights, loss tracking, metrics.

This subpackage is the only part of dis_audit that imports torch (``pip install
'dis-audit[torch]'``); torchvision is imported only by :class:`GpuDecode`
(``pip install 'dis-audit[gpu]'``).
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("dis_audit.torch needs PyTorch: pip install 'dis-audit[torch]'") from exc

from ._decode import IMAGENET_MEAN, IMAGENET_STD
from .dataset import ManifestDataset, SampleReadError, collate_encoded
from .gpu import GpuDecode, GpuNormalize
from .metrics import per_class_mean, per_image_iou, rarest_k_mean, worst_k_mean
from .samplers import ClassBalancedSampler, DifficultyMixBatchSampler, HardExampleSampler
from .tracker import PerClassLossTracker
from .weights import class_weights

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ClassBalancedSampler",
    "DifficultyMixBatchSampler",
    "GpuDecode",
    "GpuNormalize",
    "HardExampleSampler",
    "ManifestDataset",
    "PerClassLossTracker",
    "SampleReadError",
    "class_weights",
    "collate_encoded",
    "per_class_mean",
    "per_image_iou",
    "rarest_k_mean",
    "worst_k_mean",
]
