"""The DA6xx measures' vectorised internals equal their plain definitions, and the own placement's peak test."""

from __future__ import annotations

import numpy as np
import pytest
from deep_trees import quality_defects
from PIL import Image

from dis_audit.maskfit import BAND, PEAK_REACH, MaskFit, _bands, _grid, _placed, mask_fit
from dis_audit.quality import QualityThresholds
from dis_audit.rules.quality import fit_findings
from dis_audit.sharpness import _sharpness

RNG = np.random.default_rng(20261202)


def test_placements_gathered_from_a_strided_view_equal_one_index_per_placement():
    for h, w in ((144, 192), (97, 130), (192, 100)):
        grid = _grid(h, w)
        pad = RNG.integers(0, 4000, (h + 2 * grid.sy, w + 2 * grid.sx)).astype(np.int16)
        rows, cols = RNG.integers(0, h, 160), RNG.integers(0, w, 160)
        got = _placed(pad, rows, cols, grid.dys, grid.dxs, grid.sy, grid.sx)
        width = w + 2 * grid.sx
        offsets = (grid.yy * width + grid.xx).ravel()
        base = (rows + grid.sy) * width + (cols + grid.sx)
        want = pad.ravel()[base[:, None] + offsets[None, :]]
        assert np.array_equal(got.reshape(len(rows), -1), want)


def test_bands_by_dilation_equal_the_box_counts():
    for shape in ((144, 192), (30, 41)):
        fg = RNG.random(shape) > 0.6
        inner, outer = _bands(fg)
        h, w = shape
        want_in, want_out = np.zeros(shape, bool), np.zeros(shape, bool)
        for y in range(h):
            for x in range(w):
                box = fg[max(0, y - BAND) : y + BAND + 1, max(0, x - BAND) : x + BAND + 1]
                want_in[y, x] = fg[y, x] and not box.all()
                want_out[y, x] = not fg[y, x] and box.any()
        assert np.array_equal(inner, want_in) and np.array_equal(outer, want_out)


def _sharpness_per_line(rows: np.ndarray, cols: np.ndarray) -> float | None:
    """The blur measure's definition, one line at a time: |next - previous| and |next + previous - 2 c|."""
    firsts, seconds = [], []
    for lines in (rows, cols):
        for line in lines.astype(np.int64):
            firsts += list(np.abs(line[2:] - line[:-2]))
            seconds += list(np.abs(line[2:] + line[:-2] - 2 * line[1:-1]))
    k = max(1, int(len(firsts) * 0.001))
    top_first = sorted(firsts)[-k]
    if top_first / 2 < 4.0:
        return None
    return sorted(seconds)[-k] / (top_first / 2)


@pytest.mark.parametrize("kind", ["noise", "spikes", "flat", "steps"])
def test_sharpness_of_all_lines_end_to_end_equals_the_per_line_definition(kind):
    for _ in range(40):
        shapes = [(int(RNG.integers(1, 6)), int(RNG.integers(3, 50))) for _ in range(2)]
        lines = []
        for n, w in shapes:
            if kind == "noise":
                a = RNG.integers(0, 256, (n, w))
            elif kind == "spikes":
                a = (RNG.random((n, w)) > 0.95) * int(RNG.integers(0, 256))
            elif kind == "flat":
                a = np.repeat(RNG.integers(0, 256, (n, 1)), w, axis=1)
            else:  # each line one level, so the only steps are where lines meet end to end
                a = np.repeat(RNG.integers(0, 256, (n, 1)), w, axis=1) * (np.arange(w) >= w // 2)
            lines.append(a.astype(np.uint8))
        assert _sharpness(*lines) == _sharpness_per_line(*lines)


def _fit(image: np.ndarray, mask: np.ndarray) -> MaskFit:
    fit = mask_fit(Image.fromarray(image).convert("L"), Image.fromarray(mask))
    assert fit is not None
    return fit


@pytest.mark.parametrize("style", ["photo", "soft", "camo", "white"])
def test_a_fitting_mask_is_on_its_peak_and_a_slightly_shifted_one_is_not(style):
    image, mask = quality_defects.scene(style, 31, (384, 288))
    assert _fit(image, mask).own_peak
    # 8 px at 384 is 4 px of the 192 px working picture: a placement within reach fits better by both signals.
    moved = np.roll(mask, (0, 2 * PEAK_REACH), axis=(0, 1))
    assert not _fit(image, moved).own_peak


def test_off_peak_widens_the_mismatch_evidence_but_only_off_the_peak():
    t = QualityThresholds(swap_off_peak=3.5)

    def codes(contrast: float | None, edge_z: float, own_peak: bool, score: float = 1.2) -> list[str]:
        fit = MaskFit(score=score, best=score, peak=0.0, dx=0.0, dy=0.0, flip="", outline=100, contrast=contrast,
                      edge_z=edge_z, own_peak=own_peak)
        return [rule.code for rule, _ in fit_findings(fit, t)]

    # A swapped mask whose outline crosses some of the picture's edges: 3.0 together, above swap_evidence.
    assert codes(1.1, 1.9, own_peak=False) == ["DA609"]
    assert codes(1.1, 1.9, own_peak=True) == []  # a weak camouflaged object on its peak: silent
    assert codes(2.0, 1.6, own_peak=False) == []  # above swap_off_peak (3.5)
    assert codes(1.1, 1.9, own_peak=False, score=1.6) == []  # the edge agreement is above swap_score
    # Without the contrast (wires) the peak alone says too little: a clean wire's edge peak is often a pixel off.
    assert codes(None, 1.7, own_peak=False) == []
    # On by default (3.5); 0 turns it off, leaving only swap_evidence.
    assert QualityThresholds().swap_off_peak == 3.5
    t = QualityThresholds()
    assert codes(1.1, 1.9, own_peak=False) == ["DA609"]
    t = QualityThresholds(swap_off_peak=0)
    assert codes(1.1, 1.9, own_peak=False) == []


def test_a_swapped_mask_that_crosses_some_edges_is_reported_off_its_peak(tmp_path):
    """A mask of another scene whose outline happens to cross this picture's edges and tones: above
    swap_evidence (2.1) together, which alone is silent, but off its peak by both signals (swap_off_peak)."""
    from dis_audit import scan

    image, _ = quality_defects.scene("photo", 10, (384, 288))
    other = quality_defects.scene("photo", 1010, (384, 288))[1]
    fit = _fit(image, other)
    assert fit.contrast is not None and fit.edge_z + fit.contrast > QualityThresholds().swap_evidence
    assert not fit.own_peak
    quality_defects.write_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#swap_o", image, other)
    off = scan(tmp_path, deep=True, workers=1, quality_thresholds={"swap_off_peak": 0})
    assert not [f for f in off.findings if f.code.startswith("DA6")]
    (finding,) = [f for f in scan(tmp_path, deep=True, workers=1).findings if f.code.startswith("DA6")]
    assert finding.code == "DA609" and "a slight shift fits better" in finding.message
