"""Decoding to the training size with Pillow: the one definition the Dataset and the cache share.

``open_at_size`` opens a file (or encoded bytes), lets libjpeg decode a JPEG at a reduced DCT
scale when the file is at least twice the target, and converts to the wanted mode; for a
single-channel mask it also resizes (bilinear, antialiased). ``dis_audit.torch`` resizes RGB
images with torch's faster kernel; the cache resizes them with Pillow (no torch needed), so
cached images match the Dataset's within a small error while cached masks are identical.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

__all__ = ["open_at_size", "resize_rgb", "to_mode"]


def _open(source: str | bytes | bytearray | memoryview) -> Image.Image:
    return Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source)


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """``img`` in ``mode`` ("RGB" or "L"); 16-bit greyscale is scaled to 8 bits, not clipped."""
    if img.mode == mode:
        img.load()
        return img
    if mode == "L" and img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit masks: scale to 8 bits instead of Pillow's clipping conversion.
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8), "L")
    return img.convert(mode)  # palette/LA/RGBA/CMYK follow Pillow's own rules


def open_at_size(source: str | bytes | bytearray | memoryview, size: tuple[int, int] | None, *, mode: str) -> Image.Image:
    """Decode ``source`` in ``mode``; single-channel results are resized to ``size`` (w, h) here.

    RGB results keep the (possibly reduced-scale) decoded size: the caller resizes them.
    The returned image is loaded and independent of the file.
    """
    with _open(source) as img:
        if size is not None and img.format == "JPEG":
            # draft only picks a scale whose result is still at least ``size``.
            img.draft(mode if mode in ("RGB", "L") else None, size)
        out = to_mode(img, mode)
        if mode != "RGB" and size is not None and out.size != (size[0], size[1]):
            out = out.resize((size[0], size[1]), Image.Resampling.BILINEAR)
        if out is img:  # still tied to the file that the with-block closes
            out = out.copy()
    return out


def resize_rgb(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Pillow's antialiased bilinear resize to ``size`` (w, h): the cache's image filter."""
    if img.size == (size[0], size[1]):
        return img
    return img.resize((size[0], size[1]), Image.Resampling.BILINEAR)
