"""The optional C kernels (``dis_audit._fastpixels``) give exactly the numpy definitions' values.

Every kernel is compared with the numpy (or Pillow) code it replaces, on random and generated pictures; and the
deep decode's measures (``image_quality``, ``mask_fit``, ``mask_stats``) are compared whole, with the kernels and
with them switched off. Skipped where the extension is not built, unless DIS_AUDIT_REQUIRE_FASTPROBE is set
(CI sets it: ``pip install -e .`` builds both extensions).
"""

from __future__ import annotations

import numpy as np
import pytest
from c_extensions import optional_extension
from deep_trees import quality_defects
from PIL import Image

from dis_audit import deep, maskfit, pixels, quality, sharpness, workpicture

_fastpixels, pytestmark = optional_extension("_fastpixels")

RNG = np.random.default_rng(20261202)
KERNELS = (
    "line_stats", "edge_map", "placement_sums", "mask_counts", "gather", "kth_largest_u8", "even_points", "box_reduce",
    "box_reduce_rgb", "band_masks", "tile_means",
)


@pytest.fixture
def numpy_only(monkeypatch):
    """Switch every C kernel off: the numpy definitions run."""

    def off():
        for name in KERNELS:
            monkeypatch.setattr(pixels, name, None)

    return off


def _lines(kind: str, n: int, w: int) -> np.ndarray:
    if kind == "noise":
        a = RNG.integers(0, 256, (n, w))
    elif kind == "spikes":
        a = (RNG.random((n, w)) > 0.97) * int(RNG.integers(0, 256))
    elif kind == "flat":
        a = np.repeat(RNG.integers(0, 256, (n, 1)), w, axis=1)
    else:
        a = np.repeat(RNG.integers(0, 256, (n, 1)), w, axis=1) * (np.arange(w) >= int(RNG.integers(0, w)))
    return a.astype(np.uint8)


@pytest.mark.parametrize("kind", ["noise", "spikes", "flat", "steps"])
def test_line_stats_equal_the_numpy_blur_measure(kind, numpy_only):
    cases = []
    for _ in range(60):
        rows = _lines(kind, int(RNG.integers(1, 8)), int(RNG.integers(3, 300)))
        cols = _lines(kind, int(RNG.integers(1, 8)), int(RNG.integers(3, 300)))
        cases.append((rows, cols, sharpness.line_measures(rows, cols)))
    numpy_only()
    for rows, cols, (sharp, hist) in cases:
        want_sharp, want_hist = sharpness.line_measures(rows, cols)
        assert sharp == want_sharp
        assert np.array_equal(hist, want_hist)


def test_nearest_is_pillows_nearest_neighbour_rule():
    for n in [*range(1, 300), 1023, 1024, 1500, 2048, 3000, 6000]:
        for m in {max(1, -(-n // 16)), max(1, n // 8), 96, 7, n, max(1, n - 1)}:
            if m > n:
                continue
            im = Image.fromarray(np.tile(np.arange(n, dtype=np.int32), (2, 1)), "I")
            along_x = np.asarray(im.resize((m, 2), Image.Resampling.NEAREST))[0]
            along_y = np.asarray(im.transpose(Image.Transpose.TRANSPOSE).resize((2, m), Image.Resampling.NEAREST))[:, 0]
            assert np.array_equal(pixels.nearest(n, m), along_x)
            assert np.array_equal(pixels.nearest(n, m), along_y)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_lines_and_colour_read_from_pillows_memory_equal_pillows_resize(mode):
    for w, h in ((768, 576), (1024, 683), (37, 5), (3, 3), (500, 1024), (97, 211)):
        im = Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)
        rows, cols = sharpness.line_arrays(im)
        want_rows, want_cols = sharpness.sharp_lines(im)
        assert np.array_equal(rows, np.asarray(want_rows)) and np.array_equal(cols, np.asarray(want_cols))
        assert np.array_equal(pixels.array_of(im), np.asarray(im))
    rgb = Image.fromarray(RNG.integers(0, 256, (300, 500, 3), dtype=np.uint8))
    data, channels = pixels.raw_of(rgb)
    ys, xs = pixels.nearest(300, 60), pixels.nearest(500, 100)
    spread = np.empty((60, 100), np.uint8)
    pixels.gather(data, 500, channels, ys, xs, 1, 0, spread)
    small = np.asarray(rgb.resize((100, 60), Image.Resampling.NEAREST)).astype(np.int16)
    assert np.array_equal(spread, small.max(axis=2) - small.min(axis=2))


def test_edge_map_and_placement_sums_equal_the_padded_gather():
    for h, w in ((144, 192), (97, 130), (192, 100), (12, 9)):
        pic = RNG.integers(0, 256, (h, w), dtype=np.uint8)
        grid = maskfit._grid(h, w)
        pad = maskfit._edges(pic.astype(np.int16), grid.sy, grid.sx)
        edges = np.empty((h, w), np.int16)
        pixels.edge_map(pic, w, edges)
        assert np.array_equal(edges, pad[grid.sy : grid.sy + h, grid.sx : grid.sx + w])
        rows, cols = RNG.integers(0, h, 160), RNG.integers(0, w, 160)  # points near every border too
        for dys, dxs in ((grid.dys, grid.dxs), (grid.dys[grid.mirror_y], grid.dxs[grid.mirror_x])):
            want = maskfit._placed(pad, rows, cols, dys, dxs, grid.sy, grid.sx).reshape(160, -1).sum(axis=0)
            got = maskfit._placement_sums(pic, grid)(rows, cols, dys, dxs)
            assert np.array_equal(got, want.astype(np.float64))


def test_placement_sums_of_many_points_equal_the_padded_gather():
    # Over 65535 points the kernel sums in 64 bits, under in 32 (maskfit compares at most 160): both give the sums.
    h, w = 144, 192
    y, x = np.mgrid[0:h, 0:w]
    pic = ((((y // 2) + (x // 2)) % 2) * 255).astype(np.uint8)  # 2 px squares: the largest edges everywhere
    grid = maskfit._grid(h, w)
    pad = maskfit._edges(pic.astype(np.int16), grid.sy, grid.sx)
    rows, cols = RNG.integers(0, h, 70000), RNG.integers(0, w, 70000)
    dys, dxs = grid.dys[grid.mirror_y], grid.dxs[grid.mirror_x]
    want = maskfit._placed(pad, rows, cols, dys, dxs, grid.sy, grid.sx).reshape(len(rows), -1).sum(axis=0, dtype=np.int64)
    assert want.max() > 2**27
    assert np.array_equal(maskfit._placement_sums(pic, grid)(rows, cols, dys, dxs), want.astype(np.float64))


def test_mask_counts_and_samples_equal_numpy():
    for t in range(300):
        h, w = int(RNG.integers(1, 70)), int(RNG.integers(1, 90))
        a = (RNG.integers(0, 256, (h, w)) if t % 3 == 0 else (RNG.random((h, w)) < RNG.random()) * 255).astype(np.uint8)
        if t % 3 == 2:  # an anti-aliased edge
            a[:, w // 2] = RNG.integers(0, 256)
        fg = a >= 128
        edges = int(np.count_nonzero(fg[:, 1:] != fg[:, :-1])) + int(np.count_nonzero(fg[1:, :] != fg[:-1, :]))
        want = (np.count_nonzero(a == 0), np.count_nonzero(a == 255), np.count_nonzero(fg), int(a.max()), edges)
        assert pixels.mask_counts(a, w) == want
        for lo, span, n in ((17, 222, 160), (1, 1, 3), (128, 128, 2)):
            flat = np.flatnonzero((a - np.uint8(lo)) < span)
            count, rows, cols = maskfit._even_points(a, lo, span, n)
            want_rows, want_cols = maskfit._even_flat(flat, n, w)
            assert count == len(flat) and np.array_equal(rows, want_rows) and np.array_equal(cols, want_cols)
        values = RNG.integers(0, 256, int(RNG.integers(1, 5000))).astype(np.uint8)
        k = int(RNG.integers(1, values.size + 1))
        assert pixels.kth_largest_u8(values, k) == sharpness._kth_largest([values], k)


def test_box_reduce_equals_pillows_reduce():
    for t in range(300):
        factor = int(RNG.integers(1, 17))
        h, w = int(RNG.integers(1, 130)), int(RNG.integers(1, 130))
        a = RNG.integers(0, 256, (h, w)) if t % 2 else (RNG.random((h, w)) < 0.4) * 255
        im = Image.fromarray(a.astype(np.uint8))
        want = np.asarray(im.reduce(factor)) if factor > 1 else np.asarray(im)
        assert np.array_equal(pixels.reduce_l(im, factor), want), (h, w, factor)


def _rgb(h: int, w: int, t: int) -> Image.Image:
    """A random RGB picture: noise (channels apart), a two-level one (the largest box sums), or a flat one."""
    if t % 3 == 0:
        a = RNG.integers(0, 256, (h, w, 3))
    elif t % 3 == 1:
        a = (RNG.random((h, w, 3)) < 0.5) * 255
    else:
        a = np.broadcast_to(RNG.integers(0, 256, 3), (h, w, 3))
    return Image.fromarray(a.astype(np.uint8))


def test_box_reduce_rgb_equals_pillows_reduce_and_grey_conversion():
    # Every factor; sides from 1 px, not divisible by the factor (a ragged last column and row), and exact.
    for t in range(400):
        factor = int(RNG.integers(1, 17))
        h, w = (int(RNG.integers(1, 130)), int(RNG.integers(1, 130))) if t % 4 else (factor * 7, factor * 5)
        im = _rgb(h, w, t)
        got, got_grey = pixels.reduce_rgb(im, factor), pixels.reduce_rgb(im, factor, grey=True)
        if factor == 1 or w < factor or h < factor:  # nothing for the kernel: the caller takes Pillow's path
            assert got is None and got_grey is None
            continue
        assert np.array_equal(got, np.asarray(im.reduce(factor))), (h, w, factor)
        assert np.array_equal(got_grey, np.asarray(im.reduce(factor).convert("L"))), (h, w, factor)
    for mode in ("L", "RGBA", "P", "I"):  # the kernel takes RGB only
        assert pixels.reduce_rgb(_rgb(40, 40, 0).convert(mode), 4) is None


def test_the_fit_picture_from_the_c_reduction_equals_pillows_chain():
    # The chain of workpicture without the C reduction: Pillow's reduce (and resize), then its grey conversion.
    for w, h in ((768, 576), (767, 575), (771, 577), (1024, 683), (2048, 1536), (600, 451), (389, 97), (193, 1),
                 (1, 300), (190, 150)):
        for t in range(3):
            im = _rgb(h, w, t)
            first = maskfit.reduced_to(im, maskfit.REDUCE_SIDE)
            want = np.asarray(workpicture._to_fit(first).convert("L"))
            want_lines = sharpness.sampled_lines(first, sharpness.SHARP_STRIDE)
            for source in (im, first):
                small, small_pixels, lines = maskfit.fit_picture_pixels(source, sharpness.SHARP_STRIDE)
                assert small.mode == "L" and np.array_equal(np.asarray(small), want), (w, h, t)
                assert np.array_equal(small_pixels, want) and np.array_equal(np.asarray(maskfit.fit_picture(source)), want)
                if lines is not None:  # read in the reduction's pass: the blur measure's lines of the first picture
                    assert want_lines is not None and all(map(np.array_equal, lines, want_lines)), (w, h, t)
                else:  # no C reduction (an integer factor of 1): the measure reads them itself
                    assert workpicture._steps(first.size)[0] == 1 or min(first.size) < 3
            grey = im.convert("L")  # an L picture takes Pillow's path: the same function of its pixels
            assert maskfit.fit_picture_pixels(grey, sharpness.SHARP_STRIDE)[2] is None
            assert np.array_equal(maskfit.fit_picture_pixels(grey)[1], np.asarray(workpicture._to_fit(
                maskfit.reduced_to(grey, maskfit.REDUCE_SIDE))))


@pytest.mark.parametrize("kernel", [True, False])
def test_band_masks_equal_the_box_definition(kernel, numpy_only):
    if not kernel:
        numpy_only()
    for t in range(60):
        h, w = ((1, 1), (1, 9), (9, 1), (2, 2), (7, 7))[t] if t < 5 else (int(RNG.integers(1, 60)), int(RNG.integers(1, 60)))
        fg = RNG.random((h, w)) < (0.5 if t % 2 else RNG.random())
        inner, outer = maskfit._bands(fg)
        assert inner.dtype == bool and outer.dtype == bool
        want_in, want_out = np.zeros((h, w), bool), np.zeros((h, w), bool)
        b = maskfit.BAND
        for y in range(h):
            for x in range(w):
                box = fg[max(0, y - b) : y + b + 1, max(0, x - b) : x + b + 1]
                want_in[y, x] = fg[y, x] and not box.all()
                want_out[y, x] = not fg[y, x] and box.any()
        assert np.array_equal(inner, want_in) and np.array_equal(outer, want_out), (h, w)


def test_tile_means_equal_the_numpy_tiles(numpy_only):
    cases = []
    for t in range(40):
        h, w = ((144, 192), (97, 130), (192, 100), (40, 41))[t % 4]
        g = RNG.integers(0, 256, (h, w), dtype=np.uint8)
        grid = maskfit._grid(h, w)
        n_in, n_out = int(RNG.integers(1, 240)), int(RNG.integers(1, 240))
        # points anywhere, the borders too (placements off the picture read its nearest border pixel)
        points = [np.sort(RNG.integers(0, side, n)) if k % 2 == 0 else RNG.integers(0, side, n)
                  for k, (side, n) in enumerate(((h, n_in), (w, n_in), (h, n_out), (w, n_out)))]
        if t % 5 == 0:  # the two bands in tiles of their own: no tile in common
            points[2], points[3] = np.minimum(points[2], 15), np.minimum(points[3], 15)
            points[0], points[1] = np.maximum(points[0], 16), np.maximum(points[1], 16)
        cases.append((g, *points, grid))
    fast = [maskfit._common_tiles(*case) for case in cases]
    numpy_only()
    for case, got in zip(cases, fast):
        want = maskfit._common_tiles(*case)
        assert got[2].dtype == want[2].dtype == np.float32
        assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(got, want))


def test_the_reduction_kernels_refuse_bad_arguments():
    table = pixels._reduce_table(4, "RGB")
    with pytest.raises(ValueError):
        pixels.box_reduce_rgb(np.zeros(4 * 8 * 8, np.uint8), 8, 4, table, 1, np.empty((2, 3), np.uint8))  # out's size
    with pytest.raises(ValueError):
        pixels.box_reduce_rgb(np.zeros(4 * 8 * 8, np.uint8), 8, 4, table[:-1], 1, np.empty((2, 2), np.uint8))
    with pytest.raises(ValueError):
        pixels.box_reduce_rgb(np.zeros(4 * 8 * 8, np.uint8), 8, 17, table, 1, np.empty((0, 0), np.uint8))
    rows, cols = np.empty((2, 8), np.uint8), np.empty((2, 8), np.uint8)
    for ys, xs in ((np.array([5, 1]), np.array([0, 7])), (np.array([1, 8]), np.array([0, 7])), (np.array([1, 5]), np.array([0, 8]))):
        with pytest.raises(ValueError):  # rows not ascending, a row or a column outside the picture
            pixels.box_reduce_rgb(np.zeros(4 * 8 * 8, np.uint8), 8, 4, table, 1, np.empty((2, 2), np.uint8), ys, xs, rows, cols)
    with pytest.raises(ValueError):
        pixels.band_masks(np.zeros((4, 4), bool), 4, 3, np.empty((4, 3), bool), np.empty((4, 4), bool))


def _measures(image: np.ndarray, mask: np.ndarray):
    """What ``deep.decode_pair`` computes of a pair, taken as it takes them (the fit picture and its pixels from one
    reduction, the hash from the fit picture)."""
    im, m = Image.fromarray(image), Image.fromarray(mask)
    grey = im if im.mode == "RGB" else quality.grey_of(im)
    blur = maskfit.reduced_to(grey, sharpness.SHARP_SIDE)
    reduced, reduced_pixels, lines = maskfit.fit_picture_pixels(blur, sharpness.SHARP_STRIDE)
    return (
        np.asarray(reduced).tobytes(), reduced_pixels.tobytes(), deep.phash_image(reduced),
        quality.image_quality(im, None if grey is im else grey, blur, lines),
        quality.image_quality(im, None if grey is im else grey, blur),
        maskfit.mask_fit(grey, m, reduced, pixels.array_of(m), reduced_pixels),
        maskfit.mask_fit(grey, m),
        deep.mask_stats(pixels.array_of(m)),
    )


def test_the_measures_of_generated_pairs_are_the_same_with_and_without_the_kernels(numpy_only):
    pairs = []
    for k, style in enumerate(quality_defects.STYLES * 2):
        size = (384, 288) if k < len(quality_defects.STYLES) else (1300, 700)
        image, mask = quality_defects.scene(style, 500 + k, size)
        pairs.append((image, mask))
        pairs.append((np.asarray(Image.fromarray(image).convert("L")), mask))
        pairs.append(quality_defects.plant("swapped", image, mask, 900 + k, quality_defects.scene(style, 77 + k, size)[1]))
    for k, size in enumerate(((771, 577), (600, 451), (389, 97))):  # sides not divisible by the reduction factor
        image, mask = quality_defects.scene(quality_defects.STYLES[k], 700 + k, size)
        pairs.append((image, mask))
    fast = [_measures(*pair) for pair in pairs]
    numpy_only()
    assert fast == [_measures(*pair) for pair in pairs]
