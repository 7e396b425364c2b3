"""Mask–image agreement: does a mask's outline lie where its image changes? (DA608, DA609, ``mask_edge_score``).

Both pictures take one reduction path to a working picture of exactly ``FIT_SIDE`` pixels on the long side
(``fit_picture``: an integer box reduction to at most ``REDUCE_SIDE``, then a box resampling), so that
every measure below sees the same share of a 768 px and of a 3000 px picture; and the mask's outline is
compared with the image at its own place and at a grid of
other *placements*: shifted up to ``SHIFT_RANGE`` of the image size, and mirrored left-right and
top-bottom. Two signals, each taken over the same shifts so that each image is its own reference:

* **edge** (``score``, ``best``, ``peak``): the image's gradient magnitude, summed over a 3x3 box, averaged
  along an even sample of the outline. ``score`` is the own placement's value over the median of all
  shifts (1.0: the outline follows no more edges than chance); ``edge_z`` the same in robust deviations of
  the shifts (the ratio stays near 1 on a textured picture even for an outline that fits). DA608 reads
  the best other placement.
* **contrast** (``contrast``): the picture is cut into ``TILE`` x ``TILE`` tiles; in each, the mean grey of
  a band ``BAND`` pixels wide just inside the outline is compared with that of the band just outside,
  and the absolute differences are averaged over the tiles (weighted by their band pixels).
  ``contrast`` says by how many robust deviations the own placement's value stands out of the shifted
  ones (every ``CONTRAST_STEP``-th shift, leaving out those within ``CONTRAST_NEAR`` px, which still see
  part of a fitting mask's contrast); it is measured only where the edge score is at most
  ``CONTRAST_BELOW``. It sees an object whose edge is weak but whose inside differs from its surround (camouflage,
  soft edges), which the edge signal calls chance; a mask that belongs to another image splits that
  image's tones no better than a shifted one does, so both signals stay near chance. DA609 adds the two
  (``edge_z + contrast``, each one draw from its reference for a mask of another picture).

``own_peak``: whether the own placement beats its neighbours within ``PEAK_REACH`` by either signal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")


from . import pixels
from .pixels import array_of
from .workpicture import FIT_SIDE as FIT_SIDE
from .workpicture import REDUCE_SIDE as REDUCE_SIDE
from .workpicture import _mask_to_fit as _mask_to_fit
from .workpicture import fit_picture as fit_picture
from .workpicture import fit_picture_pixels as fit_picture_pixels
from .workpicture import fit_size as fit_size
from .workpicture import reduced_to as reduced_to
from .workpicture import reduced_to_size as reduced_to_size

#: Largest shift tried, as a share of the image's width and height.
SHIFT_RANGE = 0.12
#: Shifts are tried every FIT_STEP pixels at FIT_SIDE.
FIT_STEP = 2
#: Mirror images are tried within this many pixels (at FIT_SIDE) of their own place.
FLIP_SLACK = 6
#: At most this many outline pixels (an even sample) are compared.
MAX_POINTS = 160
#: At most this many pixels of each band (inside, outside) are compared.
MAX_BAND_POINTS = 240
#: The contrast's reference placements: every CONTRAST_STEP-th shift of the grid in each direction.
CONTRAST_STEP = 2
#: The contrast is measured only where the edge score is at most this: above it the outline clearly
#: follows its image, and DA609 (which needs a weak edge score too) cannot fire.
CONTRAST_BELOW = 1.5
#: Placements within this many pixels (at FIT_SIDE, each direction) of the own one are not in the contrast's reference.
CONTRAST_NEAR = 4
#: Width (pixels at FIT_SIDE) of the bands inside and outside the outline the contrast compares.
BAND = 3
#: Side (pixels at FIT_SIDE) of the tiles the contrast is taken in.
TILE = 16
#: Fewest pixels of each band a tile needs to count.
MIN_TILE_POINTS = 3
#: Placements nearer than this (pixels at FIT_SIDE) to the mask's own count as "the same place".
NEAR = 2
#: The own placement is "on its peak" when it beats every other placement within this many pixels (at
#: FIT_SIDE, each direction) by the edges or, where measured, by the contrast. A mask drawn for its picture
#: is, by one or the other; one of another picture, whose outline crosses some edges by chance, rarely.
PEAK_REACH = 4
#: Fewest outline pixels (at FIT_SIDE) the agreement needs to mean anything.
MIN_OUTLINE = 40
#: Shortest side (pixels) an image needs for the agreement measure.
MIN_FIT_SIDE = 96


@dataclass(frozen=True, slots=True)
class MaskFit:
    """How well a mask's outline follows its image (see the module docstring)."""

    score: float  # edge: own placement / median placement
    best: float  # edge: best placement / median placement
    peak: float  # (best - median) / robust spread of the placements
    dx: float  # best placement's shift, share of the width (+: right)
    dy: float  # share of the height (+: down)
    flip: str  # "", "h" (left-right) or "v" (top-bottom)
    outline: int  # outline pixels compared
    #: Inside/outside contrast of the own placement, in robust deviations above the shifted ones; None when
    #: the bands are too small to compare.
    contrast: float | None = None
    #: edge: the own placement in robust deviations above the median placement (``score`` on the scale of
    #: the picture's own spread: a textured picture's ratio stays near 1 even for an outline that fits).
    edge_z: float = 0.0
    #: Whether the own placement fits better than every other within ``PEAK_REACH`` px, by the edges or, where
    #: the contrast is measured, by the contrast.
    own_peak: bool = True


def _outline(fg: np.ndarray) -> np.ndarray:
    """The foreground pixels with a background 4-neighbour (bool)."""
    edge = np.zeros_like(fg)
    edge[:-1, :] |= fg[:-1, :] != fg[1:, :]
    edge[1:, :] |= fg[1:, :] != fg[:-1, :]
    edge[:, :-1] |= fg[:, :-1] != fg[:, 1:]
    edge[:, 1:] |= fg[:, 1:] != fg[:, :-1]
    edge &= fg
    return edge


def _edges(g: np.ndarray, sy: int = 0, sx: int = 0) -> np.ndarray:
    """Gradient magnitude (|central difference x| + |y|), summed over a 3x3 box (int16; scale is irrelevant),
    padded with ``sy`` rows and ``sx`` columns of zeros on each side."""
    h, w = g.shape
    dy = g[2:, 1:-1] - g[:-2, 1:-1]
    dx = g[1:-1, 2:] - g[1:-1, :-2]
    np.abs(dy, out=dy)
    np.abs(dx, out=dx)
    mag = np.zeros((h, w), g.dtype)
    np.add(dy, dx, out=mag[1:-1, 1:-1])
    # A 3x3 box: an outline drawn a pixel off its edge (annotation tolerance) still counts.
    rows = mag[:-2] + mag[1:-1]
    rows += mag[2:]
    out = np.zeros((h + 2 * sy, w + 2 * sx), g.dtype)
    inner = out[sy + 1 : sy + h - 1, sx + 1 : sx + w - 1]
    np.add(rows[:, :-2], rows[:, 1:-1], out=inner)
    inner += rows[:, 2:]
    return out


def _even_flat(flat: np.ndarray, n: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``_even`` of the points with flat indices ``flat`` (row-major, ``w`` wide), as (rows, columns).

    Sampling the flat indices first and splitting only the sample is several times cheaper than ``np.nonzero``
    of a 2-D array (the same points, in the same order).
    """
    if len(flat) > n:
        # np.linspace(0, len(flat) - 1, n) written out (the same arithmetic: i * step, the last one exact),
        # without its dispatch, which costs more than the sample.
        at = np.arange(n, dtype=np.float64)
        at *= (len(flat) - 1) / (n - 1)
        at[-1] = len(flat) - 1
        flat = flat[at.astype(np.int64)]
    return np.divmod(flat, w)


def _even_points(values: np.ndarray, lo: int, span: int, n: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(how many, rows, columns): ``_even_flat`` of the pixels of ``values`` (uint8 or bool) whose value v has
    ``(v - lo) % 256 < span`` (bool: ``lo = span = 1`` picks the true ones). In C where ``_fastpixels`` is built."""
    w = values.shape[1]
    if pixels.even_points is not None:
        rows, cols = np.empty(n, np.int64), np.empty(n, np.int64)
        count = pixels.even_points(np.ascontiguousarray(values).view(np.uint8), w, lo, span, n, rows, cols)
        return count, rows[: min(count, n)], cols[: min(count, n)]
    flat = np.flatnonzero((values.view(np.uint8) - np.uint8(lo)) < span)
    rows, cols = _even_flat(flat, n, w)
    return len(flat), rows, cols


@dataclass(frozen=True)
class _Grid:
    """The placements tried for one picture size (cached: a dataset has few sizes).

    Placements are numbered row-major over (``dys``, ``dxs``): flat index ``iy * len(dxs) + ix``.
    """

    sx: int
    sy: int
    dys: np.ndarray  # vertical shifts tried (pixels at FIT_SIDE), ascending
    dxs: np.ndarray  # horizontal shifts tried
    yy: np.ndarray
    xx: np.ndarray
    near: np.ndarray  # flat: placements that count as the own one
    own: int  # flat index of the own placement (no shift)
    mirror_y: slice  # the rows and columns of the grid mirror images are tried at (a block round the own place)
    mirror_x: slice
    mirror_idx: np.ndarray  # their flat indices
    coarse_y: slice  # the contrast's reference: every CONTRAST_STEP-th shift through the own placement ...
    coarse_x: slice
    coarse_own: int  # ... (the own placement's index within that block, row-major)
    coarse_ref: np.ndarray  # ... less those within CONTRAST_NEAR of the own one (indices within the block)
    peak_near: np.ndarray  # flat indices of the other placements within PEAK_REACH of the own one
    coarse_peak_near: np.ndarray  # the same within the contrast's block


@lru_cache(maxsize=64)
def _grid(h: int, w: int) -> _Grid:
    sx, sy = max(NEAR + 1, int(w * SHIFT_RANGE)), max(NEAR + 1, int(h * SHIFT_RANGE))
    dxs = np.arange(-(sx // FIT_STEP), sx // FIT_STEP + 1) * FIT_STEP
    dys = np.arange(-(sy // FIT_STEP), sy // FIT_STEP + 1) * FIT_STEP
    yy, xx = np.meshgrid(dys, dxs, indexing="ij")
    oy, ox = int(np.flatnonzero(dys == 0)[0]), int(np.flatnonzero(dxs == 0)[0])
    # Mirror images are tried near their own place only: an export flips about the picture's centre.
    my, mx = np.flatnonzero(np.abs(dys) <= FLIP_SLACK), np.flatnonzero(np.abs(dxs) <= FLIP_SLACK)
    mirror_y, mirror_x = slice(int(my[0]), int(my[-1]) + 1), slice(int(mx[0]), int(mx[-1]) + 1)
    mirror = np.zeros(yy.shape, bool)
    mirror[mirror_y, mirror_x] = True
    # A coarser grid through the own placement: the contrast needs a reference level, not the best shift.
    coarse_y, coarse_x = slice(oy % CONTRAST_STEP, None, CONTRAST_STEP), slice(ox % CONTRAST_STEP, None, CONTRAST_STEP)
    cy, cx = yy[coarse_y, coarse_x], xx[coarse_y, coarse_x]
    # The reference leaves out placements within the bands' reach of the own one: for a mask that fits,
    # those still see part of the object's contrast, and would lift the reference towards the own value.
    ref = ((np.abs(cy) > CONTRAST_NEAR) | (np.abs(cx) > CONTRAST_NEAR)).ravel()
    coarse_own = int(np.flatnonzero((cy == 0).ravel() & (cx == 0).ravel())[0])
    near = ((np.abs(yy) <= NEAR) & (np.abs(xx) <= NEAR)).ravel()
    own = oy * len(dxs) + ox
    peak = ((np.abs(yy) <= PEAK_REACH) & (np.abs(xx) <= PEAK_REACH)).ravel()
    peak[own] = False
    coarse_peak = ((np.abs(cy) <= PEAK_REACH) & (np.abs(cx) <= PEAK_REACH)).ravel()
    coarse_peak[coarse_own] = False
    return _Grid(
        sx, sy, dys, dxs, yy, xx, near, own, mirror_y, mirror_x, np.flatnonzero(mirror),
        coarse_y, coarse_x, coarse_own, np.flatnonzero(ref), np.flatnonzero(peak), np.flatnonzero(coarse_peak),
    )


def _edge_padded(a: np.ndarray, sy: int, sx: int) -> np.ndarray:
    """``a`` padded by (sy, sx) on each side by repeating its border (``np.pad(mode="edge")``, written out)."""
    h, w = a.shape
    out = np.empty((h + 2 * sy, w + 2 * sx), a.dtype)
    out[sy : sy + h, sx : sx + w] = a
    out[:sy, sx : sx + w] = a[0]
    out[sy + h :, sx : sx + w] = a[-1]
    out[:, :sx] = out[:, sx : sx + 1]
    out[:, sx + w :] = out[:, sx + w - 1 : sx + w]
    return out


def _placed(
    pad: np.ndarray, rows: np.ndarray, cols: np.ndarray, dys: np.ndarray, dxs: np.ndarray, sy: int, sx: int
) -> np.ndarray:
    """``pad[rows + sy + dy, cols + sx + dx]`` for every point and every placement (dy, dx): (points, dys, dxs).

    ``dys`` and ``dxs`` are evenly spaced; ``pad`` is the picture padded by (sy, sx). One gather of a
    strided view (each point's block of placements is a window of ``pad``): no index array per placement.
    """
    ny, nx = len(dys), len(dxs)
    step_y = int(dys[1] - dys[0]) if ny > 1 else 1
    step_x = int(dxs[1] - dxs[0]) if nx > 1 else 1
    s0, s1 = pad.strides
    h, w = pad.shape
    windows = np.lib.stride_tricks.as_strided(
        pad, shape=(h - (ny - 1) * step_y, w - (nx - 1) * step_x, ny, nx),
        strides=(s0, s1, s0 * step_y, s1 * step_x), writeable=False,
    )
    return windows[rows + (sy + int(dys[0])), cols + (sx + int(dxs[0]))]


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D float array without its overhead (called on a few hundred values per pair)."""
    n = values.size
    lo, hi = (n - 1) // 2, n // 2
    part = np.partition(values, [lo, hi])
    return float((part[lo] + part[hi]) / 2)


def _tile_means(
    pad: np.ndarray, rows: np.ndarray, cols: np.ndarray, tid: np.ndarray, grid: _Grid
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tile ids, points per tile, mean grey per coarse placement x tile) of the points ``rows``/``cols`` in
    tiles ``tid``."""
    order = np.argsort(tid, kind="stable")
    tid = tid[order]
    starts = np.flatnonzero(np.concatenate(([True], tid[1:] != tid[:-1])))
    tiles, counts = tid[starts], np.diff(np.append(starts, tid.size))
    values = _placed(pad, rows[order], cols[order], grid.dys[grid.coarse_y], grid.dxs[grid.coarse_x], grid.sy, grid.sx)
    # float32 sums are exact here (integers far below 2^24), and cheaper than integer ones.
    sums = np.add.reduceat(values.reshape(tid.size, -1).astype(np.float32), starts, axis=0)
    return tiles, counts, sums.T.astype(np.float64) / counts.astype(np.float32)


def _common_tiles(
    g: np.ndarray, ri: np.ndarray, ci: np.ndarray, ro: np.ndarray, co: np.ndarray, grid: _Grid
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the tiles both bands reach (points ``ri``/``ci`` inside, ``ro``/``co`` outside), in ascending order:
    (mean grey of the inner band's points per coarse placement x tile, of the outer band's, the fewer of the two
    bands' points per tile as float32). In C where ``dis_audit._fastpixels`` is built (one call for some twenty
    array operations; the same sums, exact integers, over the same counts)."""
    h, w = g.shape
    ntx, nt = -(-w // TILE), -(-w // TILE) * -(-h // TILE)
    dys, dxs = grid.dys[grid.coarse_y], grid.dxs[grid.coarse_x]
    if pixels.tile_means is not None:
        ny, nx = len(dys), len(dxs)
        step_y, step_x = (int(dys[1] - dys[0]) if ny > 1 else 1), (int(dxs[1] - dxs[0]) if nx > 1 else 1)
        means_in, means_out, weight = np.empty(ny * nx * nt), np.empty(ny * nx * nt), np.empty(nt, np.float32)
        n = pixels.tile_means(np.ascontiguousarray(g), w, ri, ci, ro, co, TILE, int(dys[0]), ny, step_y, int(dxs[0]),
                              nx, step_x, means_in, means_out, weight)
        return means_in[: ny * nx * n].reshape(ny * nx, n), means_out[: ny * nx * n].reshape(ny * nx, n), weight[:n]
    # Both bands in one gather: the outer band's tiles are numbered after the inner band's.
    rows, cols = np.concatenate((ri, ro)), np.concatenate((ci, co))
    tid = (rows // TILE) * ntx + cols // TILE
    tid[len(ri) :] += nt
    tiles, counts, means = _tile_means(_edge_padded(g, grid.sy, grid.sx), rows, cols, tid, grid)
    split = int(np.searchsorted(tiles, nt))
    _, a, b = np.intersect1d(tiles[:split], tiles[split:] - nt, assume_unique=True, return_indices=True)
    return means[:, a], means[:, split:][:, b], np.minimum(counts[:split][a], counts[split:][b]).astype(np.float32)


def _near(a: np.ndarray) -> np.ndarray:
    """Pixels with a ``True`` of ``a`` within ``BAND`` (a (2 BAND + 1)^2 box, cut at the picture's border): a
    separable dilation, each direction by windows 2, 4, then 2 BAND + 1 wide (six ``|`` in all)."""
    h, w = a.shape
    k = 2 * BAND + 1
    p = np.zeros((h + k - 1, w + k - 1), bool)
    p[BAND : BAND + h, BAND : BAND + w] = a
    widths = (1, 2, k - 4)  # windows of 2, 4 and k pixels: whole for 5 <= k <= 8 (BAND 2 or 3)
    for step in widths:
        p = p[:, :-step] | p[:, step:]
    for step in widths:
        p = p[:-step] | p[step:]
    return p


def _bands(fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inner, outer): foreground pixels with background within ``BAND``, and background ones with foreground. In C
    where ``dis_audit._fastpixels`` is built (one call for the dozen array operations of ``_near``)."""
    if pixels.band_masks is not None:
        h, w = fg.shape
        inner, outer = np.empty((h, w), bool), np.empty((h, w), bool)
        pixels.band_masks(np.ascontiguousarray(fg), w, BAND, inner, outer)
        return inner, outer
    return fg & _near(~fg), ~fg & _near(fg)


def _contrast(g: np.ndarray, fg: np.ndarray, grid: _Grid) -> tuple[float, bool] | None:
    """The contrast signal (module docstring): robust deviations of the own placement above the shifts, and
    whether the own placement beats the other coarse placements within ``PEAK_REACH``."""
    inner, outer = _bands(fg)
    _, ri, ci = _even_points(inner, 1, 1, MAX_BAND_POINTS)
    _, ro, co = _even_points(outer, 1, 1, MAX_BAND_POINTS)
    if len(ri) < MIN_OUTLINE or len(ro) < MIN_OUTLINE:
        return None
    mean_in, mean_out, weight = _common_tiles(g, ri, ci, ro, co, grid)
    keep = weight >= MIN_TILE_POINTS
    if np.count_nonzero(keep) < 2:
        return None
    mean_in, mean_out, weight = mean_in[:, keep], mean_out[:, keep], weight[keep]
    stat = np.abs(mean_in - mean_out) @ (weight / weight.sum())
    own = float(stat[grid.coarse_own])
    on_peak = bool(own > stat[grid.coarse_peak_near].max()) if grid.coarse_peak_near.size else True
    # The reference: the coarse placements away from the own one, and the own one (as before: its median).
    stat = np.concatenate((stat[grid.coarse_own : grid.coarse_own + 1], stat[grid.coarse_ref]))
    median = _median(stat)
    spread = max(_median(np.abs(stat - median)) * 1.4826, 1e-3)
    return (own - median) / spread, on_peak


def _placement_sums(pic: np.ndarray, grid: _Grid) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """``sums(rows, cols, dys, dxs)``: the edge map of ``pic`` summed over the points (rows, cols) at every placement
    (dy, dx) of the evenly spaced ``dys`` x ``dxs`` (row-major, float64). Edges outside the picture count 0, so
    the part of an outline pushed off the picture counts as edgeless and such a placement never wins. In C where
    ``dis_audit._fastpixels`` is built; the numpy definition otherwise (the same sums: integers)."""
    h, w = pic.shape
    if pixels.edge_map is not None and pixels.placement_sums is not None:
        edges = np.empty((h, w), np.int16)
        pixels.edge_map(np.ascontiguousarray(pic), w, edges)
        placement_sums = pixels.placement_sums

        def fast(r: np.ndarray, c: np.ndarray, dys: np.ndarray, dxs: np.ndarray) -> np.ndarray:
            out = np.empty(len(dys) * len(dxs))
            step_y = int(dys[1] - dys[0]) if len(dys) > 1 else 1
            step_x = int(dxs[1] - dxs[0]) if len(dxs) > 1 else 1
            placement_sums(edges, w, r, c, int(dys[0]), len(dys), step_y, int(dxs[0]), len(dxs), step_x, out)
            return out

        return fast
    pad = _edges(pic.astype(np.int16), grid.sy, grid.sx)

    def sums(r: np.ndarray, c: np.ndarray, dys: np.ndarray, dxs: np.ndarray) -> np.ndarray:
        # Sums, not means: every placement has the same number of points, and only ratios are kept.
        # int32 holds them: at most MAX_POINTS x 9 x 510.
        placed = _placed(pad, r, c, dys, dxs, grid.sy, grid.sx)
        return placed.reshape(len(r), -1).sum(axis=0, dtype=np.int32).astype(np.float64)

    return sums


def mask_fit(
    grey: PILImage.Image, mask: PILImage.Image, reduced: PILImage.Image | None = None, mask_pixels: np.ndarray | None = None,
    reduced_pixels: np.ndarray | None = None,
) -> MaskFit | None:
    """The agreement of ``mask`` (L) with the image ``grey`` (same size); None when it cannot be judged.

    ``grey`` is the grey picture, or the RGB one (converted after the reduction, as the scan does);
    ``reduced``: ``fit_picture(grey)`` when the caller has it already; ``mask_pixels``: ``array_of(mask)``;
    ``reduced_pixels``: ``array_of(reduced)`` (``workpicture.fit_picture_pixels`` gives both).
    """
    if grey.size != mask.size or min(grey.size) < MIN_FIT_SIDE:
        return None
    # The mask takes the picture's path: the same two steps land it on the same grid.
    small = _mask_to_fit(mask, mask_pixels)
    if small.shape != (mask.height, mask.width):
        # After a box reduction the outline is where the mask is neither all in nor all out (17..238):
        # one comparison on uint8, where values under 17 wrap round to 239 and above.
        count, rows, cols = _even_points(small, 17, 222, MAX_POINTS)
    else:
        count, rows, cols = _even_points(_outline(small >= 128), 1, 1, MAX_POINTS)
    if count < MIN_OUTLINE:
        return None
    if reduced_pixels is not None:
        pic = reduced_pixels
    else:
        pic = array_of(reduced if reduced is not None else fit_picture(grey))
    h, w = pic.shape
    grid = _grid(h, w)
    sums = _placement_sums(pic, grid)
    shifted = sums(rows, cols, grid.dys, grid.dxs)  # every shift, in the grid's flat order
    own = float(shifted[grid.own])
    median = _median(shifted)  # the chance level: the outline moved about, not mirrored
    if median <= 1e-6:
        return None
    spread = max(_median(np.abs(shifted - median)) * 1.4826, 1e-3 * median)
    # The best placement away from the mask's own (nearby shifts are the same fit, blurred); the first
    # best in the order shifts, left-right mirror, top-bottom mirror.
    near_y, near_x = grid.dys[grid.mirror_y], grid.dxs[grid.mirror_x]
    best_val, best = -1.0, ("", 0)
    for flip, v, where in (
        ("", np.where(grid.near, -1.0, shifted), None),
        ("h", sums(rows, w - 1 - cols, near_y, near_x), grid.mirror_idx),
        ("v", sums(h - 1 - rows, cols, near_y, near_x), grid.mirror_idx),
    ):
        j = int(np.argmax(v))
        if v[j] > best_val:
            best_val, best = float(v[j]), (flip, j if where is None else int(where[j]))
    flip, k = best
    on_peak = bool(own > shifted[grid.peak_near].max()) if grid.peak_near.size else True
    contrast = _contrast(pic, small >= 128, grid) if own / median <= CONTRAST_BELOW else None
    return MaskFit(
        score=own / median, best=best_val / median, peak=(best_val - median) / spread,
        dx=int(grid.xx.flat[k]) / w, dy=int(grid.yy.flat[k]) / h, flip=flip, outline=len(rows),
        contrast=None if contrast is None else contrast[0], edge_z=(own - median) / spread,
        own_peak=on_peak or (contrast is not None and contrast[1]),
    )
