"""A small picture of a class distribution: one bar per present class, largest first (the long tail).

SVG is written by hand (text, no dependency); PNG is drawn with Pillow, which dis-audit already
needs. Both show the same bars, the vocabulary size and the long-tail statistics in the title.
With many classes only every n-th bar is named, so labels never overlap.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from ..classdist import ClassDistribution
from ..manifest import ManifestError, atomic_write_bytes
from ..paths import printable_text

__all__ = ["PLOT_FORMATS", "plot_png", "plot_svg", "write_plot"]

PLOT_FORMATS = (".svg", ".png")
WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 44, 96
BAR_COLOUR, TEXT_COLOUR, AXIS_COLOUR = "#3b6ea8", "#222222", "#888888"


@dataclass(frozen=True)
class _Bar:
    x: float
    y: float
    w: float
    h: float
    name: str
    count: int
    labelled: bool


def _title(dist: ClassDistribution) -> str:
    s = dist.stats
    return (f"{s.classes} of {len(dist.vocabulary)} classes, {dist.labelled:,} samples · "
            f"imbalance {s.imbalance_ratio:.1f}× · Gini {s.gini:.2f} · head 20 % {s.head_share:.0%} · "
            f"tail 50 % {s.tail_share:.0%}")


def _bars(dist: ClassDistribution) -> list[_Bar]:
    n = len(dist.counts)
    if not n:
        return []
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = dist.counts[0][1]
    step = plot_w / n
    every = max(1, -(-n // 40))  # at most ~40 names under the axis
    return [
        _Bar(LEFT + i * step, TOP + plot_h * (1 - count / peak), max(step * 0.85, 0.5), plot_h * count / peak,
             printable_text(dist.name(cid)), count, i % every == 0)
        for i, (cid, count) in enumerate(dist.counts)
    ]


def plot_svg(dist: ClassDistribution) -> str:
    """The distribution as a standalone SVG document."""
    base = HEIGHT - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="10">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="12" fill="{TEXT_COLOUR}">{escape(_title(dist))}</text>',
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="{AXIS_COLOUR}"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="{AXIS_COLOUR}"/>',
    ]
    if dist.counts:
        parts.append(f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" fill="{TEXT_COLOUR}">{dist.counts[0][1]}</text>')
        parts.append(f'<text x="{LEFT - 4}" y="{base}" text-anchor="end" fill="{TEXT_COLOUR}">0</text>')
    for b in _bars(dist):
        parts.append(f'<rect x="{b.x:.2f}" y="{b.y:.2f}" width="{b.w:.2f}" height="{b.h:.2f}" fill="{BAR_COLOUR}">'
                     f'<title>{escape(b.name)}: {b.count}</title></rect>')
        if b.labelled:
            cx = b.x + b.w / 2
            parts.append(f'<text x="{cx:.2f}" y="{base + 8}" transform="rotate(60 {cx:.2f} {base + 8})" '
                         f'fill="{TEXT_COLOUR}">{escape(b.name[:18])}</text>')
    if not dist.counts:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no labelled samples</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def plot_png(dist: ClassDistribution) -> bytes:
    """The distribution as a PNG image (Pillow's default font; names are drawn horizontally, shortened)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    base = HEIGHT - BOTTOM
    draw.text((LEFT, 10), _title(dist).replace("×", "x").replace("·", "|"), fill=TEXT_COLOUR)
    draw.line([(LEFT, base), (WIDTH - RIGHT, base)], fill=AXIS_COLOUR)
    draw.line([(LEFT, TOP), (LEFT, base)], fill=AXIS_COLOUR)
    bars = _bars(dist)
    if dist.counts:
        draw.text((4, TOP - 4), str(dist.counts[0][1]), fill=TEXT_COLOUR)
        draw.text((4, base - 8), "0", fill=TEXT_COLOUR)
    # Horizontal names need more room than rotated ones: name a bar every ~40 px, on two staggered rows.
    gap, last, named = 40.0, -40.0, 0
    for b in bars:
        draw.rectangle([b.x, b.y, b.x + b.w, base], fill=BAR_COLOUR)
        if b.x - last >= gap:
            draw.text((b.x, base + 6 + (named % 2) * 14), b.name[:12].encode("ascii", "replace").decode(),
                      fill=TEXT_COLOUR)
            last, named = b.x, named + 1
    if not bars:
        draw.text((WIDTH // 2 - 50, HEIGHT // 2), "no labelled samples", fill=TEXT_COLOUR)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_plot(dist: ClassDistribution, path: str | os.PathLike) -> Path:
    """Write the plot as SVG or PNG, chosen by the file's suffix; atomically. ManifestError on a bad path."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in PLOT_FORMATS:
        raise ManifestError(f"--plot {out}: the file name must end in .svg or .png")
    if out.is_dir():
        raise ManifestError(f"plot path is a folder: {out}")
    data = plot_svg(dist).encode("utf-8") if suffix == ".svg" else plot_png(dist)
    try:
        atomic_write_bytes(out, lambda tmp: Path(tmp).write_bytes(data))
    except OSError as exc:
        raise ManifestError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return out
