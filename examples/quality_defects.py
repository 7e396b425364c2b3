"""Generated image/mask pairs with known ground truth for the image-quality and mask-agreement checks.

    python examples/quality_defects.py OUT [--per-kind 20] [--clean 40]

Scenes in five styles: ``photo`` (a textured object on a textured background), ``thin`` (wires and
lattices one to three pixels wide), ``soft`` (an object whose edge in the image is blurred over
several pixels, as fur or motion leave it), ``camo`` (the object has the background's texture and
almost its brightness, COD10K-style) and ``white`` (a product on a white background). Each defect
is planted into a clean scene: dark, overexposed, near-flat, blurred, an odd aspect ratio, grey
content stored as RGB, a tiny picture, a shifted mask, a flipped mask, and a mask swapped with
another picture's. ``benchmarks/quality_bench.py`` and the rule fixtures build on this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

STYLES = ("photo", "thin", "soft", "camo", "white")
IMAGE_KINDS = ("dark", "overexposed", "flat", "blurry", "aspect", "greyrgb", "tiny")
MASK_KINDS = ("shifted", "flipped", "swapped")
#: Which rule each planted kind must trigger.
KIND_CODES = {
    "dark": "DA601", "overexposed": "DA602", "flat": "DA603", "blurry": "DA604", "aspect": "DA605",
    "greyrgb": "DA606", "tiny": "DA607", "shifted": "DA608", "flipped": "DA608", "swapped": "DA609",
}


def _smooth(rng: np.random.Generator, w: int, h: int, cells: tuple[int, int], channels: int = 3) -> np.ndarray:
    from PIL import Image

    field = rng.uniform(0, 255, size=(cells[1], cells[0], channels)).astype(np.uint8)
    im = Image.fromarray(field if channels == 3 else field[..., 0]).resize((w, h), Image.Resampling.BICUBIC)
    out = np.asarray(im, dtype=np.float32)
    return out if channels == 3 else out[..., None]


def _blob(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A random star-shaped object mask (bool), off-centre so that a mirror image does not fit it."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.45) * w, rng.uniform(0.3, 0.6) * h
    radius = rng.uniform(0.15, 0.28) * min(w, h)
    theta = np.arctan2(y - cy, x - cx)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.uniform(0.05, 0.2) * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
    return np.hypot(x - cx, y - cy) <= radius * r


def _thin(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Wires and a lattice, 1-3 pixels wide (bool)."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(4, 9))):
        pts = [(float(rng.uniform(0, w * 0.7)), float(rng.uniform(0, h))) for _ in range(2)]
        pts += [(float(rng.uniform(0.3 * w, w)), float(rng.uniform(0, h)))]
        draw.line(pts, fill=255, width=int(rng.integers(1, 4)))
    x0, y0 = int(rng.uniform(0.05, 0.3) * w), int(rng.uniform(0.05, 0.3) * h)
    step, n = int(rng.integers(12, 30)), int(rng.integers(4, 9))
    for k in range(n + 1):
        draw.line([(x0 + k * step, y0), (x0 + k * step, y0 + n * step)], fill=255, width=2)
        draw.line([(x0, y0 + k * step), (x0 + n * step, y0 + k * step)], fill=255, width=2)
    return np.asarray(im) > 0


def _gauss(a: np.ndarray, sigma: float) -> np.ndarray:
    from PIL import Image, ImageFilter

    if a.ndim == 3:
        return np.stack([_gauss(a[..., c], sigma) for c in range(a.shape[2])], axis=-1)
    # Pillow blurs 8-bit pictures only: scale the values into 0..255 and back.
    lo, hi = float(a.min()), float(a.max())
    scale = 255.0 / (hi - lo) if hi > lo else 1.0
    im = Image.fromarray(np.round((a - lo) * scale).astype(np.uint8))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32) / scale + lo


def scene(style: str, seed: int, size: tuple[int, int] = (768, 576)) -> tuple[np.ndarray, np.ndarray]:
    """A clean (image RGB uint8, mask L uint8 0/255) pair of ``style``."""
    rng = np.random.default_rng(seed)
    w, h = size
    texture = (rng.normal(0, 1, size=(h, w, 1)) * rng.uniform(4, 14)).astype(np.float32)
    bg = _smooth(rng, w, h, (5, 4)) * 0.8 + 25 + _gauss(texture, 1.0) * 2
    fg = _thin(rng, w, h) if style == "thin" else _blob(rng, w, h)
    if style == "white":
        bg = np.full((h, w, 3), 250.0, np.float32) + rng.normal(0, 1.5, size=(h, w, 1)).astype(np.float32)
    if style == "camo":
        # The object wears the background's texture at nearly its brightness.
        obj = np.roll(bg, (int(rng.integers(40, 120)), int(rng.integers(40, 120))), axis=(0, 1))
        obj = obj * 0.25 + bg * 0.75 + rng.uniform(5, 10) * rng.choice([-1, 1])
    else:
        colour = rng.uniform(0, 255, size=3).astype(np.float32)
        if style == "white":
            colour = rng.uniform(10, 150, size=3).astype(np.float32)
        obj = colour + _gauss(texture, 1.0) * 2 + _smooth(rng, w, h, (3, 3)) * 0.2
    alpha = fg.astype(np.float32)
    alpha = _gauss(alpha, rng.uniform(3.0, 6.0) if style == "soft" else 0.6)
    img = bg * (1 - alpha[..., None]) + obj * alpha[..., None]
    img += rng.normal(0, 2.5, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), (fg * 255).astype(np.uint8)


def plant(kind: str, image: np.ndarray, mask: np.ndarray, seed: int, other_mask: np.ndarray | None = None):
    """``(image, mask)`` with the defect ``kind`` planted (``other_mask`` is the swap partner's)."""
    from PIL import Image

    rng = np.random.default_rng(seed + 104729)
    img = image.astype(np.float32)
    h, w = mask.shape
    if kind == "dark":
        img = 255 * (img / 255) ** rng.uniform(1.2, 1.6) * rng.uniform(0.08, 0.22)
    elif kind == "overexposed":
        img = img * rng.uniform(1.6, 2.4) + rng.uniform(110, 170)
    elif kind == "flat":
        tone = rng.uniform(20, 235, size=3)
        y = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
        img = tone + y * rng.uniform(0, 3) + rng.normal(0, rng.uniform(0.5, 2.0), size=img.shape)
    elif kind == "blurry":
        img = _gauss(img, rng.uniform(2.0, 4.0))
    elif kind == "aspect":
        keep = max(8, int(w / rng.uniform(3.2, 5.0)))  # a wide strip of the scene
        img, mask = img[:keep], mask[:keep]
    elif kind == "greyrgb":
        grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
        img = np.repeat(grey[..., None], 3, axis=2)
    elif kind == "tiny":
        side = int(rng.integers(80, 200))
        small = Image.fromarray(image).resize((side, max(8, side * h // w)), Image.Resampling.LANCZOS)
        return np.asarray(small), np.asarray(Image.fromarray(mask).resize(small.size, Image.Resampling.NEAREST))
    elif kind == "shifted":
        dx = int(rng.uniform(0.03, 0.08) * w) * int(rng.choice([-1, 1]))
        dy = int(rng.uniform(0.03, 0.08) * h) * int(rng.choice([-1, 1]))
        if rng.uniform() < 0.3:
            dy = 0
        shifted = np.zeros_like(mask)
        ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
        yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
        shifted[ys, xs] = mask[yd, xd]
        return image, shifted
    elif kind == "flipped":
        return image, (mask[:, ::-1] if rng.uniform() < 0.5 else mask[::-1, :]).copy()
    elif kind == "swapped":
        assert other_mask is not None
        return image, other_mask
    else:
        raise ValueError(kind)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def write_pair(root: Path, dataset: str, stem: str, image: np.ndarray, mask: np.ndarray) -> tuple[Path, Path]:
    """Save a pair as ``root/dataset/im/stem.jpg`` (quality 92) and ``gt/stem.png``."""
    from PIL import Image

    im_path = root / dataset / "im" / f"{stem}.jpg"
    gt_path = root / dataset / "gt" / f"{stem}.png"
    im_path.parent.mkdir(parents=True, exist_ok=True)
    gt_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(im_path, format="JPEG", quality=92)
    Image.fromarray(mask).save(gt_path, format="PNG")
    return im_path, gt_path


def build(
    root: Path, per_kind: int = 20, clean: int = 40, size: tuple[int, int] = (768, 576), first_seed: int = 0
) -> dict[str, str]:
    """A tree of clean pairs (``clean`` per style) and ``per_kind`` of each defect; returns image path -> kind.

    ``first_seed`` starts the scenes' seeds elsewhere: another tree of the same make (a held-out check of
    thresholds calibrated on the default one).
    """
    truth: dict[str, str] = {}
    seed = first_seed
    for style in STYLES:
        for _ in range(clean):
            seed += 1
            stem = f"1#Accessories#1#Bag#{style}{seed:05d}_o"
            image, mask = scene(style, seed, size)
            write_pair(root, "DIS-TR", stem, image, mask)
            truth[f"DIS-TR/im/{stem}.jpg"] = f"clean-{style}"
    for kind in IMAGE_KINDS + MASK_KINDS:
        for k in range(per_kind):
            seed += 1
            style = STYLES[k % len(STYLES)] if kind in MASK_KINDS else ("photo", "thin", "white")[k % 3]
            image, mask = scene(style, seed, size)
            other = scene(style, seed + 7_000_000, size)[1] if kind == "swapped" else None
            image, mask = plant(kind, image, mask, seed, other)
            stem = f"1#Accessories#1#Bag#{kind}{seed:05d}_o"
            write_pair(root, "DIS-TR", stem, image, mask)
            truth[f"DIS-TR/im/{stem}.jpg"] = kind
    return truth


if __name__ == "__main__":
    out = Path(sys.argv[1])
    print(f"{len(build(out))} pairs written under {out}")
