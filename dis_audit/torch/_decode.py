"""CPU image and mask decoding shared by the Dataset and the GPU fallback path."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dis_audit.imaging import open_at_size

#: ImageNet statistics, as BiRefNet's ``transforms.Normalize`` uses them.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

JPEG_MAGIC = b"\xff\xd8\xff"


def _hwc_tensor(img: Image.Image) -> torch.Tensor:
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    with warnings.catch_warnings():
        # Pillow hands out a read-only buffer; it is only read (resize or copy follows).
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(arr)


def decode_image(source: str | bytes, size: tuple[int, int] | None, *, mode: str) -> torch.Tensor:
    """Decode ``source`` (a path or encoded bytes) to a uint8 ``C×H×W`` tensor of ``size`` (w, h).

    JPEGs are decoded at a reduced DCT scale (Pillow ``draft``): libjpeg produces 1/2, 1/4 or
    1/8 size at a fraction of the cost, and ``draft`` only picks a scale whose result is
    still at least ``size``, so it engages only when the source is at least twice the target.

    Resizing is bilinear with antialiasing (the filter widens when shrinking, unlike
    ``cv2.resize`` INTER_LINEAR). RGB images are resized by torch's uint8 kernel (several
    times faster than Pillow's, within 1 level of it); single-channel masks by Pillow
    (torch's kernel has no fast path for one channel).
    """
    out = open_at_size(source, size, mode=mode)
    hwc = _hwc_tensor(out)
    chw = hwc.permute(2, 0, 1)
    if size is not None and (chw.shape[2], chw.shape[1]) != tuple(size):
        # (1, C, H, W) view of HWC memory is channels_last: the layout torch's fast kernel wants.
        chw = F.interpolate(chw[None], size=(size[1], size[0]), mode="bilinear", align_corners=False, antialias=True)[0]
    result = chw.contiguous()
    if result.data_ptr() == hwc.data_ptr():  # still Pillow's read-only buffer: own a copy
        result = result.clone()
    return result


def normalize_uint8(
    images: torch.Tensor,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """uint8 (..., 3, H, W) → float ``(x / 255 - mean) / std``, in one multiply-add pass."""
    shape = (3, 1, 1)
    m = torch.tensor(mean, dtype=dtype, device=images.device).view(shape)
    s = torch.tensor(std, dtype=dtype, device=images.device).view(shape)
    scale = 1.0 / (255.0 * s)
    return torch.addcmul(-m / s, images.to(dtype), scale)


def is_jpeg(data: bytes | memoryview) -> bool:
    """True when ``data`` starts with the JPEG SOI marker (content, not the extension, decides)."""
    return bytes(data[:3]) == JPEG_MAGIC
