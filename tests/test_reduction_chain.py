"""The DA6xx measures' cheaper paths give the same answers: one reduction chain, top-k by counting."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dis_audit.maskfit import FIT_SIDE, REDUCE_SIDE, fit_picture, fit_size, mask_fit, reduced_to
from dis_audit.sharpness import _kth_largest


def _scene(width: int, height: int, shift: tuple[int, int] = (0, 0)) -> tuple[Image.Image, Image.Image]:
    """A textured picture with a brighter ellipse, and the ellipse's mask moved by ``shift`` (x, y) pixels."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((xx - width * 0.5) / (width * 0.25)) ** 2 + ((yy - height * 0.5) / (height * 0.3)) ** 2 <= 1
    grey = np.where(inside, 170, 70) + rng.normal(0, 12, (height, width))
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).convert("RGB")
    mask = np.roll(inside, shift[::-1], axis=(0, 1)).astype(np.uint8) * 255
    return image, Image.fromarray(mask)


@pytest.mark.parametrize("size", [(700, 500), (1500, 1000), (3000, 2000), (4100, 900)])
def test_the_chain_reads_a_large_picture_once_and_gives_the_same_fit_picture(size):
    image, mask = _scene(*size)
    first = reduced_to(image, REDUCE_SIDE)
    assert max(first.size) <= REDUCE_SIDE
    direct = fit_picture(image)
    assert np.array_equal(np.asarray(fit_picture(first)), np.asarray(direct))
    # The mask, taken down the same two steps, lands on the same grid as the picture.
    assert fit_picture(mask).size == direct.size == fit_size(first.size)
    # A fixed working size: the long side is FIT_SIDE exactly, whatever integer factors the sizes allow.
    assert max(direct.size) == FIT_SIDE
    assert min(direct.size) == round(FIT_SIDE * min(size) / max(size))


@pytest.mark.parametrize("size", [(768, 576), (1024, 768), (2048, 1536), (3000, 2250), (4000, 3000)])
def test_every_size_of_one_shape_gets_the_same_working_picture(size):
    # The measure's tiles, bands and shifts are pixels of this picture: the same picture size makes them
    # the same share of the scene at every source size (an integer factor alone gave 166 to 192 px).
    assert fit_size(reduced_to(Image.new("L", size), REDUCE_SIDE).size) == (192, 144)
    assert fit_size((150, 100)) == (150, 100)  # a picture under FIT_SIDE is not enlarged


def test_a_shifted_mask_is_found_through_the_chain():
    image, mask = _scene(3000, 2000, shift=(150, 0))  # 5 % of the width, to the right
    fit = mask_fit(image, mask, fit_picture(reduced_to(image, REDUCE_SIDE)))
    assert fit is not None and fit.flip == ""
    assert fit.dx == pytest.approx(-0.05, abs=0.015) and abs(fit.dy) <= 0.015  # the mask belongs 5 % further left
    assert fit.best / fit.score >= 1.25
    own = mask_fit(image, _scene(3000, 2000)[1])
    assert own is not None and own.score > 2 and own.best < own.score


@pytest.mark.parametrize("values", [
    np.zeros(5000, np.int16),  # a flat picture's derivatives: every value equal
    np.r_[np.zeros(9000, np.int16), np.full(40, 300, np.int16), np.arange(60, dtype=np.int16)],
    np.random.default_rng(1).integers(0, 511, 20000).astype(np.int16),
])
def test_top_k_by_counting_matches_a_partition(values):
    halves = [values[: values.size // 3], values[values.size // 3 :]]
    for k in (1, 2, 20, values.size // 2, values.size):
        assert _kth_largest(halves, k) == float(np.partition(values, values.size - k)[values.size - k])



@pytest.mark.parametrize("size", [(768, 576), (2048, 1536), (3000, 2000), (1100, 97)])
def test_the_mask_in_one_pass_lands_where_the_picture_does(size):
    from dis_audit.maskfit import _mask_to_fit

    _, mask = _scene(*size)
    two_steps = np.asarray(fit_picture(reduced_to(mask, REDUCE_SIDE)), dtype=np.int16)
    one_pass = _mask_to_fit(mask).astype(np.int16)
    assert one_pass.shape == two_steps.shape
    # Box of a box is a box: equal but for rounding, and the ragged last row or column.
    assert np.mean(np.abs(one_pass - two_steps) > 1) < 0.02


@pytest.mark.parametrize(("kind", "style", "seed"), [
    ("clean", "photo", 3), ("clean", "soft", 5), ("clean", "camo", 11), ("swapped", "photo", 24),
])
def test_one_scene_scores_alike_at_every_size(kind, style, seed):
    """The same scene at 384 px and enlarged to 1536 and 3000 px: one set of thresholds must hold for all."""
    from deep_trees import quality_defects

    image, mask = quality_defects.scene(style, seed, (384, 288))
    if kind == "swapped":
        mask = quality_defects.scene(style, seed + 1000, (384, 288))[1]
    im, m = Image.fromarray(image), Image.fromarray(mask)
    base = mask_fit(im, m)
    assert base is not None
    for size in ((1536, 1152), (3000, 2250)):
        fit = mask_fit(im.resize(size, Image.Resampling.BICUBIC), m.resize(size, Image.Resampling.NEAREST))
        assert fit is not None
        # Within 5 %: an integer factor alone (170 px at 2048, 166 px at 3000) moved these by up to 7 %.
        assert fit.score == pytest.approx(base.score, rel=0.05), (size, fit, base)
        assert (fit.contrast is None) == (base.contrast is None)
        if fit.contrast is not None and base.contrast is not None:
            assert abs(fit.contrast - base.contrast) <= 0.3, (size, fit, base)
