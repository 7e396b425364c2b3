"""Plant the defects only ``dis-audit scan --deep`` sees into a dataset tree (e.g. examples/dis-mini).

    python examples/deep_defects.py [ROOT]     # default: examples/dis-mini, after make_example.py

Deterministic: truncated and corrupt pixel data behind valid headers, a decompression bomb, an
EXIF rotation, CMYK and 16-bit images, empty / 0-1 / full / soft / grey masks, a mask-area
outlier, exact and near duplicates, and the same photo in DIS-TR and DIS-TE1 (leakage).
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

TR, VD, TE = "DIS-TR", "DIS-VD", "DIS-TE1"


def photo_array(width: int, height: int, seed: int) -> np.ndarray:
    """A photo-like RGB picture: smooth random colour field, a few shapes, sensor noise.

    Unlike a plain gradient, two seeds give unrelated perceptual hashes, as real photos do.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    field = rng.uniform(0, 255, size=(4, 5, 3)).astype(np.uint8)
    img = np.asarray(Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(4):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.08, 0.3) * width, rng.uniform(0.08, 0.3) * height
        inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
        img[inside] = rng.uniform(0, 255, size=3)
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def blob_mask(width: int, height: int, seed: int, area: float = 0.2) -> np.ndarray:
    """A 0/255 ellipse covering about ``area`` of the picture."""
    rng = np.random.default_rng(seed + 7919)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.4, 0.6) * width, rng.uniform(0.4, 0.6) * height
    r = np.sqrt(area / np.pi)
    inside = ((x - cx) / (r * width)) ** 2 + ((y - cy) / (r * height)) ** 2 <= 1
    return (inside * 255).astype(np.uint8)


def save(path: Path, array: np.ndarray, fmt: str | None = None, **kwargs) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    im = array if isinstance(array, Image.Image) else Image.fromarray(array)
    fmt = fmt or ("JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    im.save(path, format=fmt, **kwargs)
    return path


def pair(root: Path, dataset: str, stem: str, seed: int, size=(64, 48), area: float = 0.2, quality: int = 90):
    """A clean photo-like pair; returns (image path, mask path)."""
    w, h = size
    image = save(root / dataset / "im" / f"{stem}.jpg", photo_array(w, h, seed), quality=quality)
    mask = save(root / dataset / "gt" / f"{stem}.png", blob_mask(w, h, seed, area))
    return image, mask


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def plant(root: str | Path) -> Path:
    """Add the deep-scan defects to ``root`` (which holds DIS-TR, DIS-VD, DIS-TE1)."""
    from PIL import Image

    root = Path(root)
    # DA501: a byte-identical copy under another name in the training set.
    image, mask = pair(root, TR, "14#Plant#79#Bonsai#90000001_aa00000001_o", 101)
    (root / TR / "im" / "14#Plant#79#Bonsai#90000002_aa00000002_o.jpg").write_bytes(image.read_bytes())
    (root / TR / "gt" / "14#Plant#79#Bonsai#90000002_aa00000002_o.png").write_bytes(mask.read_bytes())
    # DA502: the same photo re-encoded at JPEG quality 55 and resized to 75 %.
    image, mask = pair(root, TR, "4#Architecture#17#ObservationTower#90000003_aa00000003_o", 102, size=(96, 72))
    near = Image.open(image).resize((72, 54), Image.Resampling.LANCZOS)
    save(root / TR / "im" / "4#Architecture#17#ObservationTower#90000004_aa00000004_o.jpg", near, quality=55)
    save(root / TR / "gt" / "4#Architecture#17#ObservationTower#90000004_aa00000004_o.png",
         Image.open(mask).resize((72, 54), Image.Resampling.NEAREST))
    # DA503: a test photo also in the training set (re-encoded, as a scraped copy would be).
    image, mask = pair(root, TE, "3#Aquatic#9#Octopus#90000005_aa00000005_o", 103)
    save(root / TR / "im" / "3#Aquatic#9#Octopus#90000006_aa00000006_o.jpg", Image.open(image), quality=70)
    save(root / TR / "gt" / "3#Aquatic#9#Octopus#90000006_aa00000006_o.png", Image.open(mask))
    # DA504: a validation photo also in a test set.
    image, mask = pair(root, VD, "7#Entertainment#41#Swing#90000007_aa00000007_o", 104)
    (root / TE / "im" / "7#Entertainment#41#Swing#90000008_aa00000008_o.jpg").write_bytes(image.read_bytes())
    (root / TE / "gt" / "7#Entertainment#41#Swing#90000008_aa00000008_o.png").write_bytes(mask.read_bytes())
    # DA306: the JPEG header is intact, the pixel data stops at 60 %.
    image, _ = pair(root, TR, "9#Insect#54#Mosquito#90000009_aa00000009_o", 105)
    data = image.read_bytes()
    image.write_bytes(data[: int(len(data) * 0.6)])
    # DA406: the mask's PNG stream is cut short after its header.
    _, mask = pair(root, TR, "9#Insect#55#Spider#90000010_aa00000010_o", 106)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (48, 64), dtype=np.uint8)).save(buf, "PNG")
    mask.write_bytes(buf.getvalue()[:200])
    # DA305: a 40000 x 40000 PNG header (1.6 gigapixels) in 100 bytes.
    _, _ = pair(root, TR, "5#Electrical#30#CeilingLamp#90000011_aa00000011_o", 107)
    (root / TR / "im" / "5#Electrical#30#CeilingLamp#90000011_aa00000011_o.jpg").unlink()
    (root / TR / "im" / "5#Electrical#30#CeilingLamp#90000011_aa00000011_o.png").write_bytes(bomb_png(40000, 40000))
    # DA307: the camera's EXIF orientation says "rotate 90°", the mask has none.
    image, _ = pair(root, TR, "6#Electronics#33#Camcorder#90000012_aa00000012_o", 108)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(image).save(image, format="JPEG", quality=90, exif=exif)
    # DA304 (deep: names the conversion): a CMYK JPEG and a 16-bit-per-channel PNG.
    image, _ = pair(root, TR, "8#Furniture#47#Stool#90000013_aa00000013_o", 109)
    Image.open(image).convert("CMYK").save(image, format="JPEG", quality=90)
    _, _ = pair(root, TR, "8#Furniture#48#Table#90000014_aa00000014_o", 110)
    path16 = root / TR / "im" / "8#Furniture#48#Table#90000014_aa00000014_o.jpg"
    path16.unlink()
    rgb16 = photo_array(64, 48, 110).astype(">u2") * 257
    _write_png16(path16.with_suffix(".png"), rgb16)
    # DA407: an all-black mask, and a mask saved as 0/1 labels.
    _, mask = pair(root, TR, "10#Kitchenware#58#Cup#90000015_aa00000015_o", 111)
    save(mask, np.zeros((48, 64), np.uint8))
    _, mask = pair(root, TR, "10#Kitchenware#59#Teapot#90000016_aa00000016_o", 112)
    save(mask, blob_mask(64, 48, 112) // 255)
    # DA408: an all-white mask.
    _, mask = pair(root, TR, "10#Kitchenware#60#Spoon#90000017_aa00000017_o", 113)
    save(mask, np.full((48, 64), 255, np.uint8))
    # DA409: a matting-like alpha mask among binary ones.
    _, mask = pair(root, TR, "1#Accessories#2#Helmet#90000018_aa00000018_o", 114)
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    d = np.sqrt(((x - 32) / 24) ** 2 + ((y - 24) / 18) ** 2)
    save(mask, (np.clip((1.1 - d) / 0.3, 0, 1) * 255).astype(np.uint8))
    # DA410: a photo saved into the mask folder.
    _, mask = pair(root, TR, "1#Accessories#4#Watch#90000019_aa00000019_o", 115)
    save(mask, photo_array(64, 48, 999)[..., 0])
    # DA411: five Ladder masks of about 10 % area, and one covering 80 %.
    for k in range(5):
        pair(root, TR, f"16#Tool#90#Ladder#9100000{k}_bb0000000{k}_o", 120 + k, area=0.1 + 0.01 * k)
    pair(root, TR, "16#Tool#90#Ladder#91000009_bb00000009_o", 129, area=0.8)
    return root


def _write_png16(path: Path, rgb: np.ndarray) -> None:
    """Write a 16-bit-per-channel RGB PNG (Pillow cannot save one)."""
    height, width, _ = rgb.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb[row].astype(">u2").tobytes() for row in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "dis-mini"
    print(f"planted deep-scan defects in {plant(target)}")
