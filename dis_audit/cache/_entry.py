"""One cache entry on disk: the image and mask of a sample at the training size.

* ``jpeg``: ``<entry>.png`` (the mask, lossless) then ``<entry>.jpg`` (the image, JPEG at the
  chosen quality). The image is renamed into place last, so its presence means the entry is whole.
* ``raw``: ``<entry>.npy``, one uint8 array of shape ``(4, H, W)``: channels 0-2 the image
  (C×H×W, the layout training wants), channel 3 the mask. Read memory-mapped.

Every file is written to a temporary name, fsync'd and renamed (``atomic_write_bytes``), so a
killed build leaves whole entries or none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..imaging import open_at_size, resize_rgb
from ..manifest import atomic_write_bytes

FORMATS = ("jpeg", "raw")
#: Bumped whenever the decode or resize recipe changes, so old entries stop matching.
RECIPE = "v1;image=pillow-draft+bilinear-aa;mask=pillow-draft+bilinear-aa"
NPY_HEADER = 128  # numpy's .npy header for a small uint8 array is one 64-byte-aligned block


def entry_files(base: Path, fmt: str) -> tuple[Path, ...]:
    """The files of the entry whose path without suffix is ``base``; the last one is written last."""
    if fmt == "raw":
        return (base.with_suffix(".npy"),)
    return (base.with_suffix(".png"), base.with_suffix(".jpg"))


def entry_exists(base: Path, fmt: str) -> bool:
    return entry_files(base, fmt)[-1].is_file()


def raw_entry_bytes(width: int, height: int) -> int:
    """Disk taken by one raw entry."""
    return 4 * width * height + NPY_HEADER


def build_entry(
    image: str, mask: str, base: Path, fmt: str, size: tuple[int, int], quality: int
) -> None:
    """Decode ``image`` and ``mask``, resize to ``size`` (w, h) and write the entry at ``base``."""
    rgb = resize_rgb(open_at_size(image, size, mode="RGB"), size)
    grey = open_at_size(mask, size, mode="L")
    base.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "raw":
        arr = np.empty((4, size[1], size[0]), dtype=np.uint8)
        arr[:3] = np.asarray(rgb).transpose(2, 0, 1)
        arr[3] = np.asarray(grey)
        atomic_write_bytes(entry_files(base, fmt)[0], lambda tmp: _save_npy(tmp, arr))
        return
    png, jpg = entry_files(base, fmt)
    atomic_write_bytes(png, lambda tmp: grey.save(tmp, "PNG", compress_level=1))
    atomic_write_bytes(jpg, lambda tmp: rgb.save(tmp, "JPEG", quality=quality))


def _save_npy(path: str, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: np.save would append ".npy" to the temporary name
        np.save(fh, arr, allow_pickle=False)


def read_entry(base: Path, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """The entry's image (uint8 C×H×W, contiguous) and mask (uint8 H×W)."""
    if fmt == "raw":
        arr = np.load(entry_files(base, fmt)[0], mmap_mode="r", allow_pickle=False)
        return np.array(arr[:3]), np.array(arr[3])
    png, jpg = entry_files(base, fmt)
    with Image.open(jpg) as img:
        hwc = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    with Image.open(png) as m:
        mask = np.array(m)  # a writable copy: Pillow's array view is read-only
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)), mask


def read_entry_mask(base: Path, fmt: str) -> np.ndarray:
    """Only the entry's mask (uint8 H×W)."""
    if fmt == "raw":
        return np.array(np.load(entry_files(base, fmt)[0], mmap_mode="r", allow_pickle=False)[3])
    with Image.open(entry_files(base, fmt)[0]) as m:
        return np.array(m)


def read_encoded_image(base: Path) -> bytes:
    """The cached JPEG's bytes (for decoding on the GPU)."""
    return base.with_suffix(".jpg").read_bytes()

