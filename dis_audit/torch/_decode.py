"""CPU image and mask decoding shared by the Dataset and the GPU fallback path."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

#: ImageNet statistics, as BiRefNet's ``transforms.Normalize`` uses them.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

JPEG_MAGIC = b"\xff\xd8\xff"


def open_image(source: str | bytes, size: tuple[int, int] | None, *, mode: str) -> Image.Image:
    """Open ``source`` (a path or encoded bytes), convert to ``mode`` and resize to ``size`` (w, h).

    JPEGs are decoded at a reduced DCT scale (Pillow ``draft``): libjpeg can produce 1/2, 1/4
    or 1/8 size for almost no cost, and ``draft`` only picks a scale whose result is still at
    least ``size``, i.e. it engages only when the source is at least twice the target.
    The remaining resize is bilinear; Pillow widens the filter support when shrinking, so it
    is antialiased (unlike ``cv2.resize`` with INTER_LINEAR).
    """
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    with Image.open(fp) as img:
        if size is not None and img.format == "JPEG":
            img.draft(mode if mode in ("RGB", "L") else None, size)
        if img.mode != mode:
            # Palette/LA/RGBA/CMYK/16-bit all go through Pillow's own conversion rules.
            if mode == "L" and img.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(img, dtype=np.float64)
                peak = 65535.0 if arr.max() > 255 else 255.0
                out = Image.fromarray(np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8), "L")
            else:
                out = img.convert(mode)
        else:
            out = img
            out.load()
        if size is not None and out.size != tuple(size):
            out = out.resize(tuple(size), Image.BILINEAR)
        elif out is img:
            out = img.copy()  # detach from the file before the ``with`` closes it
        return out


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image → uint8 tensor CHW (C = 1 for L, 3 for RGB)."""
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if not chw.flags.writeable:  # single-channel views of Pillow's buffer are read-only
        chw = chw.copy()
    return torch.from_numpy(chw)


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
