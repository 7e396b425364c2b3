"""DA604 at a picture's own resolution: a blur of a few pixels of a large picture, which the 1024 px picture of the
blur measure no longer shows (``ImageQuality.sharpness_native``, threshold ``blur_native``)."""

from __future__ import annotations

import dataclasses

import numpy as np
from deep_trees import quality_defects
from PIL import Image

from dis_audit.maskfit import MaskFit
from dis_audit.quality import ImageQuality, QualityThresholds, image_quality
from dis_audit.rules.quality import judged_fit, quality_findings

SIZE = (2100, 1400)  # reduced by 3 to the blur measure's picture


def _native(style: str, blur: float | None, seed: int = 5) -> ImageQuality:
    image, _ = quality_defects.scene(style, seed, SIZE)
    if blur is not None:
        image = np.clip(quality_defects._gauss(image.astype(np.float32), blur), 0, 255).astype(np.uint8)
    return image_quality(Image.fromarray(image))


def test_a_blur_of_two_pixels_of_a_large_picture_shows_at_its_own_resolution():
    t = QualityThresholds()
    blurred = _native("photo", 2.2)
    assert blurred.sharpness_native is not None and blurred.sharpness_native < t.blur_native
    assert any(rule.code == "DA604" for rule, _ in quality_findings(blurred, t))
    for style in ("photo", "thin", "soft", "white"):  # sharp pictures, thin wires and soft edges are not blurry
        clean = _native(style, None)
        assert clean.sharpness_native is not None and clean.sharpness_native > t.blur_native, style
        assert not any(rule.code == "DA604" for rule, _ in quality_findings(clean, t)), style


def test_small_pictures_have_no_native_measure():
    image, _ = quality_defects.scene("photo", 5, (1024, 700))
    assert image_quality(Image.fromarray(image)).sharpness_native is None


def _quality(sharpness: float | None, native: float | None) -> ImageQuality:
    return ImageQuality(3000, 2000, 20.0, 230.0, 200.0, sharpness, 40.0, native)


def test_the_native_finding_names_both_measures_and_can_be_turned_off():
    t = QualityThresholds()
    found = [msg for rule, msg in quality_findings(_quality(1.1, 0.3), t) if rule.code == "DA604"]
    assert found and "own resolution" in found[0] and "0.30" in found[0] and "1.10 at 1024 px" in found[0]
    assert not quality_findings(_quality(1.1, 0.3), QualityThresholds(blur_native=0))
    assert not quality_findings(_quality(1.1, None), t)
    # No edge at all at full resolution, in a picture with contrast: blurry; in a near-flat one: not this rule's.
    assert [rule.code for rule, _ in quality_findings(_quality(1.1, 0.0), t)] == ["DA604"]
    assert not quality_findings(dataclasses.replace(_quality(1.1, 0.0), spread=30.0), t)
    # Blurry at 1024 px already: one finding, the reduced picture's.
    found = [msg for rule, msg in quality_findings(_quality(0.5, 0.3), t) if rule.code == "DA604"]
    assert len(found) == 1 and "own resolution" not in found[0]


def test_a_blur_seen_only_at_full_resolution_leaves_the_mask_agreement_judged():
    fit = MaskFit(score=2.0, best=2.0, peak=1.0, dx=0.0, dy=0.0, flip="", outline=160)
    t = QualityThresholds()
    assert judged_fit(_quality(1.1, 0.3), fit, t) is fit
    assert judged_fit(dataclasses.replace(_quality(1.1, 0.3), sharpness=0.5), fit, t) is None
