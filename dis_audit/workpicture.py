"""The working picture of the mask–image agreement: one reduction path from a picture of any size to exactly
``FIT_SIDE`` pixels on the long side (``fit_picture``), taken by the picture and by its mask alike.

An integer box reduction to at most ``REDUCE_SIDE`` (the blur measure's picture, so a large picture is read in
full once), then the integer part of the rest with another box reduction and the last few percent with a box
resampling (768 px: /4; 2048 px: /2, /5, then 205 -> 192 px; 3000 px: /3, /5, then 200 -> 192 px). The mask takes
the same steps in one pass (``_mask_to_fit``). ``dis_audit.maskfit`` re-exports these names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import pixels
from ._lazy import lazy_module
from .pixels import array_of

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")

#: Long side of the pictures the mask–image agreement compares.
FIT_SIDE = 192
#: Long side of the first picture of the reduction chain (``fit_picture``); also the blur measure's picture.
REDUCE_SIDE = 1024


def _factor(long_side: int, side: int) -> int:
    """The integer factor that brings a long side of ``long_side`` to at most ``side``."""
    return max(1, -(-long_side // side))


def reduced_to(im: PILImage.Image, side: int) -> PILImage.Image:
    """``im`` box-reduced by the integer factor that brings its long side to at most ``side``."""
    factor = _factor(max(im.size), side)
    return im.reduce(factor) if factor > 1 else im


def fit_size(size: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) of the fit picture of a picture of ``size`` (taken after the chain's first step).

    The long side is exactly ``FIT_SIDE`` whatever the source's size (a picture already smaller is not
    enlarged): the tiles, bands and shifts of the measure are then the same share of every picture, and one
    set of thresholds holds at 768 px and at 3000 px. An integer factor alone would give 166 to 192 px.
    """
    w, h = size
    long = max(w, h)
    if long <= FIT_SIDE:
        return w, h
    return max(1, round(w * FIT_SIDE / long)), max(1, round(h * FIT_SIDE / long))


def reduced_to_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """The size ``reduced_to(im, side)`` gives for a picture of ``size`` (Pillow's reduce rounds up)."""
    factor = _factor(max(size), side)
    return -(-size[0] // factor), -(-size[1] // factor)


def _steps(first_size: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    """The second step for a first picture of ``first_size``: its integer reduce factor and the fit size."""
    size = fit_size(first_size)
    return (max(1, max(first_size) // FIT_SIDE) if size != first_size else 1), size


def _to_fit(first: PILImage.Image) -> PILImage.Image:
    """The chain's second step: the first picture brought to ``fit_size``.

    By the whole integer part of the factor with ``reduce`` (a plain box average, 4x cheaper than a box
    resampling of the whole picture), then box-resampled the rest of the way, on a picture a few percent
    larger than the result; at an integer factor (768 px to 192) ``reduce`` alone.
    """
    k, size = _steps(first.size)
    return _finish(first.reduce(k) if k > 1 else first, size)


def _finish(near: PILImage.Image, size: tuple[int, int]) -> PILImage.Image:
    from PIL import Image

    return near if near.size == size else near.resize(size, Image.Resampling.BOX)


def _mask_to_fit(mask: PILImage.Image, pixels_of_mask: np.ndarray | None = None) -> np.ndarray:
    """The mask down the picture's path in one pass, as an array: ``reduce(a).reduce(b)`` is ``reduce(a * b)`` (the
    sizes agree, since ceil(ceil(n / a) / b) = ceil(n / ab), and so do the box averages but at a ragged edge).
    ``pixels_of_mask``: ``array_of(mask)`` when the caller has it already."""
    first = _factor(max(mask.size), REDUCE_SIDE)
    k, size = _steps(reduced_to_size(mask.size, REDUCE_SIDE))
    small = pixels.reduce_l(mask, first * k, pixels_of_mask)
    if (small.shape[1], small.shape[0]) == size:
        return small
    from PIL import Image

    return array_of(_finish(Image.fromarray(np.ascontiguousarray(small), "L"), size))


def fit_picture(grey: PILImage.Image) -> PILImage.Image:
    """The picture the agreement compares (the hash thumbnail uses it too): ``FIT_SIDE`` px on the long side.

    One chain for every size: box-reduced by an integer factor to at most ``REDUCE_SIDE`` (the blur
    measure's picture), then box-resampled to ``fit_size``. ``grey`` may also be RGB: it is reduced first and
    converted to grey after. It may also be the chain's first picture (``reduced_to(grey, REDUCE_SIDE)``):
    the result is the same, without reading ``grey`` again.
    """
    return _fit(grey, 0)[0]


def fit_picture_pixels(
    grey: PILImage.Image, line_stride: int = 0
) -> tuple[PILImage.Image, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """``fit_picture(grey)``, its pixels (``array_of`` of it), which the C reduction gives without reading them back
    from Pillow (the scan's hash thumbnail takes the picture, the agreement its pixels); and, with ``line_stride``,
    every ``line_stride``-th row and column of the chain's first picture in grey (``sharpness.sampled_lines`` of
    it: the blur measure's lines) where the C reduction read them in the same pass, else None."""
    small, pixels_of_small, lines = _fit(grey, line_stride)
    return small, pixels_of_small if pixels_of_small is not None else array_of(small), lines


_Fit = tuple["PILImage.Image", "np.ndarray | None", "tuple[np.ndarray, np.ndarray] | None"]


def _fit(grey: PILImage.Image, line_stride: int) -> _Fit:
    first = reduced_to(grey, REDUCE_SIDE)
    if first.mode == "RGB":
        fast = _rgb_to_fit(first, line_stride)
        if fast is not None:
            return fast
    small = _to_fit(first)
    return (small if small.mode == "L" else small.convert("L")), None, None


def _rgb_to_fit(first: PILImage.Image, line_stride: int) -> _Fit | None:
    """``_to_fit(first).convert("L")`` of an RGB first picture, the same pixels, with the integer reduction in C
    (``pixels.reduce_rgb``): converted to grey in the same pass where it lands on the fit size (768 px; the grey
    pixels are returned with the picture, which is a view of them), reduced in colour and finished by Pillow where
    it does not; and the lines ``fit_picture_pixels`` asks for, read in the same pass. None where the C kernel cannot
    run: Pillow's path then."""
    from PIL import Image

    k, size = _steps(first.size)
    if k == 1:
        return None
    w, h = first.size
    lines = None
    if line_stride > 0 and w >= 3 and h >= 3:  # sharpness.sampled_lines reads no picture under 3 px
        ys, xs = pixels.sample_positions(w, h, line_stride)
        lines = ys, xs, np.empty((len(ys), w), np.uint8), np.empty((len(xs), h), np.uint8)
    grey = (-(-w // k), -(-h // k)) == size
    small = pixels.reduce_rgb(first, k, grey, lines)
    if small is None:
        return None
    read = None if lines is None else (lines[2], lines[3])
    if grey:
        small.setflags(write=False)  # Pillow's picture below reads this memory
        return Image.fromarray(small), small, read
    return _finish(Image.fromarray(small), size).convert("L"), None, read
