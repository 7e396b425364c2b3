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

from dis_audit import deep, maskfit, pixels, quality, sharpness

_fastpixels, pytestmark = optional_extension("_fastpixels")

RNG = np.random.default_rng(20261202)
KERNELS = (
    "line_stats", "edge_map", "placement_sums", "mask_counts", "gather", "kth_largest_u8", "even_points", "box_reduce",
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


def _measures(image: np.ndarray, mask: np.ndarray):
    im, m = Image.fromarray(image), Image.fromarray(mask)
    grey = im if im.mode == "RGB" else quality.grey_of(im)
    blur = maskfit.reduced_to(grey, sharpness.SHARP_SIDE)
    reduced = maskfit.fit_picture(blur)
    return (
        quality.image_quality(im, None if grey is im else grey, blur),
        maskfit.mask_fit(grey, m, reduced),
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
    fast = [_measures(*pair) for pair in pairs]
    numpy_only()
    assert fast == [_measures(*pair) for pair in pairs]
