"""Data trees with one defect kind per dataset folder, for the fidelity tests against BiRefNet's real MyData.

``build_tree(task_root, image_dir, mask_dir)`` writes ``task_root/<kind>/<image_dir>|<mask_dir>``
for every kind in ``KINDS`` (two good pairs beside each defect) and returns the kind names. A kind
in ``DEEP_ONLY`` is damaged only in its pixel data, which a header scan cannot see.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

GOOD = ("1#Accessories#6#Bag#g1_o", "12#Sports#60#Kite#g2_o")
Writer = Callable[[Path, Path], None]


def _array(w: int = 40, h: int = 30, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = ((x * 5 + y * 3 + seed * 17) % 256).astype(np.uint8)
    noise = rng.integers(0, 30, (h, w, channels), dtype=np.uint8)
    return (base[..., None] + noise).astype(np.uint8) if channels > 1 else base


def _mask(w: int = 40, h: int = 30) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 255
    return m


def encode(arr: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(arr)
    if mode:
        img = img.convert(mode)
    img.save(buf, fmt)
    return buf.getvalue()


def _pair(im: Path, gt: Path, stem: str, image_ext: str = ".jpg", mask_ext: str | None = ".png", *,
          image: bytes | None = None, mask: bytes | None = None) -> None:
    im.mkdir(parents=True, exist_ok=True)
    gt.mkdir(parents=True, exist_ok=True)
    fmt = {".png": "PNG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF"}.get(image_ext.lower(), "JPEG")
    (im / f"{stem}{image_ext}").write_bytes(image if image is not None else encode(_array(), fmt))
    if mask_ext is not None:
        mfmt = "JPEG" if mask_ext.lower() in (".jpg", ".jpeg") else ("BMP" if mask_ext == ".bmp" else "PNG")
        (gt / f"{stem}{mask_ext}").write_bytes(mask if mask is not None else encode(_mask(), mfmt))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` 1-bit pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes((width + 7) // 8)
    z = zlib.compressobj(9)  # every row, all zero: a complete image that compresses to a few hundred KB
    idat = b"".join(z.compress(row * 1000) for _ in range(height // 1000)) + z.compress(row * (height % 1000))
    idat += z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _cut(data: bytes, frac: float) -> bytes:
    return data[: int(len(data) * frac)]


def _corrupt_idat(data: bytes) -> bytes:
    start = data.index(b"IDAT") + 8
    assert start + 40 < len(data) - 12, "too small to corrupt without touching IEND"
    return data[:start] + bytes(40) + data[start + 40 :]


S = "3#Aircraft#9#Kite#x"  # the defect file's stem when the name itself is fine
JPG = encode(_array(), "JPEG")
PNG = encode(_array(), "PNG")
MPNG = encode(_mask(), "PNG")
MJPG = encode(_mask(), "JPEG")
# Big enough that 60 % of the file lies well inside the scan data, not in the tables before it.
BIG_JPG = encode(_array(320, 240), "JPEG")
BIG_MPNG = encode(_mask(320, 240), "PNG")
BIG_MJPG = encode(_mask(320, 240) // 2 + _array(320, 240, channels=1) // 2, "JPEG")


def _kinds() -> dict[str, Writer]:
    k: dict[str, Writer] = {}
    k["clean"] = lambda im, gt: _pair(im, gt, "2#Aircraft#5#Airplane#c_o")
    k["unknown-class"] = lambda im, gt: _pair(im, gt, "1#Reptile#1#Snake#x")
    k["class-case"] = lambda im, gt: _pair(im, gt, "1#Aircraft#1#airplane#x")
    k["too-few-fields"] = lambda im, gt: _pair(im, gt, "IMG_0001")
    k["four-fields"] = lambda im, gt: _pair(im, gt, "1#Accessories#6#Bag")
    k["extra-fields"] = lambda im, gt: _pair(im, gt, "1#Accessories#6#Bag#a#b")
    k["non-numeric-index"] = lambda im, gt: _pair(im, gt, "x#Accessories#y#Bag#1_o")
    k["class-with-space"] = lambda im, gt: _pair(im, gt, "1#Accessories#6#Bag #x")
    k["dots-in-name"] = lambda im, gt: _pair(im, gt, "1#Accessories#6#Bag#a.b.c")
    k["ext-jpeg"] = lambda im, gt: _pair(im, gt, S, ".jpeg")
    k["ext-upper-JPEG"] = lambda im, gt: _pair(im, gt, S, ".JPEG")
    k["ext-upper-JPG"] = lambda im, gt: _pair(im, gt, S, ".JPG")
    k["ext-upper-PNG"] = lambda im, gt: _pair(im, gt, S, ".PNG")
    k["ext-mixed-Jpg"] = lambda im, gt: _pair(im, gt, S, ".Jpg")
    k["ext-png-image"] = lambda im, gt: _pair(im, gt, S, ".png")
    k["ext-webp"] = lambda im, gt: _pair(im, gt, S, ".webp")
    k["ext-bmp"] = lambda im, gt: _pair(im, gt, S, ".bmp")
    k["mask-jpg"] = lambda im, gt: _pair(im, gt, S, mask_ext=".jpg")
    k["mask-PNG"] = lambda im, gt: _pair(im, gt, S, mask_ext=".PNG")
    k["mask-jpeg"] = lambda im, gt: _pair(im, gt, S, mask_ext=".jpeg")
    k["mask-bmp"] = lambda im, gt: _pair(im, gt, S, mask_ext=".bmp")
    k["missing-mask"] = lambda im, gt: _pair(im, gt, S, mask_ext=None)

    def orphan(im: Path, gt: Path) -> None:
        gt.mkdir(parents=True, exist_ok=True)
        (gt / f"{S}.png").write_bytes(MPNG)
    k["orphan-mask"] = orphan

    def nested(im: Path, gt: Path) -> None:
        _pair(im / "sub", gt / "sub", S)
    k["nested"] = nested

    def nested_flat_mask(im: Path, gt: Path) -> None:
        _pair(im / "sub", gt, S)
    k["nested-image-flat-mask"] = nested_flat_mask
    k["dot-jpg-alone"] = lambda im, gt: _pair(im, gt, "", ".jpg", mask_ext=None)
    k["dot-jpg-with-mask"] = lambda im, gt: _pair(im, gt, "", ".jpg")
    k["appledouble"] = lambda im, gt: _pair(im, gt, "._" + S, image=b"\x00\x05\x16\x07" + bytes(60))

    def clutter(im: Path, gt: Path) -> None:
        _pair(im, gt, S)
        for name in (".DS_Store", "Thumbs.db", "notes.txt", "README"):
            (im / name).write_bytes(b"x")
            (gt / name).write_bytes(b"x")
    k["clutter"] = clutter
    k["zero-byte-im"] = lambda im, gt: _pair(im, gt, S, image=b"")
    k["zero-byte-gt"] = lambda im, gt: _pair(im, gt, S, mask=b"")
    k["text-as-jpg"] = lambda im, gt: _pair(im, gt, S, image=b"this is not an image\n" * 5)
    k["text-as-mask"] = lambda im, gt: _pair(im, gt, S, mask=b"this is not an image\n" * 5)
    k["png-content-jpg-name"] = lambda im, gt: _pair(im, gt, S, image=PNG)
    k["jpeg-content-png-mask"] = lambda im, gt: _pair(im, gt, S, mask=MJPG)
    k["jpeg-cut-header"] = lambda im, gt: _pair(im, gt, S, image=JPG[:30])
    k["jpeg-cut-before-scan"] = lambda im, gt: _pair(im, gt, S, image=JPG[: JPG.index(b"\xff\xda")])
    k["jpeg-cut-after-sos"] = lambda im, gt: _pair(im, gt, S, image=JPG[: JPG.index(b"\xff\xda") + 20])
    k["jpeg-cut-mid-scan"] = lambda im, gt: _pair(im, gt, S, image=_cut(BIG_JPG, 0.6), mask=BIG_MPNG)
    k["jpeg-small-cut-60pc"] = lambda im, gt: _pair(im, gt, S, image=_cut(JPG, 0.6))
    k["jpeg-no-eoi"] = lambda im, gt: _pair(im, gt, S, image=JPG[:-2])
    k["jpeg-mask-cut-mid-scan"] = lambda im, gt: _pair(
        im, gt, S, image=BIG_JPG, mask_ext=".jpg", mask=_cut(BIG_MJPG, 0.6))
    k["png-cut-header"] = lambda im, gt: _pair(im, gt, S, ".png", image=PNG[:20])
    k["png-cut-pixels"] = lambda im, gt: _pair(im, gt, S, ".png", image=_cut(PNG, 0.6))
    k["png-no-iend"] = lambda im, gt: _pair(im, gt, S, ".png", image=PNG[:-12])
    k["png-mask-cut-pixels"] = lambda im, gt: _pair(im, gt, S, mask=_cut(MPNG, 0.7))
    k["png-corrupt-idat"] = lambda im, gt: _pair(im, gt, S, ".png", image=_corrupt_idat(PNG))
    k["png-mask-corrupt-idat"] = lambda im, gt: _pair(
        im, gt, S, mask=_corrupt_idat(encode(np.ascontiguousarray(_array()[..., 0]), "PNG")))
    k["mask-size-mismatch"] = lambda im, gt: _pair(im, gt, S, mask=encode(_mask(20, 20), "PNG"))
    k["mask-rgb"] = lambda im, gt: _pair(im, gt, S, mask=encode(_mask(), "PNG", "RGB"))
    k["mask-16bit"] = lambda im, gt: _pair(
        im, gt, S, mask=encode((_mask().astype(np.uint16) * 257), "PNG"))
    k["image-rgba"] = lambda im, gt: _pair(im, gt, S, ".png", image=encode(_array(), "PNG", "RGBA"))
    k["image-palette"] = lambda im, gt: _pair(im, gt, S, ".png", image=encode(_array(), "PNG", "P"))
    k["image-grey"] = lambda im, gt: _pair(im, gt, S, image=encode(_array(channels=1), "JPEG"))
    k["image-cmyk"] = lambda im, gt: _pair(im, gt, S, image=encode(_array(), "JPEG", "CMYK"))
    k["image-bomb-header"] = lambda im, gt: _pair(im, gt, S, ".png", image=bomb_png(40000, 40000))
    k["mask-bomb-header"] = lambda im, gt: _pair(im, gt, S, mask=bomb_png(40000, 40000))
    k["image-over-pillow-limit"] = lambda im, gt: _pair(im, gt, S, ".png", image=bomb_png(20000, 10000))
    k["mask-all-black"] = lambda im, gt: _pair(im, gt, S, mask=encode(np.zeros((30, 40), np.uint8), "PNG"))

    def same_stem_two_images(im: Path, gt: Path) -> None:
        _pair(im, gt, S)
        (im / f"{S}.png").write_bytes(PNG)
    k["same-stem-two-images"] = same_stem_two_images

    def folder_named_jpg(im: Path, gt: Path) -> None:
        _pair(im, gt, S)
        (im / "1#Accessories#6#Bag#dir.jpg").mkdir()
        (gt / "1#Accessories#6#Bag#dir.png").write_bytes(MPNG)
    k["folder-named-jpg"] = folder_named_jpg

    def broken_link(im: Path, gt: Path) -> None:
        _pair(im, gt, S)
        (im / f"{S}.jpg").unlink()
        os.symlink("nowhere.jpg", im / f"{S}.jpg")
    k["broken-symlink"] = broken_link

    def good_link(im: Path, gt: Path) -> None:
        _pair(im, gt, S)
        target = im.parent / "elsewhere.bin"
        (im / f"{S}.jpg").rename(target)
        os.symlink(target, im / f"{S}.jpg")
    k["symlink"] = good_link
    return k


KINDS: dict[str, Writer] = _kinds()
#: Kinds whose damage only a full decode (``scan --deep``) sees.
DEEP_ONLY = frozenset({"png-corrupt-idat", "png-mask-corrupt-idat"})
#: Kinds written with other folder names: (image folder, mask folder) given the loader's pair.
FOLDER_KINDS: dict[str, Callable[[str, str], tuple[str, str]]] = {
    "folders-capitalised": lambda i, m: (i.capitalize(), m.upper()),
    "mask-folder-upper": lambda i, m: (i, m.upper()),
}


def build_tree(task_root: Path, image_dir: str, mask_dir: str) -> list[str]:
    """Write every kind as its own dataset folder under ``task_root``; return the dataset names."""
    names = []
    for kind, write in KINDS.items():
        im, gt = task_root / kind / image_dir, task_root / kind / mask_dir
        for k, stem in enumerate(GOOD):
            _pair(im, gt, stem, image=encode(_array(seed=k + 1), "JPEG"))
        write(im, gt)
        names.append(kind)
    for kind, folders in FOLDER_KINDS.items():
        i_name, m_name = folders(image_dir, mask_dir)
        for k, stem in enumerate(GOOD):
            _pair(task_root / kind / i_name, task_root / kind / m_name, stem, image=encode(_array(seed=k + 1), "JPEG"))
        names.append(kind)
    return names
