"""One cache entry on disk: the image and mask of a sample at the training size.

* ``jpeg``: ``<entry>.msk`` (the mask, lossless: raw uint8 H×W, zstd-compressed; see
  ``mask_bytes``) then ``<entry>.jpg`` (the image, JPEG at the chosen quality). The image is
  renamed into place last, so its presence means the entry is whole. A mask reads in ~0.5 ms
  where the PNG that caches before 0.5 held took ~3 ms at 1024² (``benchmarks/cache_bench.py``);
  those caches still read (their ``<entry>.png`` masks), and a build rebuilds their entries.
* ``raw``: ``<entry>.npy``, one uint8 array of shape ``(4, H, W)``: channels 0-2 the image
  (C×H×W, the layout training wants), channel 3 the mask. Read memory-mapped.

Every file is written to a temporary name, fsync'd and renamed (``atomic_write_bytes``), so a
killed build leaves whole entries or none.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image

from ..imaging import open_at_size, resize_rgb
from ..manifest import atomic_write_bytes

FORMATS = ("jpeg", "raw")
#: Bumped whenever the decode or resize recipe changes, so old entries stop matching.
RECIPE = "v1;image=pillow-draft+bilinear-aa;mask=pillow-draft+bilinear-aa"
NPY_HEADER = 128  # numpy's .npy header for a small uint8 array is one 64-byte-aligned block
#: ``.msk`` files: magic, codec (``zstd``, or ``zlib`` where pyarrow lacks zstd), width, height.
MASK_MAGIC = b"DAM1"
_MASK_HEADER = struct.Struct("<4s4sII")
#: Mask file of ``jpeg`` entries built before the ``.msk`` container (still read, never written).
LEGACY_MASK_SUFFIX = ".png"


def entry_files(base: Path, fmt: str) -> tuple[Path, ...]:
    """The files of the entry whose path without suffix is ``base``; the last one is written last."""
    if fmt == "raw":
        return (base.with_suffix(".npy"),)
    return (base.with_suffix(".msk"), base.with_suffix(".jpg"))


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
    msk, jpg = entry_files(base, fmt)
    data = mask_bytes(np.asarray(grey))
    atomic_write_bytes(msk, lambda tmp: Path(tmp).write_bytes(data))
    atomic_write_bytes(jpg, lambda tmp: rgb.save(tmp, "JPEG", quality=quality))


def mask_bytes(mask: np.ndarray) -> bytes:
    """A uint8 H×W mask as a ``.msk`` file: header, then the pixels row by row, compressed."""
    height, width = mask.shape
    raw = np.ascontiguousarray(mask, dtype=np.uint8).tobytes()
    if pa.Codec.is_available("zstd"):
        codec, body = b"zstd", pa.compress(raw, codec="zstd", asbytes=True)
    else:
        codec, body = b"zlib", zlib.compress(raw, 1)
    return _MASK_HEADER.pack(MASK_MAGIC, codec, width, height) + body


def mask_from_bytes(data: bytes, where: Path | str = "mask") -> np.ndarray:
    """The uint8 H×W mask of a ``.msk`` file's bytes (a writable array); ValueError if it is not one."""
    if len(data) < _MASK_HEADER.size:
        raise ValueError(f"{where}: not a dis-audit mask file (too short)")
    magic, codec, width, height = _MASK_HEADER.unpack_from(data)
    if magic != MASK_MAGIC:
        raise ValueError(f"{where}: not a dis-audit mask file")
    body = data[_MASK_HEADER.size :]
    if codec not in (b"zstd", b"zlib"):
        raise ValueError(f"{where}: unknown mask codec {codec!r}")
    try:
        if codec == b"zstd":
            raw = pa.decompress(body, width * height, codec="zstd", asbytes=True)
        else:
            raw = zlib.decompress(body)
    except (OSError, pa.ArrowException, zlib.error) as exc:
        raise ValueError(f"{where}: damaged mask data ({exc})") from exc
    if len(raw) != width * height:
        raise ValueError(f"{where}: mask data is {len(raw)} bytes, not {width}x{height}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width).copy()


def _read_mask(base: Path) -> np.ndarray:
    """The ``jpeg`` entry's mask: ``.msk``, else the PNG of a cache built before it."""
    msk = base.with_suffix(".msk")
    try:
        data = msk.read_bytes()
    except FileNotFoundError:
        with Image.open(base.with_suffix(LEGACY_MASK_SUFFIX)) as m:
            return np.array(m)  # a writable copy: Pillow's array view is read-only
    return mask_from_bytes(data, msk)


def _save_npy(path: str, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: np.save would append ".npy" to the temporary name
        np.save(fh, arr, allow_pickle=False)


def read_entry(base: Path, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """The entry's image (uint8 C×H×W, contiguous) and mask (uint8 H×W)."""
    if fmt == "raw":
        arr = np.load(entry_files(base, fmt)[0], mmap_mode="r", allow_pickle=False)
        return np.array(arr[:3]), np.array(arr[3])
    with Image.open(entry_files(base, fmt)[-1]) as img:
        hwc = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)), _read_mask(base)


def read_entry_mask(base: Path, fmt: str) -> np.ndarray:
    """Only the entry's mask (uint8 H×W)."""
    if fmt == "raw":
        return np.array(np.load(entry_files(base, fmt)[0], mmap_mode="r", allow_pickle=False)[3])
    return _read_mask(base)


def read_encoded_image(base: Path) -> bytes:
    """The cached JPEG's bytes (for decoding on the GPU)."""
    return base.with_suffix(".jpg").read_bytes()

