"""Pixels of a decoded Pillow picture as numpy arrays, without a copy where Pillow allows it, and the blur
measure's line statistics in C where the optional extension is built.

``array_of(im)`` is ``np.asarray(im)`` (the same values, shape and dtype, read-only), but where Pillow exports
its pixels through the Arrow C data interface (Pillow >= 11.2; an "L" picture, or an "RGB" one, in one block of
memory) the array is a view of Pillow's own memory: ``np.asarray`` copies every pixel twice (Pillow's
``tobytes`` and the join of its chunks), which costs more than the measures that read the array.

``line_stats``, ``edge_map`` and ``placement_sums`` are the C kernels of ``dis_audit._fastpixels`` (None where it
is not built): the blur measure's k-th largest first and second differences along its sampled lines with their
grey histogram, in one call; and the mask–image agreement's edge map and its sums over the outline at every
placement (``dis_audit.sharpness`` and ``dis_audit.maskfit`` have the numpy definitions they must equal).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")

# The kernels of dis_audit._fastpixels, or None where the extension is not built (no compiler at install time):
# the numpy definitions run instead (dis_audit.sharpness, dis_audit.maskfit), and tests hold both to one value.
#: ``line_stats(rows, row_length, cols, col_length, k, grey) -> (first, second)``: ``sharpness.line_measures``.
line_stats: Callable[[np.ndarray, int, np.ndarray, int, int, np.ndarray], tuple[int, int]] | None
#: ``edge_map(pic, width, out)``: ``maskfit._edges`` without padding.
edge_map: Callable[[np.ndarray, int, np.ndarray], None] | None
#: ``placement_sums(edges, width, rows, cols, dy0, ny, step_y, dx0, nx, step_x, out)``: ``maskfit._placed``, summed.
placement_sums: Callable[..., None] | None
#: ``mask_counts(mask, width) -> (zeros, 255s, foreground, largest value, outline edges)``: ``deep.mask_stats``'s counts.
mask_counts: Callable[[np.ndarray, int], tuple[int, int, int, int, int]] | None
#: ``gather(pixels, width, channels, ys, xs, kind, transpose, out)``: grey levels (kind 0) or channel spreads
#: (kind 1) at the pixels (ys[i], xs[j]) of ``raw_of``'s array: what a nearest-neighbour resize at ``nearest``'s
#: positions and ``convert("L")`` give.
gather: Callable[[np.ndarray, int, int, np.ndarray, np.ndarray, int, int, np.ndarray], None] | None
#: ``kth_largest_u8(values, k)``: the k-th largest of uint8 values (``sharpness._kth_largest`` of one array).
kth_largest_u8: Callable[[np.ndarray, int], int] | None
#: ``even_points(values, width, lo, span, n, rows, cols) -> count``: ``maskfit._even_flat`` of the pixels whose
#: value v has ``(v - lo) % 256 < span``.
even_points: Callable[[np.ndarray, int, int, int, int, np.ndarray, np.ndarray], int] | None
#: ``band_masks(fg, width, band, inner, outer)``: ``maskfit._bands`` of a bool array, into two bool arrays.
band_masks: Callable[[np.ndarray, int, int, np.ndarray, np.ndarray], None] | None
#: ``tile_means(pic, width, rows_in, cols_in, rows_out, cols_out, tile, dy0, ny, step_y, dx0, nx, step_x, means_in,
#: means_out, weight) -> n``: ``maskfit._common_tiles``.
tile_means: Callable[..., int] | None
#: ``box_reduce(pixels, width, factor, table, out)``: ``reduce_l``'s whole boxes.
box_reduce: Callable[[np.ndarray, int, int, np.ndarray, np.ndarray], None] | None
#: ``box_reduce_rgb(pixels, width, factor, table, grey, out[, ys, xs, rows, cols])``: ``reduce_rgb``'s whole boxes, from
#: ``raw_of``'s array, and the grey rows ys and columns xs of the picture in the same pass.
box_reduce_rgb: Callable[..., None] | None
try:
    from ._fastpixels import (
        band_masks,
        box_reduce,
        box_reduce_rgb,
        edge_map,
        even_points,
        gather,
        kth_largest_u8,
        line_stats,
        mask_counts,
        placement_sums,
        tile_means,
    )
except ImportError:
    line_stats = edge_map = placement_sums = mask_counts = gather = kth_largest_u8 = even_points = None
    band_masks = box_reduce = box_reduce_rgb = tile_means = None


#: Pictures of at least this many pixels are read through Arrow; for smaller ones ``np.asarray`` costs no more.
ARROW_PIXELS = 1 << 17


def array_of(im: PILImage.Image) -> np.ndarray:
    """``np.asarray(im)``, read-only; a view of Pillow's memory (no copy) for a large "L" or "RGB" picture where
    Pillow allows it."""
    if im.mode in ("L", "RGB") and im.width * im.height >= ARROW_PIXELS and hasattr(im, "__arrow_c_array__"):
        view = _arrow_view(im)
        if view is not None:
            return view
    return np.asarray(im)


def raw_of(im: PILImage.Image) -> tuple[np.ndarray, int] | None:
    """(Pillow's own bytes of an "L" or "RGB" picture, bytes a pixel: 1 or 4), without a copy; None where Pillow
    cannot export them (a picture in several blocks of memory, an old Pillow)."""
    if im.mode not in ("L", "RGB") or not hasattr(im, "__arrow_c_array__"):
        return None
    flat = _arrow(im)
    if flat is None:
        return None
    channels = 1 if im.mode == "L" else 4
    count = channels * im.width * im.height
    return np.frombuffer(flat.buffers()[-1], np.uint8, count=count, offset=channels * flat.offset), channels


@lru_cache(maxsize=256)
def nearest(n_in: int, n_out: int) -> np.ndarray:
    """The source positions (int64) of Pillow's nearest-neighbour resize from ``n_in`` to ``n_out`` pixels along
    one axis: the centre of output pixel ``i`` is ``(i + 0.5) * n_in / n_out``, accumulated in floating point as
    Pillow does (``ImagingScaleAffine``), then truncated. tests/test_fastpixels.py checks it against Pillow."""
    scale = n_in / n_out
    steps = np.full(n_out, scale)
    steps[0] = 0.0 + scale * 0.5
    at = np.cumsum(steps).astype(np.int64)  # a running sum, one addition after another, like Pillow's loop
    at.setflags(write=False)
    return at


def _arrow(im: PILImage.Image) -> Any:
    import pyarrow as pa

    try:
        return pa.array(im)  # Pillow keeps the picture's memory alive as long as the array holds it
    except Exception:  # a picture in several blocks of memory (a large RGB one), or an old Pillow
        return None


def _arrow_view(im: PILImage.Image) -> np.ndarray | None:
    flat = _arrow(im)
    if flat is None:
        return None
    w, h = im.size
    # The data buffer read directly: pyarrow's to_numpy goes through its pandas conversion, which costs more.
    if im.mode == "L":
        return np.frombuffer(flat.buffers()[1], np.uint8, count=w * h, offset=flat.offset).reshape(h, w)
    # RGB is stored as 4 bytes a pixel (the 4th unused): the first three of each, as np.asarray gives them.
    data = np.frombuffer(flat.buffers()[-1], np.uint8, count=4 * w * h, offset=4 * flat.offset)
    return data.reshape(h, w, 4)[..., :3]


def reduce_l(im: PILImage.Image, factor: int, pixels_of_im: np.ndarray | None = None) -> np.ndarray:
    """``np.asarray(im.reduce(factor))`` of an "L" picture (``im`` itself for a factor of 1), the same pixels: where
    the C kernels are built, the whole boxes are summed in C and mapped through Pillow's own rounding
    (``_reduce_table``: Pillow's reduce depends on a box's sum alone), and only a ragged last column and row,
    if any, are left to Pillow. ``pixels_of_im``: ``array_of(im)`` when the caller has it already."""
    w, h = im.size
    fw, fh = w // factor, h // factor
    if box_reduce is None or im.mode != "L" or factor < 2 or factor > 16 or fw == 0 or fh == 0:
        return array_of(im.reduce(factor) if factor > 1 else im)
    data = np.ascontiguousarray(pixels_of_im if pixels_of_im is not None else array_of(im))
    out = np.empty((-(-h // factor), -(-w // factor)), np.uint8)
    ragged = fw * factor < w or fh * factor < h
    whole = np.empty((fh, fw), np.uint8) if ragged else out  # written in place when there is no ragged edge
    box_reduce(data, w, factor, _reduce_table(factor), whole)
    if not ragged:
        return out
    out[:fh, :fw] = whole
    if fw * factor < w:  # the ragged last column (and corner): Pillow, on the strip, with the same boxes
        out[:, fw:] = np.asarray(im.crop((fw * factor, 0, w, h)).reduce(factor))
    if fh * factor < h:
        out[fh:, :fw] = np.asarray(im.crop((0, fh * factor, fw * factor, h)).reduce(factor))
    return out


def sample_positions(w: int, h: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of a ``w`` x ``h`` picture that every ``stride``-th row and column are read at: where Pillow's
    nearest-neighbour resize to ceil(h / stride) rows (ceil(w / stride) columns) takes them (``nearest``)."""
    return nearest(h, -(-h // stride)), nearest(w, -(-w // stride))


def reduce_rgb(
    im: PILImage.Image, factor: int, grey: bool = False, lines: tuple[np.ndarray, ...] | None = None
) -> np.ndarray | None:
    """``np.asarray(im.reduce(factor))`` of an "RGB" picture, or with ``grey`` ``np.asarray(im.reduce(factor)
    .convert("L"))``: the same pixels, the whole boxes summed in C straight from Pillow's memory (``raw_of``) and
    mapped through Pillow's own rounding (``_reduce_table``), then converted to grey by Pillow's formula in the same
    pass; a ragged last column and row, if any, left to Pillow. None where the kernel is not built, Pillow's memory
    cannot be read, or the factor is outside 2 .. 16: the caller takes Pillow's path.

    ``lines``: (ys, xs, rows, cols), filled in the same pass (the picture is read once) where the result is not None:
    the grey levels of ``im``'s rows ys (ascending) into ``rows`` (uint8, len(ys) x width) and of its columns xs into
    ``cols`` (len(xs) x height, a column a row), as ``gather`` reads them."""
    w, h = im.size
    fw, fh = w // factor, h // factor
    if box_reduce_rgb is None or im.mode != "RGB" or factor < 2 or factor > 16 or fw == 0 or fh == 0:
        return None
    raw = raw_of(im)
    if raw is None:
        return None
    depth: tuple[int, ...] = () if grey else (3,)
    out = np.empty((-(-h // factor), -(-w // factor), *depth), np.uint8)
    ragged = fw * factor < w or fh * factor < h
    whole = np.empty((fh, fw, *depth), np.uint8) if ragged else out  # written in place when there is no ragged edge
    box_reduce_rgb(raw[0], w, factor, _reduce_table(factor, "RGB"), int(grey), whole, *(lines or ()))
    if not ragged:
        return out
    out[:fh, :fw] = whole

    def pillow(box: tuple[int, int, int, int]) -> np.ndarray:
        part = im.crop(box).reduce(factor)  # the same boxes as the whole picture's last column or row
        return np.asarray(part.convert("L") if grey else part)

    if fw * factor < w:  # the ragged last column (and corner)
        out[:, fw:] = pillow((fw * factor, 0, w, h))
    if fh * factor < h:
        out[fh:, :fw] = pillow((0, fh * factor, fw * factor, h))
    return out


@lru_cache(maxsize=16)
def _reduce_table(factor: int, mode: str = "L") -> np.ndarray:
    """What Pillow's ``reduce(factor)`` makes of a whole box of each sum 0 .. 255 x factor² in a picture of
    ``mode`` ("L", or "RGB": each channel): asked of Pillow, by reducing a strip of boxes that have every sum (so the
    table is Pillow's rounding, whatever its version)."""
    from PIL import Image

    area = factor * factor
    n = 255 * area + 1
    q, r = np.divmod(np.arange(n), area)
    boxes = (q[:, None] + (np.arange(area)[None, :] < r[:, None])).astype(np.uint8)  # box s: r pixels q + 1, the rest q
    strip = boxes.reshape(n, factor, factor).transpose(1, 0, 2).reshape(factor, n * factor)
    if mode == "L":
        table = np.asarray(Image.fromarray(strip).reduce(factor))[0]
    else:  # every channel the same strip: Pillow's rounding is the same for each (tests check it), read the first
        table = np.asarray(Image.fromarray(np.repeat(strip[..., None], 3, axis=2)).reduce(factor))[0, :, 0]
    table = np.ascontiguousarray(table)
    table.setflags(write=False)
    return table
