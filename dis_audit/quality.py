"""Image-quality measures and mask–image agreement, computed from the pixels ``scan --deep`` decodes.

Runs in the scan's workers on the image and mask ``deep.decode_pair`` already holds, so nothing is
read or decoded twice. The rules (``rules/quality.py``, DA6xx) compare these measures with
``QualityThresholds``; docs/deep.md documents every measure, threshold and its calibration.

Measures of one image (``ImageQuality``), all on the 8-bit grey picture (Pillow's ``convert("L")``):

* ``low`` / ``high``: the 2nd and 98th percentile of the grey values. An image is *dark* when even its
  brightest 2 % stay low, *overexposed* when even its darkest 2 % are bright, so a black-background
  or white-background product photo with a visible object is neither.
* ``spread``: 99th minus 1st percentile: a near-flat (low-information) picture has almost none.
* ``sharpness``: the 99.9th percentile of the second derivative's magnitude over that of the first,
  along every 8th row and column of the picture at up to ``SHARP_SIDE`` pixels on the long side.
  A one-pixel step gives 2; an edge blurred over ``w`` pixels about ``2/w``, whatever its contrast.
  A percentile looks at the sharpest edges wherever they are: a thin wire on a plain sky keeps it
  high, where the variance of the Laplacian over the whole picture (the usual blur score) would
  call it blurry; and every structure, however thin, crosses rows or columns of one direction.
* ``colour``: for an RGB picture, the 99.9th percentile of the largest difference between its
  channels (on a thumbnail): 0–3 for a grey picture stored as RGB.

Mask–image agreement (``MaskFit``): the image's gradient magnitude, lightly smoothed, is averaged
along the mask's outline, and along the same outline shifted over a grid of offsets (up to
``SHIFT_RANGE`` of the image size) and mirrored left-right and top-bottom. ``score`` is the outline's
own value over the median of all placements (1.0: it follows no more edges than chance). The best
placement and how far it stands out are kept for the rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image as PILImage

#: Long side (pixels) of the picture the blur measure uses: large enough to keep 1–2 px structures.
SHARP_SIDE = 1024
#: Share of the strongest edge pixels the blur measure looks at.
SHARP_SHARE = 0.001
#: The blur measure reads every SHARP_STRIDE-th row and column.
SHARP_STRIDE = 8
#: Long side of the thumbnail the colour measure uses.
COLOUR_SIDE = 96
#: Long side of the pictures the mask–image agreement compares.
FIT_SIDE = 192
#: Largest shift tried, as a share of the image's width and height.
SHIFT_RANGE = 0.12
#: Shifts are tried every FIT_STEP pixels at FIT_SIDE.
FIT_STEP = 2
#: Mirror images are tried within this many pixels (at FIT_SIDE) of their own place.
FLIP_SLACK = 6
#: At most this many outline pixels (an even sample) are compared.
MAX_POINTS = 160
#: Placements nearer than this (pixels at FIT_SIDE) to the mask's own count as "the same place".
NEAR = 2
#: Fewest outline pixels (at FIT_SIDE) the agreement needs to mean anything.
MIN_OUTLINE = 40
#: Shortest side (pixels) an image needs for the agreement measure.
MIN_FIT_SIDE = 96
#: ``low``/``high`` are these shares of the darkest / brightest pixels.
LOW_SHARE = 0.02
#: Std of the 32x32 grey hash thumbnail under which a perceptual hash carries no information.
FLAT_HASH_STD = 3.0


@dataclass(frozen=True, slots=True)
class ImageQuality:
    """The quality measures of one decoded image (see the module docstring)."""

    width: int
    height: int
    low: float
    high: float
    spread: float
    sharpness: float | None  # None when the picture has no edge to measure
    colour: float | None  # None for a picture that is not RGB


@dataclass(frozen=True, slots=True)
class MaskFit:
    """How well a mask's outline follows its image's edges (see the module docstring)."""

    score: float  # own placement / median placement
    best: float  # best placement / median placement
    peak: float  # (best - median) / robust spread of the placements
    dx: float  # best placement's shift, share of the width (+: right)
    dy: float  # share of the height (+: down)
    flip: str  # "", "h" (left-right) or "v" (top-bottom)
    outline: int  # outline pixels compared


def _percentiles(hist: list[int] | np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """The values at shares ``qs`` of a histogram (bin index = value)."""
    cum = np.cumsum(hist)
    total = float(cum[-1]) if len(cum) else 0.0
    if total <= 0:
        return [0.0 for _ in qs]
    return np.searchsorted(cum, np.asarray(qs) * total, side="left").astype(float).tolist()


def _top(values: np.ndarray, share: float) -> float:
    """The value at the top ``share`` of ``values`` (e.g. 0.001: the 99.9th percentile)."""
    k = max(1, int(values.size * share))
    return float(np.partition(values, values.size - k)[values.size - k])


def grey_of(im: PILImage.Image) -> PILImage.Image:
    """The 8-bit grey picture of ``im`` (high-bit-depth greys scaled by their own range)."""
    from PIL import Image

    if im.mode == "L":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Scale by the picture's own range, so the measures see the picture rather than Pillow's clipping.
        arr = np.asarray(im, dtype=np.float64)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8))
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im.convert("L")


def _reduced(im: PILImage.Image, side: int) -> PILImage.Image:
    """``im`` shrunk by the integer factor that brings its long side to at most ``side`` (box average)."""
    factor = -(-max(im.size) // side)
    return im.reduce(factor) if factor > 1 else im


def sharpness_of(grey: np.ndarray) -> float | None:
    """Second over first derivative at their 99.9th percentiles (about 1 / edge width); None without edges.

    Taken along every ``SHARP_STRIDE``-th row (derivatives along x) and column (along y): every
    structure, however thin, crosses lines of one direction or the other, at a fraction of the cost
    of the whole picture. First derivative: ``|next - previous| / 2``; second: ``|previous + next - 2 c|``.
    A one-pixel step gives 2, an edge blurred over ``w`` pixels about ``2 / w``.
    """
    h, w = grey.shape
    if h < 3 or w < 3:
        return None
    lines = [grey[::SHARP_STRIDE].astype(np.int16), grey[:, ::SHARP_STRIDE].T.astype(np.int16)]
    first = np.concatenate([np.abs(x[:, 2:] - x[:, :-2]).ravel() for x in lines])
    second = np.concatenate([np.abs(x[:, 2:] + x[:, :-2] - 2 * x[:, 1:-1]).ravel() for x in lines])
    top_first = _top(first, SHARP_SHARE)
    if top_first / 2 < 4.0:  # no edge worth the name: flatness is another rule's business
        return None
    return _top(second, SHARP_SHARE) / (top_first / 2)


def image_quality(im: PILImage.Image, grey: PILImage.Image) -> ImageQuality:
    """The quality measures of a decoded image ``im`` whose grey picture is ``grey``."""
    from PIL import Image

    low, p1, p99, high = _percentiles(grey.histogram(), (LOW_SHARE, 0.01, 0.99, 1 - LOW_SHARE))
    sharp = sharpness_of(np.asarray(_reduced(grey, SHARP_SIDE)))
    colour = None
    if im.mode == "RGB":
        # A nearest-neighbour sample is enough to see colour, and costs nothing.
        w, h = im.size
        factor = max(1, max(w, h) // COLOUR_SIDE)
        rgb = np.asarray(im.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.NEAREST), np.int16)
        diff = np.maximum(np.abs(rgb[..., 0] - rgb[..., 1]), np.abs(rgb[..., 1] - rgb[..., 2]))
        diff = np.maximum(diff, np.abs(rgb[..., 0] - rgb[..., 2]))
        colour = _top(diff.ravel(), 0.001)
    return ImageQuality(im.width, im.height, low, high, p99 - p1, sharp, colour)


def hash_informative(thumb: np.ndarray) -> bool:
    """Whether a 32x32 grey hash thumbnail has enough structure for its pHash to mean anything."""
    return float(np.std(thumb)) >= FLAT_HASH_STD


# ----------------------------------------------------------------------------- mask–image agreement


def _outline(fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of foreground pixels with a background 4-neighbour."""
    edge = np.zeros_like(fg)
    edge[:-1, :] |= fg[:-1, :] != fg[1:, :]
    edge[1:, :] |= fg[1:, :] != fg[:-1, :]
    edge[:, :-1] |= fg[:, :-1] != fg[:, 1:]
    edge[:, 1:] |= fg[:, 1:] != fg[:, :-1]
    edge &= fg
    rows, cols = np.nonzero(edge)
    return rows, cols


def _edges(grey: np.ndarray) -> np.ndarray:
    """Gradient magnitude (|central difference x| + |y|), summed over a 3x3 box (int16; scale is irrelevant)."""
    g = grey.astype(np.int16)
    mag = np.zeros_like(g)
    mag[1:-1, 1:-1] = np.abs(g[2:, 1:-1] - g[:-2, 1:-1]) + np.abs(g[1:-1, 2:] - g[1:-1, :-2])
    # A 3x3 box: an outline drawn a pixel off its edge (annotation tolerance) still counts.
    rows = mag[:-2] + mag[1:-1] + mag[2:]
    out = np.zeros_like(g)
    out[1:-1, 1:-1] = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    return out


@dataclass(frozen=True)
class _Grid:
    """The placements tried for one picture size (cached: a dataset has few sizes)."""

    sx: int
    sy: int
    oy: int
    ox: int
    yy: np.ndarray
    xx: np.ndarray
    near: np.ndarray
    mirror: np.ndarray
    offsets: np.ndarray
    mirror_offsets: np.ndarray


@lru_cache(maxsize=64)
def _grid(h: int, w: int) -> _Grid:
    sx, sy = max(NEAR + 1, int(w * SHIFT_RANGE)), max(NEAR + 1, int(h * SHIFT_RANGE))
    dxs = np.arange(-(sx // FIT_STEP), sx // FIT_STEP + 1) * FIT_STEP
    dys = np.arange(-(sy // FIT_STEP), sy // FIT_STEP + 1) * FIT_STEP
    yy, xx = np.meshgrid(dys, dxs, indexing="ij")
    # Mirror images are tried near their own place only: an export flips about the picture's centre.
    mirror = (np.abs(yy) <= FLIP_SLACK) & (np.abs(xx) <= FLIP_SLACK)
    offsets = (yy * (w + 2 * sx) + xx).ravel()
    return _Grid(
        sx, sy, int(np.flatnonzero(dys == 0)[0]), int(np.flatnonzero(dxs == 0)[0]), yy, xx,
        (np.abs(yy) <= NEAR) & (np.abs(xx) <= NEAR), mirror, offsets, offsets[mirror.ravel()],
    )


def mask_fit(grey: PILImage.Image, mask: PILImage.Image) -> MaskFit | None:
    """The agreement of ``mask`` (L) with the grey image ``grey`` (same size); None when it cannot be judged."""
    if grey.size != mask.size or min(grey.size) < MIN_FIT_SIDE:
        return None
    factor = -(-max(grey.size) // FIT_SIDE)
    g = np.asarray(grey.reduce(factor) if factor > 1 else grey)
    small = np.asarray(mask.reduce(factor) if factor > 1 else mask)
    h, w = small.shape
    if factor > 1:
        # After a box reduction the outline is where the mask is neither all in nor all out.
        rows, cols = np.nonzero((small > 16) & (small < 239))
    else:
        rows, cols = _outline(small >= 128)
    if len(rows) < MIN_OUTLINE:
        return None
    if len(rows) > MAX_POINTS:  # an even sample of the outline judges as well and keeps the cost flat
        pick = np.linspace(0, len(rows) - 1, MAX_POINTS).astype(np.int64)
        rows, cols = rows[pick], cols[pick]
    edges = _edges(g)
    grid = _grid(h, w)
    sx, sy, yy, xx, near, mirror, offsets = grid.sx, grid.sy, grid.yy, grid.xx, grid.near, grid.mirror, grid.offsets
    width = w + 2 * sx
    # Edges padded with zeros by the largest shift: every placement is one gather of flat indices;
    # the part of an outline pushed off the picture counts as edgeless, so such a placement never wins.
    pad = np.pad(edges, ((sy, sy), (sx, sx))).ravel()
    placements: list[tuple[str, np.ndarray]] = []
    for flip, r, c in (("", rows, cols), ("h", rows, w - 1 - cols), ("v", h - 1 - rows, cols)):
        base = (r + sy) * width + (c + sx)
        if flip:
            means = np.full(yy.shape, np.nan)
            means[mirror] = pad[grid.mirror_offsets[:, None] + base[None, :]].mean(axis=1)
        else:
            means = pad[offsets[:, None] + base[None, :]].mean(axis=1).reshape(yy.shape)
        placements.append((flip, means))
    own = float(placements[0][1][grid.oy, grid.ox])
    every = placements[0][1].ravel()  # the chance level: the outline moved about, not mirrored
    median = float(np.median(every))
    if median <= 1e-6:
        return None
    spread = max(float(np.median(np.abs(every - median))) * 1.4826, 1e-3 * median)
    # The best placement away from the mask's own (nearby shifts are the same fit, blurred).
    best_val, best = -1.0, ("", 0, 0)
    for flip, v in placements:
        v = np.where(np.isfinite(v), v, -1.0)
        if not flip:
            v = np.where(near, -1.0, v)
        j = int(np.argmax(v))
        if v.flat[j] > best_val:
            best_val, best = float(v.flat[j]), (flip, int(xx.flat[j]), int(yy.flat[j]))
    flip, bx, by = best
    return MaskFit(
        score=own / median, best=best_val / median, peak=(best_val - median) / spread,
        dx=bx / w, dy=by / h, flip=flip, outline=len(rows),
    )


# ----------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class QualityThresholds:
    """The thresholds of the DA6xx rules; docs/deep.md says how each default was calibrated.

    Set any of them with ``scan(quality_thresholds={"dark_high": 60})`` or
    ``--quality-threshold dark_high=60``; they are stored in the manifest options.
    """

    #: DA601 dark-image: the brightest 2 % of pixels stay at or below this grey level.
    dark_high: float = 80.0
    #: DA602 overexposed-image: the darkest 2 % of pixels are at or above this grey level.
    overexposed_low: float = 180.0
    #: DA603 low-information-image: 99th minus 1st percentile of grey at or below this.
    flat_spread: float = 20.0
    #: DA604 blurry-image: sharpness (about 2 / edge width in pixels) below this.
    blur_sharpness: float = 0.8
    #: DA605 odd-aspect-ratio: long side over short side above this.
    aspect_ratio: float = 3.0
    #: DA606 grayscale-as-rgb: largest channel difference (99.9th percentile) at or below this.
    grey_colour: float = 4.0
    #: DA607 tiny-image: long side (pixels) below this (a quarter of BiRefNet's 1024 training size).
    tiny_side: float = 256.0
    #: DA608 mask-misregistered: the best other placement fits at least this many times better ...
    fit_ratio: float = 1.25
    #: ... and stands out of all placements by at least this many robust deviations.
    fit_peak: float = 4.0
    #: DA609 mask-image-mismatch: the mask's own outline scores at or below this (1.0 = chance).
    swap_score: float = 1.05

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def parse(cls, values: Mapping[str, object] | str | Iterable[str] | None) -> QualityThresholds:
        """Thresholds from a mapping, or ``NAME=VALUE`` strings (comma-separated or a list); ValueError if bad."""
        if values is None:
            return cls()
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, Mapping):
            items: dict[str, object] = {}
            for part in (p.strip() for value in values for p in str(value).split(",")):
                if not part:
                    continue
                name, sep, number = part.partition("=")
                if not sep:
                    raise ValueError(f"quality threshold {part!r} is not NAME=VALUE")
                items[name.strip()] = number.strip()
            values = items
        known = cls.names()
        changes: dict[str, float] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown quality threshold {name!r} (known: {', '.join(known)})")
            try:
                threshold = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"quality threshold {name}={value!r} is not a number") from None
            if not math.isfinite(threshold) or threshold < 0:
                raise ValueError(f"quality threshold {name}={value!r} must be a finite number >= 0")
            changes[name] = threshold
        return cls(**changes)

    def changed(self) -> dict[str, float]:
        """The thresholds that differ from the defaults (what the manifest options record)."""
        default = QualityThresholds()
        return {name: getattr(self, name) for name in self.names() if getattr(self, name) != getattr(default, name)}
