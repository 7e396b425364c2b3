"""Image-quality measures and mask–image agreement, computed from the pixels ``scan --deep`` decodes.

Runs in the scan's workers on the image and mask ``deep.decode_pair`` already holds, so nothing is
read or decoded twice. The rules (``rules/quality.py``, DA6xx) compare these measures with
``QualityThresholds``; docs/deep.md documents every measure, threshold and its calibration.

Measures of one image (``ImageQuality``), all on 8-bit grey (Pillow's ``convert("L")``; an RGB picture is
converted only where the measures read it):

* ``low`` / ``high``: the 2nd and 98th percentile of the grey values. An image is *dark* when even its
  brightest 2 % stay low, *overexposed* when even its darkest 2 % are bright, so a black-background
  or white-background product photo with a visible object is neither.
* ``spread``: 99th minus 1st percentile: a near-flat (low-information) picture has almost none.
  The percentiles are read on the rows and columns the blur measure samples (nearest, not averaged).
* ``sharpness``: the 99.9th percentile of the second derivative's magnitude over that of the first,
  along every 16th row and column of the picture at up to ``SHARP_SIDE`` pixels on the long side
  (about 2 / edge width in pixels; ``dis_audit.sharpness`` defines it).
* ``colour``: for an RGB picture, the 99.9th percentile of the largest difference between its
  channels (on a thumbnail): 0–3 for a grey picture stored as RGB.

Mask–image agreement (``MaskFit``, ``mask_fit``) lives in ``dis_audit.maskfit`` and is re-exported here.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from itertools import accumulate
from typing import TYPE_CHECKING

from . import pixels
from ._lazy import lazy_module
from .maskfit import CONTRAST_BELOW
from .maskfit import MaskFit as MaskFit
from .maskfit import mask_fit as mask_fit
from .pixels import array_of
from .sharpness import NATIVE_STRIDE, kth_largest, line_arrays, line_measures, sampled_lines
from .sharpness import SHARP_SIDE as SHARP_SIDE
from .sharpness import sharpness_of as sharpness_of

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")

#: Long side of the thumbnail the colour measure uses.
COLOUR_SIDE = 96
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
    #: The same measure at the picture's own resolution, for a picture larger than the blur measure's (None for
    #: the others; 0.0 where no edge is steeper than 4 levels a pixel): blur of a few pixels of a large picture
    #: vanishes in the reduced one.
    sharpness_native: float | None = None


def _percentiles(hist: list[int] | np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """The values at shares ``qs`` of a histogram (bin index = value): for each, the first value whose cumulative
    count reaches that share of the total (``np.searchsorted(cumsum, q * total)``; in plain Python, which costs
    less than numpy's dispatch on 256 bins)."""
    cum = list(accumulate(hist.tolist() if isinstance(hist, np.ndarray) else hist))
    total = float(cum[-1]) if cum else 0.0
    if total <= 0:
        return [0.0 for _ in qs]
    return [float(bisect_left(cum, q * total)) for q in qs]


def _top(values: np.ndarray, share: float) -> float:
    """The value at the top ``share`` of non-negative integers ``values`` (e.g. 0.001: the 99.9th percentile)."""
    return kth_largest(values, max(1, int(values.size * share)))


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


def image_quality(
    im: PILImage.Image, grey: PILImage.Image | None = None, blur_picture: PILImage.Image | None = None,
    lines: tuple[np.ndarray, np.ndarray] | None = None,
) -> ImageQuality:
    """The quality measures of a decoded image ``im`` whose grey picture is ``grey``.

    ``grey`` may be left out for an RGB picture: the measures then convert only the pixels they read.
    ``blur_picture``: ``maskfit.reduced_to(grey or im, SHARP_SIDE)`` when the caller has it already; ``lines``: its
    blur lines (``sharpness.line_arrays(blur_picture)``; ``workpicture.fit_picture_pixels`` reads them with the fit
    picture).
    """
    from PIL import Image

    if grey is None:
        grey = im if im.mode == "RGB" else grey_of(im)
    # Pillow's own bytes of an RGB picture, read once for the blur lines (where they come from it) and the colour.
    raw = pixels.raw_of(im) if pixels.gather is not None and im.mode == "RGB" else None
    pic = blur_picture if blur_picture is not None else grey
    if lines is None:
        lines = line_arrays(pic, raw if pic is im else None)
    # The percentiles from the rows and columns the blur measure reads (an even sample, not averaged, so
    # the spread of the grey values is kept): 1/8 of the pixels gives the same levels at a fraction of the cost.
    sharp = None
    hist: np.ndarray | list[int]
    if lines is not None:
        sharp, hist = line_measures(*lines)
    else:
        hist = np.asarray(grey_of(grey).histogram())
    low, p1, p99, high = _percentiles(hist, (LOW_SHARE, 0.01, 0.99, 1 - LOW_SHARE))
    native = None
    if max(grey.size) > SHARP_SIDE:
        # As many lines of the picture itself, each as long as it is: a blur of a few of its pixels, which the
        # reduced picture no longer shows, widens every edge here.
        native_lines = sampled_lines(grey, NATIVE_STRIDE * -(-max(grey.size) // SHARP_SIDE), raw if grey is im else None)
        if native_lines is not None:
            native = line_measures(*native_lines)[0] or 0.0
    colour = None
    if im.mode == "RGB":
        # A nearest-neighbour sample is enough to see colour, and costs nothing.
        w, h = im.size
        factor = max(1, max(w, h) // COLOUR_SIDE)
        size = max(1, w // factor), max(1, h // factor)
        # The largest difference between two channels: the largest channel minus the smallest (uint8, no overflow).
        if raw is not None and pixels.gather is not None:  # the same sample, read from Pillow's memory in C
            ys, xs = pixels.nearest(h, size[1]), pixels.nearest(w, size[0])
            spread = np.empty((len(ys), len(xs)), np.uint8)
            pixels.gather(raw[0], w, raw[1], ys, xs, 1, 0, spread)
        else:
            rgb = array_of(im.resize(size, Image.Resampling.NEAREST))
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        colour = _top(spread, 0.001)
    return ImageQuality(grey.width, grey.height, low, high, p99 - p1, sharp, colour, native)


def hash_informative(thumb: np.ndarray) -> bool:
    """Whether a 32x32 grey hash thumbnail has enough structure for its pHash to mean anything."""
    # np.std written out: its dispatch costs more than the arithmetic on 1,024 values.
    flat = thumb.ravel()
    centred = flat - np.add.reduce(flat) / flat.size  # the mean as np.mean takes it (the same pairwise sum)
    return float(np.sqrt(centred @ centred / centred.size)) >= FLAT_HASH_STD


# ----------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class QualityThresholds:
    """The thresholds of the DA6xx rules; docs/deep.md says how each default was calibrated.

    Set any of them with ``scan(quality_thresholds={"dark_high": 60})``, ``--quality-threshold
    dark_high=60`` or ``quality-thresholds = { dark_high = 60 }`` in the configuration file (a name on
    the command line wins over the same name in the file); they are stored in the manifest options.
    """

    #: DA601 dark-image: the brightest 2 % of pixels stay at or below this grey level.
    dark_high: float = 80.0
    #: DA602 overexposed-image: the darkest 2 % of pixels are at or above this grey level.
    overexposed_low: float = 180.0
    #: DA603 low-information-image: 99th minus 1st percentile of grey at or below this.
    flat_spread: float = 20.0
    #: DA604 blurry-image: sharpness (about 2 / edge width in pixels) below this ...
    blur_sharpness: float = 0.8
    #: ... or, for a picture larger than the blur measure's 1024 px, its sharpness at its own resolution
    #: (``ImageQuality.sharpness_native``) below this (0 turns it off).
    blur_native: float = 0.75
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
    #: DA609 mask-image-mismatch: the mask's own outline follows edges at most this many times chance ...
    swap_score: float = 1.5
    #: ... the contrast inside/outside its outline stands out of shifted placements by at most this many
    #: robust deviations (``MaskFit.contrast``) ...
    swap_contrast: float = 3.0
    #: ... and the two signals together, each in robust deviations above the shifted placements
    #: (``MaskFit.edge_z + MaskFit.contrast``), come to at most this: the decisive test.
    swap_evidence: float = 2.1
    #: ... or, where the contrast cannot be measured (bands too thin at 192 px: wires), the edge score
    #: alone at or below this.
    swap_edge_only: float = 1.05
    #: DA609 also fires, with the edge agreement at most ``swap_score``, where the own placement is off its
    #: peak (a shift of at most ``maskfit.PEAK_REACH`` px at 192 px fits better by the edges and by the
    #: contrast: ``MaskFit.own_peak`` false) and ``edge_z + contrast`` is at most this (0 turns it off).
    #: Calibrated on the tuning trees; on by default since it lifts held-out recall from 0.83 to 0.93 for
    #: one more flagged clean pair in 880 (a camouflaged object all but invisible at 192 px; docs/deep.md).
    swap_off_peak: float = 3.5

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def parse(cls, values: Mapping[str, object] | str | Iterable[str] | None) -> QualityThresholds:
        """Thresholds from a mapping, or ``NAME=VALUE`` strings (comma-separated or a list); ValueError if bad."""
        return cls(**cls.items_of(values))

    @classmethod
    def items_of(cls, values: Mapping[str, object] | str | Iterable[str] | None) -> dict[str, float]:
        """The thresholds ``values`` names, checked (as ``parse`` takes them), as a ``{name: number}`` dict."""
        if values is None:
            return {}
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
            if name == "swap_score" and threshold > CONTRAST_BELOW:
                raise ValueError(f"quality threshold swap_score={value!r} must be at most {CONTRAST_BELOW:g} "
                                 "(the contrast DA609 also needs is measured only below it)")
            changes[name] = threshold
        return changes

    def changed(self) -> dict[str, float]:
        """The thresholds that differ from the defaults (what the manifest options record)."""
        default = QualityThresholds()
        return {name: getattr(self, name) for name in self.names() if getattr(self, name) != getattr(default, name)}
