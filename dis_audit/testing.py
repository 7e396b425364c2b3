"""Test data: tiny synthetic images and DIS-layout dataset trees (``dis_audit.testing``).

For tests (ours and yours), the bundled example and the experiments, in the spirit of
``numpy.testing``: nothing in the library imports this module (an import-linter contract
keeps it so). Pixels are generated (a gradient plus noise, a blob mask) so trees stay small while their
file NAMES can be real ones from public datasets.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np


def _rng(key: str, seed: int) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(key.encode("utf-8", "surrogateescape")) ^ seed)


def image_array(width: int, height: int, key: str = "", seed: int = 0) -> np.ndarray:
    """An RGB uint8 array: a colour gradient plus noise, different for each ``key``."""
    rng = _rng(key, seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(0, 255, size=3).astype(np.float32)
    img = np.stack(
        [base[0] + 120 * x / max(width, 1), base[1] + 120 * y / max(height, 1), base[2] + 60 * (x + y) / max(width + height, 1)],
        axis=-1,
    )
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def mask_array(width: int, height: int, key: str = "", seed: int = 0) -> np.ndarray:
    """A binary (0/255) uint8 mask with one ellipse, placed differently for each ``key``."""
    rng = _rng(key, seed + 1)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    rx, ry = rng.uniform(0.15, 0.35) * width, rng.uniform(0.15, 0.35) * height
    inside = ((x - cx) / max(rx, 1)) ** 2 + ((y - cy) / max(ry, 1)) ** 2 <= 1.0
    return (inside * 255).astype(np.uint8)


_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}


def write_image(path: str | Path, array: np.ndarray, mode: str | None = None, quality: int = 90) -> Path:
    """Save ``array`` at ``path`` in the format its extension names (case-insensitive)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(array)
    if mode and im.mode != mode:
        im = im.convert(mode)
    fmt = _FORMATS.get(path.suffix.lower(), "PNG")
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    im.save(path, format=fmt, **kwargs)
    return path


def make_pair(
    root: str | Path,
    dataset: str,
    stem: str,
    *,
    size: tuple[int, int] = (32, 24),
    mask_size: tuple[int, int] | None = None,
    image_ext: str = ".jpg",
    mask_ext: str | None = ".png",
    image_dir: str = "im",
    mask_dir: str = "gt",
    mask_mode: str = "L",
    seed: int = 0,
) -> tuple[Path, Path | None]:
    """Write one image (and its mask unless ``mask_ext`` is None) under ``root/dataset/{im,gt}``."""
    width, height = size
    base = Path(root) / dataset
    image = write_image(base / image_dir / f"{stem}{image_ext}", image_array(width, height, stem, seed))
    mask = None
    if mask_ext is not None:
        mw, mh = mask_size or size
        mask = write_image(base / mask_dir / f"{stem}{mask_ext}", mask_array(mw, mh, stem, seed), mode=mask_mode)
    return image, mask
