"""A generated, long-tailed segmentation benchmark with known classes (for ``class_learning.py``).

Twenty classes of DIS-like objects with thin or complex structure (rings, lattices, branching
trees, spirals, wires, glyphs, filled blobs ...), each with its own shape statistics, drawn on
textured backgrounds with distractors at 256×256. The training split is long-tailed like DIS-TR
(150 images of the most frequent class down to 3 of the rarest); the test split has the same
number of images per class and is drawn from a different seed. Every sample lands in a
difficulty folder: ``easy`` (thick structure, little clutter, high contrast), ``medium``, or
``hard`` (thin structure, many distractors, low contrast), in fixed shares per class (40/35/25 %).

Layout (``dis-audit`` / BiRefNet style, ``#`` names, binary PNG masks)::

    OUT/classes.txt                                   class names in id order
    OUT/train/{easy,medium,hard}/{im,gt}/<g>#<Group>#<c>#<Class>#tr<seed>-<n>.{jpg,png}
    OUT/test/{easy,medium,hard}/{im,gt}/...

    python benchmarks/class_learning_data.py OUT [--seed 0] [--test-seed 1000]

The output is a pure function of the arguments (same files, byte for byte, for the same seed).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# Run from a checkout without installing: make the repo root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dis_audit.synth import write_image  # noqa: E402

DIFFICULTIES = ("easy", "medium", "hard")
#: Share of each difficulty among generated samples.
DIFFICULTY_SHARES = (0.4, 0.35, 0.25)
#: Structure width multiplier, distractor count range and foreground/background contrast per difficulty.
_THICKNESS = {"easy": 1.0, "medium": 0.7, "hard": 0.45}
_DISTRACTORS = {"easy": (0, 2), "medium": (3, 6), "hard": (8, 14)}
_CONTRAST = {"easy": (0.55, 0.8), "medium": (0.35, 0.55), "hard": (0.2, 0.35)}

Painter = Callable[[ImageDraw.ImageDraw, np.random.Generator, int, float], None]


# ----------------------------------------------------------------------------- drawing helpers
# Painters draw white (255) on a black "L" canvas of side S (the supersampled size). ``t`` is the
# difficulty's thickness multiplier; each class has its own size, width and complexity ranges.


def _width(rng: np.random.Generator, lo: float, hi: float, t: float, S: int) -> int:
    """A stroke width in canvas pixels: ``[lo, hi]`` is in output pixels at 256 (S/256 canvas pixels each).

    At least 1.5 output pixels: a thinner stroke would leave a dotted mask after thresholding
    the coverage at one half while the line stays visible in the image.
    """
    return max(1, int(round(max(rng.uniform(lo, hi) * t, 1.5) * S / 256)))


def _centre(rng: np.random.Generator, S: int, spread: float = 0.12) -> tuple[float, float]:
    return (S * (0.5 + rng.uniform(-spread, spread)), S * (0.5 + rng.uniform(-spread, spread)))


def _rotate(points: np.ndarray, angle: float, centre: tuple[float, float]) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    rot = points @ np.array([[c, s], [-s, c]])
    return [(float(x + centre[0]), float(y + centre[1])) for x, y in rot]


def _stroke(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], width: int) -> None:
    """A polyline with round joints and round caps."""
    if len(pts) >= 2:
        draw.line(pts, fill=255, width=width, joint="curve")
    r = width / 2
    for x, y in (pts[0], pts[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


def _smooth_curve(rng: np.random.Generator, n_ctrl: int, extent: float, closed: bool = False) -> np.ndarray:
    """A smooth random curve (sum of random Fourier terms), centred at 0, about ``extent`` across."""
    s = np.linspace(0, 2 * np.pi if closed else np.pi, 200, endpoint=not closed)
    xy = np.zeros((len(s), 2))
    for k in range(1, n_ctrl + 1):
        amp = rng.normal(0, 1, size=(2, 2)) / k
        xy[:, 0] += amp[0, 0] * np.cos(k * s) + amp[0, 1] * np.sin(k * s)
        xy[:, 1] += amp[1, 0] * np.cos(k * s) + amp[1, 1] * np.sin(k * s)
    xy -= xy.mean(0)
    span = np.abs(xy).max() or 1.0
    return xy * (extent / 2 / span)


# ----------------------------------------------------------------------------- the 20 classes


def _ring(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    r = rng.uniform(0.18, 0.32) * S
    w = _width(rng, 8, 20, t, S)
    draw.ellipse((cx - r, cy - r * rng.uniform(0.8, 1.0), cx + r, cy + r), outline=255, width=w)


def _wheel(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    r = rng.uniform(0.22, 0.34) * S
    w = _width(rng, 5, 10, t, S)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=w)
    hub = r * 0.15
    draw.ellipse((cx - hub, cy - hub, cx + hub, cy + hub), fill=255)
    spokes = int(rng.integers(5, 13))
    phase = rng.uniform(0, 2 * np.pi)
    for k in range(spokes):
        a = phase + 2 * np.pi * k / spokes
        _stroke(draw, [(cx, cy), (cx + r * math.cos(a), cy + r * math.sin(a))], max(1, w // 2))


def _spider_web(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    r = rng.uniform(0.28, 0.4) * S
    w = _width(rng, 2, 4, t, S)
    spokes = int(rng.integers(8, 15))
    angles = np.sort(rng.uniform(0, 2 * np.pi, spokes))
    for a in angles:
        _stroke(draw, [(cx, cy), (cx + r * math.cos(a), cy + r * math.sin(a))], w)
    for level in np.linspace(0.25, 1.0, int(rng.integers(3, 7))):
        ring = [(cx + level * r * math.cos(a), cy + level * r * math.sin(a)) for a in angles]
        draw.line(ring + ring[:1], fill=255, width=w)


def _lattice(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    half = rng.uniform(0.22, 0.36) * S
    w = _width(rng, 3, 6, t, S)
    n = int(rng.integers(4, 9))
    angle = rng.uniform(0, np.pi / 2)
    ticks = np.linspace(-half, half, n)
    for v in ticks:
        _stroke(draw, _rotate(np.array([[v, -half], [v, half]]), angle, (cx, cy)), w)
        _stroke(draw, _rotate(np.array([[-half, v], [half, v]]), angle, (cx, cy)), w)


def _fence(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    half_w, half_h = rng.uniform(0.3, 0.42) * S, rng.uniform(0.15, 0.28) * S
    w = _width(rng, 6, 12, t, S)
    angle = rng.uniform(-0.25, 0.25)
    for x in np.linspace(-half_w, half_w, int(rng.integers(5, 10))):
        _stroke(draw, _rotate(np.array([[x, -half_h * 1.15], [x, half_h]]), angle, (cx, cy)), w)
    for y in (-half_h * 0.55, half_h * 0.55):
        _stroke(draw, _rotate(np.array([[-half_w, y], [half_w, y]]), angle, (cx, cy)), max(1, int(w * 0.7)))


def _ladder(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    half_len, half_gap = rng.uniform(0.32, 0.42) * S, rng.uniform(0.07, 0.12) * S
    w = _width(rng, 4, 9, t, S)
    angle = rng.uniform(0, np.pi)
    for x in (-half_gap, half_gap):
        _stroke(draw, _rotate(np.array([[x, -half_len], [x, half_len]]), angle, (cx, cy)), w)
    for y in np.linspace(-half_len * 0.9, half_len * 0.9, int(rng.integers(5, 10))):
        _stroke(draw, _rotate(np.array([[-half_gap, y], [half_gap, y]]), angle, (cx, cy)), w)


def _comb(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    half_w, tooth = rng.uniform(0.28, 0.4) * S, rng.uniform(0.15, 0.3) * S
    w = _width(rng, 3, 6, t, S)
    angle = rng.uniform(0, 2 * np.pi)
    _stroke(draw, _rotate(np.array([[-half_w, 0], [half_w, 0]]), angle, (cx, cy)), w * 3)
    for x in np.linspace(-half_w, half_w, int(rng.integers(10, 22))):
        _stroke(draw, _rotate(np.array([[x, 0], [x, tooth]]), angle, (cx, cy)), w)


def _tree(draw, rng, S, t):
    base_w = _width(rng, 8, 14, t, S)

    def grow(x, y, angle, length, width, depth):
        x2, y2 = x + length * math.cos(angle), y + length * math.sin(angle)
        _stroke(draw, [(x, y), (x2, y2)], max(1, int(width)))
        if depth == 0:
            return
        for _ in range(int(rng.integers(2, 4))):
            grow(x2, y2, angle + rng.uniform(-0.8, 0.8), length * rng.uniform(0.55, 0.8), width * 0.65, depth - 1)

    grow(S * rng.uniform(0.4, 0.6), S * 0.88, -np.pi / 2 + rng.uniform(-0.2, 0.2), S * rng.uniform(0.2, 0.28),
         base_w, int(rng.integers(3, 5)))


def _fern(draw, rng, S, t):
    w = _width(rng, 3, 6, t, S)
    stem = _smooth_curve(rng, 2, S * rng.uniform(0.6, 0.8)) * np.array([0.3, 1.0])
    stem = np.array(_rotate(stem, rng.uniform(-0.4, 0.4), _centre(rng, S, 0.05)))
    _stroke(draw, [tuple(p) for p in stem], w)
    for i in range(10, len(stem) - 10, int(rng.integers(12, 20))):
        (x, y), (nx, ny) = stem[i], stem[i + 1] - stem[i - 1]
        norm = math.hypot(nx, ny) or 1.0
        leaf = S * rng.uniform(0.05, 0.1)
        for side in (-1, 1):
            lx, ly = x + side * -ny / norm * leaf, y + side * nx / norm * leaf
            _stroke(draw, [(x, y), (lx, ly)], max(1, w // 2 + 1))
            draw.ellipse((lx - leaf * 0.3, ly - leaf * 0.3, lx + leaf * 0.3, ly + leaf * 0.3), fill=255)


def _antler(draw, rng, S, t):
    w = _width(rng, 6, 10, t, S)
    cx, cy = _centre(rng, S)
    main = _smooth_curve(rng, 2, S * rng.uniform(0.55, 0.7))
    main = np.array(_rotate(main, rng.uniform(0, 2 * np.pi), (cx, cy)))
    _stroke(draw, [tuple(p) for p in main], w)
    for i in rng.choice(np.arange(20, len(main) - 20), size=int(rng.integers(2, 5)), replace=False):
        x, y = main[i]
        a = rng.uniform(0, 2 * np.pi)
        length = S * rng.uniform(0.1, 0.2)
        _stroke(draw, [(x, y), (x + length * math.cos(a), y + length * math.sin(a))], max(1, int(w * 0.7)))


def _spiral(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    turns = rng.uniform(2.5, 4.5)
    r_max = rng.uniform(0.25, 0.38) * S
    w = _width(rng, 3, 7, t, S)
    s = np.linspace(0, 1, 400)
    a = s * turns * 2 * np.pi + rng.uniform(0, 2 * np.pi)
    r = r_max * s
    _stroke(draw, list(zip((cx + r * np.cos(a)).tolist(), (cy + r * np.sin(a)).tolist())), w)


def _coil(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    half = rng.uniform(0.3, 0.4) * S
    amp = rng.uniform(0.06, 0.12) * S
    loops = rng.uniform(5, 10)
    w = _width(rng, 3, 6, t, S)
    s = np.linspace(-1, 1, 400)
    pts = np.stack([s * half + amp * 0.6 * np.cos(s * loops * np.pi), amp * np.sin(s * loops * np.pi)], 1)
    _stroke(draw, _rotate(pts, rng.uniform(0, np.pi), (cx, cy)), w)


def _wire(draw, rng, S, t):
    w = _width(rng, 2, 4, t, S)
    curve = _smooth_curve(rng, 5, S * rng.uniform(0.7, 0.85))
    _stroke(draw, _rotate(curve, rng.uniform(0, 2 * np.pi), _centre(rng, S, 0.05)), w)


def _knot(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    w = _width(rng, 3, 6, t, S)
    s = np.linspace(0, 2 * np.pi, 500)
    fa, fb = int(rng.integers(2, 5)), int(rng.integers(3, 6))
    r = rng.uniform(0.25, 0.36) * S
    pts = np.stack([r * np.sin(fa * s + rng.uniform(0, np.pi)), r * np.sin(fb * s)], 1)
    draw.line(_rotate(pts, rng.uniform(0, np.pi), (cx, cy)), fill=255, width=w, joint="curve")


def _glyph(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    cell = rng.uniform(0.12, 0.17) * S
    w = _width(rng, 8, 14, t, S)
    grid = [(cx + (i - 1) * cell, cy + (j - 1) * cell * 1.3) for j in range(3) for i in range(3)]
    path = list(rng.choice(9, size=int(rng.integers(4, 7)), replace=True))
    _stroke(draw, [grid[k] for k in path], w)
    if rng.random() < 0.6:
        a, b = rng.choice(9, size=2, replace=False)
        _stroke(draw, [grid[a], grid[b]], w)


def _star(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    points = int(rng.integers(5, 9))
    r_out = rng.uniform(0.25, 0.38) * S
    r_in = r_out * rng.uniform(0.3, 0.5) * (0.6 + 0.4 * t)
    phase = rng.uniform(0, 2 * np.pi)
    poly = []
    for k in range(2 * points):
        r = r_out if k % 2 == 0 else r_in
        a = phase + np.pi * k / points
        poly.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(poly, fill=255)


def _blob(draw, rng, S, t):
    outline = _smooth_curve(rng, 4, S * rng.uniform(0.4, 0.6), closed=True)
    draw.polygon(_rotate(outline, 0.0, _centre(rng, S)), fill=255)


def _crescent(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    r = rng.uniform(0.2, 0.32) * S
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    a = rng.uniform(0, 2 * np.pi)
    off = r * rng.uniform(0.25, 0.45) * (0.5 + 0.5 * t)
    ox, oy = cx + off * math.cos(a), cy + off * math.sin(a)
    draw.ellipse((ox - r, oy - r, ox + r, oy + r), fill=0)


def _chain(draw, rng, S, t):
    w = _width(rng, 3, 6, t, S)
    spine = _smooth_curve(rng, 2, S * rng.uniform(0.6, 0.8))
    spine = np.array(_rotate(spine, rng.uniform(0, 2 * np.pi), _centre(rng, S, 0.05)))
    link = S * rng.uniform(0.04, 0.06)
    for i in range(0, len(spine), 14):
        x, y = spine[i]
        if (i // 14) % 2:
            box = (x - link * 1.6, y - link, x + link * 1.6, y + link)
        else:
            box = (x - link, y - link * 1.6, x + link, y + link * 1.6)
        draw.ellipse(box, outline=255, width=w)


def _honeycomb(draw, rng, S, t):
    cx, cy = _centre(rng, S)
    side = rng.uniform(0.05, 0.08) * S
    w = _width(rng, 2, 5, t, S)
    radius = int(rng.integers(1, 3))
    for q in range(-radius, radius + 1):
        for r in range(-radius, radius + 1):
            if abs(q + r) > radius:
                continue
            hx = cx + side * 1.5 * q
            hy = cy + side * math.sqrt(3) * (r + q / 2)
            hexagon = [(hx + side * math.cos(k * np.pi / 3), hy + side * math.sin(k * np.pi / 3)) for k in range(7)]
            draw.line(hexagon, fill=255, width=w, joint="curve")


@dataclass(frozen=True)
class ClassSpec:
    group: str
    name: str
    paint: Painter


#: The classes in id order (group, class, painter). Group ids follow first appearance.
CLASSES: tuple[ClassSpec, ...] = (
    ClassSpec("Round", "Ring", _ring),
    ClassSpec("Round", "Wheel", _wheel),
    ClassSpec("Round", "Crescent", _crescent),
    ClassSpec("Round", "Chain", _chain),
    ClassSpec("Grid", "SpiderWeb", _spider_web),
    ClassSpec("Grid", "Lattice", _lattice),
    ClassSpec("Grid", "Fence", _fence),
    ClassSpec("Grid", "Ladder", _ladder),
    ClassSpec("Grid", "Comb", _comb),
    ClassSpec("Grid", "Honeycomb", _honeycomb),
    ClassSpec("Plant", "Tree", _tree),
    ClassSpec("Plant", "Fern", _fern),
    ClassSpec("Plant", "Antler", _antler),
    ClassSpec("Curve", "Spiral", _spiral),
    ClassSpec("Curve", "Coil", _coil),
    ClassSpec("Curve", "Wire", _wire),
    ClassSpec("Curve", "Knot", _knot),
    ClassSpec("Solid", "Glyph", _glyph),
    ClassSpec("Solid", "Star", _star),
    ClassSpec("Solid", "Blob", _blob),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
_GROUP_IDS = {g: i for i, g in enumerate(dict.fromkeys(c.group for c in CLASSES))}


def train_counts(max_count: int = 150, min_count: int = 3, scale: float = 1.0) -> list[int]:
    """Training images per class id: a geometric long tail from ``max_count`` to ``min_count``.

    Which class gets which count is a fixed shuffle (the same for every seed), so frequency is
    not tied to class id or shape family. ``scale`` shrinks every count (at least 1 each).
    """
    n = len(CLASSES)
    tail = [max_count * (min_count / max_count) ** (k / (n - 1)) for k in range(n)]
    order = np.random.default_rng(20261127).permutation(n)
    counts = [0] * n
    for rank, class_id in enumerate(order):
        counts[int(class_id)] = max(1, int(round(tail[rank] * scale)))
    return counts


# ----------------------------------------------------------------------------- rendering


def _texture(rng: np.random.Generator, size: int, colour: np.ndarray, amount: float) -> np.ndarray:
    """Smooth coloured noise plus random stripes, float HxWx3 in 0..255."""
    coarse = rng.normal(0, 1, size=(6, 6, 3)).astype(np.float32)
    low = np.asarray(
        Image.fromarray(((coarse - coarse.min()) / (np.ptp(coarse) or 1) * 255).astype(np.uint8)).resize(
            (size, size), Image.BICUBIC
        ),
        dtype=np.float32,
    )
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    freq, angle = rng.uniform(4, 18), rng.uniform(0, np.pi)
    stripes = np.sin(2 * np.pi * freq * (x * math.cos(angle) + y * math.sin(angle)))[..., None]
    tex = colour + amount * ((low - 128) * 0.5 + 25 * stripes) + rng.normal(0, 6, size=(size, size, 3))
    return tex


def _distractors(draw: ImageDraw.ImageDraw, rng: np.random.Generator, S: int, count: int, t: float) -> None:
    """Short strokes, small rings and specks: clutter that is not the object."""
    for _ in range(count):
        x, y = rng.uniform(0, S, 2)
        kind = rng.integers(3)
        w = _width(rng, 2, 6, t, S)
        if kind == 0:
            a, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.15) * S
            _stroke(draw, [(x, y), (x + length * math.cos(a), y + length * math.sin(a))], w)
        elif kind == 1:
            r = rng.uniform(0.015, 0.04) * S
            draw.ellipse((x - r, y - r, x + r, y + r), outline=255, width=w)
        else:
            r = rng.uniform(0.006, 0.02) * S
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


def render_sample(class_id: int, difficulty: str, rng: np.random.Generator, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """One ``(image HxWx3 uint8, mask HxW uint8 0/255)`` of class ``class_id`` at ``difficulty``.

    Shapes are drawn at twice the size and averaged down, so image edges are antialiased; the
    mask is that coverage thresholded at one half.
    """
    S = 2 * size
    t = _THICKNESS[difficulty]
    canvas = Image.new("L", (S, S), 0)
    CLASSES[class_id].paint(ImageDraw.Draw(canvas), rng, S, t)
    coverage = np.asarray(canvas.resize((size, size), Image.BOX), dtype=np.float32) / 255.0
    if coverage.max() < 0.5:  # a painter that drew (almost) nothing: fall back to a visible blob
        canvas = Image.new("L", (S, S), 0)
        _blob(ImageDraw.Draw(canvas), rng, S, t)
        coverage = np.asarray(canvas.resize((size, size), Image.BOX), dtype=np.float32) / 255.0

    clutter = Image.new("L", (S, S), 0)
    lo, hi = _DISTRACTORS[difficulty]
    _distractors(ImageDraw.Draw(clutter), rng, S, int(rng.integers(lo, hi + 1)), t)
    clutter_cover = np.asarray(clutter.resize((size, size), Image.BOX), dtype=np.float32)[..., None] / 255.0

    bg_colour = rng.uniform(40, 215, 3).astype(np.float32)
    contrast = rng.uniform(*_CONTRAST[difficulty])
    direction = rng.normal(0, 1, 3).astype(np.float32)
    direction /= np.linalg.norm(direction) or 1.0
    fg_colour = np.clip(bg_colour + direction * contrast * 255 * np.sign(128 - bg_colour.mean()) * -1, 0, 255)
    if np.abs(fg_colour - bg_colour).sum() < 30:  # clipped into the background: go the other way
        fg_colour = np.clip(bg_colour - direction * contrast * 255, 0, 255)
    # Hard clutter takes the object's colour half the time (camouflage); otherwise a random colour.
    clutter_colour = fg_colour if difficulty == "hard" and rng.random() < 0.5 else rng.uniform(0, 255, 3)

    background = _texture(rng, size, bg_colour, 0.6)
    foreground = _texture(rng, size, fg_colour.astype(np.float32), 0.25)
    image = background * (1 - clutter_cover) + clutter_colour * clutter_cover
    alpha = coverage[..., None]
    image = image * (1 - alpha) + foreground * alpha
    mask = np.where(coverage >= 0.5, 255, 0).astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def difficulty_plan(n: int, rng: np.random.Generator) -> list[str]:
    """Difficulties for the ``n`` samples of one class: exact shares (largest remainder), shuffled.

    Fixed quotas per class keep a class's IoU about its shape and frequency, not about how
    many hard samples it happened to draw (3 training images are one of each).
    """
    exact = [n * share for share in DIFFICULTY_SHARES]
    quota = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (quota[i] - exact[i], i))[: n - sum(quota)]:
        quota[i] += 1
    plan = [d for d, q in zip(DIFFICULTIES, quota) for _ in range(q)]
    return [plan[i] for i in rng.permutation(n)]


def sample_name(class_id: int, original_id: str) -> str:
    """``<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>`` (no extension)."""
    spec = CLASSES[class_id]
    return f"{_GROUP_IDS[spec.group]}#{spec.group}#{class_id}#{spec.name}#{original_id}"


@dataclass(frozen=True)
class GeneratedBenchmark:
    root: Path
    train_root: Path
    test_root: Path
    classes_file: Path
    train_counts: list[int]
    test_per_class: int


def _write_split(
    root: Path, split: str, counts: list[int], seed: int, size: int, prefix: str, progress: bool
) -> None:
    written = 0
    total = sum(counts)
    for class_id, n in enumerate(counts):
        plan = difficulty_plan(n, np.random.default_rng([seed, class_id, 1 << 30]))
        for k in range(n):
            rng = np.random.default_rng([seed, class_id, k])
            difficulty = plan[k]
            image, mask = render_sample(class_id, difficulty, rng, size)
            stem = sample_name(class_id, f"{prefix}{seed}-{class_id:02d}{k:04d}")
            # Files are written in place: an interrupted generation never gets the params stamp that
            # class_learning.py requires, and generate() refuses a non-empty folder.
            folder = root / split / difficulty
            write_image(folder / "im" / f"{stem}.jpg", image, quality=92)
            write_image(folder / "gt" / f"{stem}.png", mask)
            written += 1
            if progress and (written % 100 == 0 or written == total):
                print(f"  {split}: {written}/{total} samples", file=sys.stderr)


def generate(
    out: str | Path,
    *,
    seed: int = 0,
    test_seed: int = 1000,
    test_per_class: int = 12,
    size: int = 256,
    scale: float = 1.0,
    progress: bool = False,
) -> GeneratedBenchmark:
    """Write the benchmark under ``out`` (train from ``seed``, test from ``test_seed``).

    ``scale`` shrinks the training counts (``--quick`` runs); the test split always has
    ``test_per_class`` images per class.
    """
    if seed == test_seed:
        raise ValueError("the test split needs a seed different from the training split")
    root = Path(out)
    for split in ("train", "test"):
        if (root / split).exists() and any((root / split).iterdir()):
            raise FileExistsError(f"{root / split} exists and is not empty; choose a new output folder")
    counts = train_counts(scale=scale)
    root.mkdir(parents=True, exist_ok=True)
    classes_file = root / "classes.txt"
    classes_file.write_text("".join(f"{name}\n" for name in CLASS_NAMES), encoding="utf-8")
    _write_split(root, "train", counts, seed, size, "tr", progress)
    _write_split(root, "test", [test_per_class] * len(CLASSES), test_seed, size, "te", progress)
    return GeneratedBenchmark(root, root / "train", root / "test", classes_file, counts, test_per_class)


def preview(path: str | Path, tile: int = 96, seed: int = 7) -> Path:
    """A PNG contact sheet: per class a row of (image, mask) pairs for easy, medium and hard."""
    rows = []
    for class_id in range(len(CLASSES)):
        cells = []
        for difficulty in DIFFICULTIES:
            image, mask = render_sample(class_id, difficulty, np.random.default_rng([seed, class_id]), 256)
            cells += [image, np.repeat(mask[..., None], 3, axis=2)]
        row = np.concatenate([np.asarray(Image.fromarray(c).resize((tile, tile), Image.BOX)) for c in cells], axis=1)
        rows.append(row)
    # Two columns of classes keep the sheet roughly square.
    half = (len(rows) + 1) // 2
    left, right = np.concatenate(rows[:half], 0), np.concatenate(rows[half:], 0)
    right = np.pad(right, ((0, left.shape[0] - right.shape[0]), (0, 0), (0, 0)), constant_values=255)
    sheet = np.concatenate([left, np.full((left.shape[0], 8, 3), 255, np.uint8), right], axis=1)
    return write_image(path, sheet, quality=75)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="output folder (must not hold a train/ or test/ split yet)")
    parser.add_argument("--seed", type=int, default=0, help="training split seed")
    parser.add_argument("--test-seed", type=int, default=1000, help="test split seed")
    parser.add_argument("--test-per-class", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the training counts")
    parser.add_argument("--preview", type=Path, default=None,
                        help="only write a PNG contact sheet (every class at every difficulty) to this path")
    args = parser.parse_args(argv)
    if args.preview is not None:
        print(f"wrote {preview(args.preview)}")
        return 0
    if args.out is None:
        parser.error("the output folder OUT is required (or --preview PATH)")
    try:
        bench = generate(args.out, seed=args.seed, test_seed=args.test_seed, test_per_class=args.test_per_class,
                         size=args.size, scale=args.scale, progress=True)
    except (FileExistsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"train: {sum(bench.train_counts)} samples, test: {bench.test_per_class * len(CLASSES)} samples "
          f"under {bench.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
