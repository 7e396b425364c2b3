"""The 20 shape classes of the generated benchmark, and the clutter drawn around them.

Painters draw white (255) on a black "L" canvas of side ``S`` (the supersampled size). ``t`` is the
difficulty's thickness multiplier; each class has its own size, width and complexity ranges.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

Painter = Callable[[ImageDraw.ImageDraw, np.random.Generator, int, float], None]


# ----------------------------------------------------------------------------- drawing helpers


def _width(rng: np.random.Generator, lo: float, hi: float, t: float, S: int) -> int:
    """A stroke width in canvas pixels: ``[lo, hi]`` is in output pixels at 256 (S/256 canvas pixels each).

    At least 1.5 output pixels: a thinner stroke would leave a dotted mask after thresholding
    the coverage at one half while the line stays visible in the image.
    """
    return max(1, round(max(rng.uniform(lo, hi) * t, 1.5) * S / 256))


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
            grow(
                x2,
                y2,
                angle + rng.uniform(-0.8, 0.8),
                length * rng.uniform(0.55, 0.8),
                width * 0.65,
                depth - 1,
            )

    grow(
        S * rng.uniform(0.4, 0.6),
        S * 0.88,
        -np.pi / 2 + rng.uniform(-0.2, 0.2),
        S * rng.uniform(0.2, 0.28),
        base_w,
        int(rng.integers(3, 5)),
    )


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


def paint_blob(draw: ImageDraw.ImageDraw, rng: np.random.Generator, S: int, t: float) -> None:
    """A filled smooth blob: the Blob class, and the fallback for a painter that drew (almost) nothing."""
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
            hexagon = [
                (hx + side * math.cos(k * np.pi / 3), hy + side * math.sin(k * np.pi / 3)) for k in range(7)
            ]
            draw.line(hexagon, fill=255, width=w, joint="curve")


@dataclass(frozen=True)
class ClassSpec:
    """One class: its group, its name and the painter that draws it."""

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
    ClassSpec("Solid", "Blob", paint_blob),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
#: Group id by group name, in order of first appearance.
GROUP_IDS = {g: i for i, g in enumerate(dict.fromkeys(c.group for c in CLASSES))}


# ----------------------------------------------------------------------------- clutter


def draw_distractors(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, S: int, count: int, t: float
) -> None:
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
