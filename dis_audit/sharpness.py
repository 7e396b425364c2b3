"""The blur measure of DA604 (``ImageQuality.sharpness``) and the grey levels of the pixels it reads.

``sharpness``: the 99.9th percentile of the second derivative's magnitude over that of the first, along every
``SHARP_STRIDE``-th row and column of the picture at up to ``SHARP_SIDE`` pixels on the long side. A one-pixel
step gives 2; an edge blurred over ``w`` pixels about ``2/w``, whatever its contrast. A percentile looks at the
sharpest edges wherever they are: a thin wire on a plain sky keeps it high, where the variance of the
Laplacian over the whole picture (the usual blur score) would call it blurry; and every structure, however
thin, crosses rows or columns of one direction.

``line_measures`` computes it with the C kernel of ``dis_audit._fastpixels`` where that is built, and with
``_sharpness`` (the numpy definition, which tests hold the kernel to) where it is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import pixels
from ._lazy import lazy_module
from .workpicture import REDUCE_SIDE, reduced_to

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")

#: Long side (pixels) of the picture the blur measure uses: large enough to keep 1–2 px structures. The first
#: picture of the reduction chain ``maskfit.fit_picture`` describes, so the scan reduces a large picture once.
SHARP_SIDE = REDUCE_SIDE
#: Share of the strongest edge pixels the blur measure looks at.
SHARP_SHARE = 0.001
#: The blur measure reads every SHARP_STRIDE-th row and column.
SHARP_STRIDE = 16
#: A picture larger than ``SHARP_SIDE`` is also measured at its own resolution, along every
#: NATIVE_STRIDE x (its reduction factor)-th row and column: as many lines as the reduced picture's, each as long
#: as the picture (``ImageQuality.sharpness_native``).
NATIVE_STRIDE = 16
#: Below this first derivative (grey levels a pixel) at the 99.9th percentile there is no edge to measure.
MIN_EDGE = 4.0


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
    return _sharpness(grey[::SHARP_STRIDE], grey[:, ::SHARP_STRIDE].T)


def sharp_lines(grey: PILImage.Image, stride: int = SHARP_STRIDE) -> tuple[PILImage.Image, PILImage.Image] | None:
    """Every ``stride``-th row and column of ``grey`` (L or RGB) at up to ``SHARP_SIDE`` px, as two L pictures
    whose rows are those lines (the columns' picture is transposed).

    None for a picture under 3 px. Pillow picks them (a nearest-neighbour resize in one direction), so the
    whole picture is never copied into numpy.
    """
    return _pillow_lines(reduced_to(grey, SHARP_SIDE), stride)  # no-op on a picture already reduced


def _pillow_lines(pic: PILImage.Image, stride: int) -> tuple[PILImage.Image, PILImage.Image] | None:
    from PIL import Image

    w, h = pic.size
    if h < 3 or w < 3:
        return None
    rows = pic.resize((w, -(-h // stride)), Image.Resampling.NEAREST)
    cols = pic.resize((-(-w // stride), h), Image.Resampling.NEAREST).transpose(Image.Transpose.TRANSPOSE)
    if pic.mode != "L":  # an RGB picture: only the sampled lines are converted to grey
        rows, cols = rows.convert("L"), cols.convert("L")
    return rows, cols


def line_arrays(
    grey: PILImage.Image, raw: tuple[np.ndarray, int] | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """``sharp_lines(grey)`` as two uint8 arrays (a line a row). ``raw``: ``pixels.raw_of(grey)`` when the caller
    has it already."""
    pic = reduced_to(grey, SHARP_SIDE)
    return sampled_lines(pic, SHARP_STRIDE, raw if pic is grey else None)


def sampled_lines(
    pic: PILImage.Image, stride: int, raw: tuple[np.ndarray, int] | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Every ``stride``-th row and column of ``pic`` (L or RGB) in grey, as two uint8 arrays (a line a row; the
    columns' transposed), where Pillow's nearest-neighbour resize picks them; None under 3 px. Read straight from
    Pillow's memory where the C kernels are built and Pillow exports it (the same pixels: ``pixels.nearest`` is
    Pillow's rule and ``pixels.gather`` its grey conversion); through Pillow otherwise."""
    w, h = pic.size
    if h < 3 or w < 3:
        return None
    if raw is None:
        raw = pixels.raw_of(pic) if pixels.gather is not None else None
    if raw is None or pixels.gather is None:
        lines = _pillow_lines(pic, stride)
        return None if lines is None else (pixels.array_of(lines[0]), pixels.array_of(lines[1]))
    data, channels = raw
    ys, xs = pixels.sample_positions(w, h, stride)
    rows, cols = np.empty((len(ys), w), np.uint8), np.empty((len(xs), h), np.uint8)
    pixels.gather(data, w, channels, ys, pixels.nearest(w, w), 0, 0, rows)
    pixels.gather(data, w, channels, pixels.nearest(h, h), xs, 0, 1, cols)
    return rows, cols


def line_measures(rows: np.ndarray, cols: np.ndarray) -> tuple[float | None, np.ndarray]:
    """(sharpness, grey histogram) of the lines ``sharp_lines`` picked (as uint8 arrays, a line a row)."""
    k = max(1, int((rows.shape[0] * (rows.shape[1] - 2) + cols.shape[0] * (cols.shape[1] - 2)) * SHARP_SHARE))
    if pixels.line_stats is not None:
        hist = np.zeros(256, np.int64)
        first, second = pixels.line_stats(
            np.ascontiguousarray(rows), rows.shape[1], np.ascontiguousarray(cols), cols.shape[1], k, hist
        )
        return _ratio(float(first), float(second)), hist
    hist = np.bincount(rows.ravel(), minlength=256) + np.bincount(cols.ravel(), minlength=256)
    return _sharpness(rows, cols), hist


def _ratio(first: float, second: float) -> float | None:
    """The sharpness from the k-th largest first (``|next - previous|``) and second derivatives."""
    if first / 2 < MIN_EDGE:  # no edge worth the name: flatness is another rule's business
        return None
    return second / (first / 2)


def _sharpness(rows: np.ndarray, cols: np.ndarray) -> float | None:
    """``sharpness_of`` from the rows and the columns (given as rows) it reads: the numpy definition."""
    # All lines end to end, in one array: the derivatives at a line's first and last pixel, which would
    # straddle two lines, are set to 0 (below every value that can decide a 99.9th percentile but 0 itself).
    x = np.concatenate((rows.ravel(), cols.ravel())).astype(np.int16)
    # With d the step to the next pixel: |next - previous| = |d1 + d0|, |next + previous - 2c| = |d1 - d0|.
    d = np.diff(x)
    first = d[1:] + d[:-1]
    second = d[1:] - d[:-1]
    np.abs(first, out=first)
    np.abs(second, out=second)
    # Centre i (index i - 1 here) straddles two lines when it is a line's last pixel or the next one's first.
    ends = np.concatenate((np.arange(1, rows.shape[0]) * rows.shape[1],
                           rows.size + np.arange(cols.shape[0]) * cols.shape[1]))
    ends = ends[(ends > 0) & (ends < x.size)]
    cut = np.concatenate((ends - 2, ends - 1))
    first[cut] = 0
    second[cut] = 0
    k = max(1, int((first.size - cut.size) * SHARP_SHARE))
    return _ratio(_kth_largest([first], k), _kth_largest([second], k))


def kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of the non-negative integers ``values``: in C for uint8 where ``dis_audit._fastpixels``
    is built, else by counting (``_kth_largest``, the definition the kernel is held to)."""
    if pixels.kth_largest_u8 is not None and values.dtype == np.uint8 and values.size:
        return float(pixels.kth_largest_u8(np.ascontiguousarray(values), k))
    return _kth_largest([values], k)


def _kth_largest(parts: list[np.ndarray], k: int) -> float:
    """The ``k``-th largest value of the non-negative integer arrays ``parts`` together.

    By counting, not ``np.partition``: the values are small integers, and a partition slows down a
    hundredfold on arrays with many equal values (an overexposed or flat picture's derivatives). Only the
    values of at least a quarter of the largest are counted when there are ``k`` of them (the ``k``-th
    largest is then among them): a small share of a picture's derivatives, so the counting is cheap.
    """
    values = np.concatenate([p.ravel() for p in parts]) if len(parts) > 1 else parts[0].ravel()
    if values.size == 0:
        return 0.0
    top = values[values >= values.max() // 4]
    counts = np.bincount(top if top.size >= k else values)
    at_least = np.cumsum(counts[::-1])  # at_least[i]: how many values are >= len(counts) - 1 - i
    return float(counts.size - 1 - int(np.searchsorted(at_least, k)))
