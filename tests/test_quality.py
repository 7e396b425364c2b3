"""DA6xx: image-quality measures, mask–image agreement, thresholds, and near-flat pictures out of duplicate matching."""

from __future__ import annotations

import numpy as np
import pytest
from deep_trees import quality_defects
from PIL import Image

from dis_audit import scan
from dis_audit.deep import hamming, phash_image
from dis_audit.fingerprint import ScanFingerprint, scan_fingerprint
from dis_audit.manifest import ScanOptions, with_findings
from dis_audit.quality import QualityThresholds, grey_of, image_quality, mask_fit
from dis_audit.scan import ScanError

SIZE = (384, 288)
STEM = "1#Accessories#1#Bag#{}_o"


def _pair(kind: str, style: str = "photo", seed: int = 3):
    image, mask = quality_defects.scene(style, seed, SIZE)
    if kind != "clean":
        other = quality_defects.scene(style, seed + 1000, SIZE)[1] if kind == "swapped" else None
        image, mask = quality_defects.plant(kind, image, mask, seed, other)
    return image, mask


def _measure(image: np.ndarray):
    im = Image.fromarray(image)
    return image_quality(im, grey_of(im))


@pytest.mark.parametrize("style", quality_defects.STYLES)
def test_clean_scenes_of_every_style_pass_every_check(tmp_path, style):
    for k in range(3):
        quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(f"{style}{k}"), *_pair("clean", style, 40 + k))
    result = scan(tmp_path, deep=True, workers=1)
    assert [f for f in result.findings if f.code.startswith("DA6")] == []
    scores = result.table.column("mask_edge_score").to_pylist()
    assert all(s is not None and s > 1.0 for s in scores), scores


def test_thin_structures_are_sharp_and_blur_is_not():
    thin = _measure(_pair("clean", "thin")[0])
    blurred = _measure(_pair("blurry", "thin")[0])
    assert thin.sharpness is not None and thin.sharpness > QualityThresholds().blur_sharpness
    assert blurred.sharpness is None or blurred.sharpness < QualityThresholds().blur_sharpness


def test_white_background_is_not_overexposed_and_black_background_not_dark():
    image, mask = _pair("clean", "white")
    q = _measure(image)
    assert q.low < QualityThresholds().overexposed_low
    # The same object on black: bright object, dark rest.
    dark_bg = np.where(mask[..., None] > 0, 200, 5).astype(np.uint8).repeat(3, axis=2)
    assert _measure(dark_bg).high > QualityThresholds().dark_high


def test_shift_and_flip_are_found_where_they_are():
    image, mask = _pair("clean")
    shifted = np.zeros_like(mask)
    shifted[:, 30:] = mask[:, :-30]  # 30 px right: 7.8 % of the width
    fit = mask_fit(Image.fromarray(image).convert("L"), Image.fromarray(shifted))
    assert fit is not None and fit.flip == "" and fit.dx < -0.04 and fit.best > 1.25 * fit.score
    flipped = mask[:, ::-1].copy()
    fit = mask_fit(Image.fromarray(image).convert("L"), Image.fromarray(flipped))
    assert fit is not None and fit.flip == "h" and fit.best > 1.25 * fit.score
    own = mask_fit(Image.fromarray(image).convert("L"), Image.fromarray(mask))
    assert own is not None and own.score > own.best


def test_misregistration_finding_names_the_mask_and_the_best_placement(tmp_path):
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("flipped", seed=5))
    (finding,) = [f for f in scan(tmp_path, deep=True, workers=1).findings if f.code == "DA608"]
    assert finding.path == f"DIS-TR/gt/{STEM.format(1)}.png" and "mirrored" in finding.message
    assert finding.related == (f"DIS-TR/im/{STEM.format(1)}.jpg",)


def test_agreement_is_not_judged_on_pictures_too_small_or_too_flat(tmp_path):
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("flat", seed=6))
    result = scan(tmp_path, deep=True, workers=1)
    codes = {f.code for f in result.findings}
    assert "DA603" in codes and not codes & {"DA608", "DA609"}
    small = Image.new("L", (64, 48))
    assert mask_fit(small, small) is None


def test_thresholds_are_configurable_and_recorded(tmp_path):
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("clean", seed=8))
    assert not any(f.code == "DA607" for f in scan(tmp_path, deep=True, workers=1).findings)
    result = scan(tmp_path, deep=True, workers=1, quality_thresholds="tiny_side=500")
    assert [f.code for f in result.findings if f.code.startswith("DA6")] == ["DA607"]
    assert result.options.quality_thresholds == {"tiny_side": 500.0}
    again = ScanOptions.from_dict(result.options.to_dict())
    assert again.quality_thresholds == {"tiny_side": 500.0}
    parsed = ScanFingerprint.parse(result.options.fingerprint)
    assert parsed is not None and parsed.thresholds == (("tiny_side", 500.0),)
    # Defaults leave the fingerprint as it was, so existing manifests are still reused.
    plain = scan_fingerprint(tool_version="x", vocabulary=[], select=[], ignore=[], difficulty={}, deep=True)
    assert plain == scan_fingerprint(tool_version="x", vocabulary=[], select=[], ignore=[], difficulty={}, deep=True,
                                     thresholds=QualityThresholds().changed())
    assert "quality_thresholds" not in ScanOptions().to_dict()


@pytest.mark.parametrize("bad", ["nope=1", "dark_high", "dark_high=dim", "dark_high=-1", "dark_high=nan"])
def test_bad_thresholds_stop_the_scan_with_a_message(tmp_path, bad):
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("clean", seed=9))
    with pytest.raises(ScanError, match="quality threshold"):
        scan(tmp_path, deep=True, workers=1, quality_thresholds=bad)


def test_near_flat_pictures_get_no_hash_and_no_leakage(tmp_path):
    """Two different near-flat pictures hash alike; they must not make a duplicate group (or a DA503)."""
    for dataset, tone in (("DIS-TR", 100), ("DIS-TE1", 180)):
        # A blank frame with a faint vertical shading (2 grey levels), at two different greys.
        flat = np.clip(tone + np.linspace(0, 2, 288)[:, None, None] + np.zeros((288, 384, 3)), 0, 255).astype(np.uint8)
        mask = np.zeros((288, 384), np.uint8)
        mask[100:200, 100:250] = 255
        quality_defects.write_pair(tmp_path, dataset, STEM.format(dataset), flat, mask)
    # Without the guard their hashes are near (7 bits of 64 apart): what made the false DA503 error.
    pictures = sorted(tmp_path.glob("*/im/*.jpg"))
    assert hamming(phash_image(Image.open(pictures[0])), phash_image(Image.open(pictures[1]))) <= 12
    result = scan(tmp_path, deep=True, workers=1, near_dup_distance=12)
    codes = {f.code for f in result.findings}
    assert "DA503" not in codes and "DA502" not in codes and "DA603" in codes
    assert result.table.column("phash").to_pylist() == [None, None]
    assert result.table.column("dup_group").to_pylist() == [None, None]


def test_an_exact_copy_of_a_flat_picture_is_still_leakage(tmp_path):
    flat = np.full((288, 384, 3), 90, np.uint8)
    mask = np.zeros((288, 384), np.uint8)
    mask[100:200, 100:250] = 255
    image, _ = quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), flat, mask)
    copy, _ = quality_defects.write_pair(tmp_path, "DIS-TE1", STEM.format(2), flat, mask)
    copy.write_bytes(image.read_bytes())
    assert "DA503" in {f.code for f in scan(tmp_path, deep=True, workers=1).findings}


def test_report_shows_quality_findings_and_the_mask_at_its_best_fit(tmp_path):
    from dis_audit.report.html import build_html
    from dis_audit.report.thumbs import ThumbJob, make_thumb

    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("flipped", seed=5))
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(2), *_pair("dark", seed=6))
    result = scan(tmp_path, deep=True, workers=1)
    page, _ = build_html(with_findings(result.table, [f.to_dict() for f in result.findings]), root=tmp_path)
    assert "DA608" in page and "DA601" in page and "third panel: the mask mirrored" in page
    image, mask = (str(tmp_path / "DIS-TR" / d / f"{STEM.format(1)}.{e}") for d, e in (("im", "jpg"), ("gt", "png")))
    two, three = make_thumb(ThumbJob(image, mask)), make_thumb(ThumbJob(image, mask, best_fit=True))
    assert three.height == two.height and three.width > 1.4 * two.width


def test_cli_passes_thresholds_and_refuses_bad_ones(tmp_path):
    from typer.testing import CliRunner

    from dis_audit.cli import app

    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("clean", seed=8))
    runner = CliRunner()
    bad = runner.invoke(app, ["scan", str(tmp_path), "--deep", "--no-manifest", "--quality-threshold", "bogus=1"])
    assert bad.exit_code == 2 and "unknown quality threshold 'bogus'" in bad.output
    good = runner.invoke(app, ["scan", str(tmp_path), "--deep", "--json", "--no-manifest", "--workers", "1",
                               "--quality-threshold", "tiny_side=500", "--quality-threshold", "aspect_ratio=1.2"])
    assert good.exit_code == 0, good.output
    assert '"DA607"' in good.output and '"DA605"' in good.output


def test_swapped_mask_is_a_mismatch_and_camouflage_is_not():
    """DA609's second signal: a swapped mask splits the picture's tones no better than a shifted one."""
    thresholds = QualityThresholds()
    image, swapped = _pair("swapped", "photo", seed=24)
    fit = mask_fit(Image.fromarray(image).convert("L"), Image.fromarray(swapped))
    assert fit is not None and fit.contrast is not None
    assert fit.score <= thresholds.swap_score and fit.contrast <= thresholds.swap_contrast
    assert fit.edge_z + fit.contrast <= thresholds.swap_evidence
    image, own = _pair("clean", "camo", seed=11)
    fit = mask_fit(Image.fromarray(image).convert("L"), Image.fromarray(own))
    assert fit is not None
    # A camouflaged object: its edge is weak, but its outline still stands out of the picture's own spread of
    # edges, and its inside differs from its surround all along the outline.
    assert fit.contrast is None or fit.edge_z + fit.contrast > thresholds.swap_evidence


def test_swapped_pair_is_reported_as_mismatch(tmp_path):
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format(1), *_pair("swapped", "photo", seed=24))
    (finding,) = [f for f in scan(tmp_path, deep=True, workers=1).findings if f.code.startswith("DA6")]
    assert finding.code == "DA609" and finding.path == f"DIS-TR/gt/{STEM.format(1)}.png"
    assert "contrast" in finding.message


def test_swap_score_above_the_contrast_range_is_refused():
    assert QualityThresholds.parse("swap_score=1.5").swap_score == 1.5
    with pytest.raises(ValueError, match="swap_score"):
        QualityThresholds.parse("swap_score=1.6")
    assert QualityThresholds.items_of(["dark_high=60,swap_contrast=2"]) == {"dark_high": 60.0, "swap_contrast": 2.0}


def test_thresholds_come_from_the_configuration_file_and_the_flag_wins(tmp_path):
    from typer.testing import CliRunner

    from dis_audit.cli import app
    from dis_audit.manifest import read_manifest_meta

    root = tmp_path / "data"
    quality_defects.write_pair(root, "DIS-TR", STEM.format(1), *_pair("clean", seed=8))
    (tmp_path / "dis-audit.toml").write_text("[quality-thresholds]\ntiny_side = 500\naspect_ratio = 1.2\n")
    runner = CliRunner()
    res = runner.invoke(app, ["scan", str(root), "--deep", "--json", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert '"DA607"' in res.output and '"DA605"' in res.output
    meta = read_manifest_meta(root / "manifest.parquet")
    assert meta.options.quality_thresholds == {"tiny_side": 500.0, "aspect_ratio": 1.2}
    # A name on the command line wins over the same name in the file; the file's other names stay.
    res = runner.invoke(app, ["scan", str(root), "--deep", "--json", "--workers", "1", "--no-manifest",
                              "--quality-threshold", "tiny_side=100"])
    assert res.exit_code == 0, res.output
    assert '"DA607"' not in res.output and '"DA605"' in res.output
    shown = runner.invoke(app, ["scan", str(root), "--show-config", "--quality-threshold", "tiny_side=100"])
    assert "quality-thresholds = { tiny_side = 100.0, aspect_ratio = 1.2 }  # file + command line" in shown.output
    # A name the file gets wrong stops the scan with a message naming the file.
    (tmp_path / "dis-audit.toml").write_text("[quality-thresholds]\ndark_hihg = 60\n")
    res = runner.invoke(app, ["scan", str(root), "--deep", "--no-manifest"])
    assert res.exit_code == 2 and "unknown quality threshold 'dark_hihg'" in res.output
    assert "dis-audit.toml" in res.output
    (tmp_path / "dis-audit.toml").write_text('[quality-thresholds]\ndark_high = "dim"\n')
    res = runner.invoke(app, ["scan", str(root), "--deep", "--no-manifest"])
    assert res.exit_code == 2 and "quality-thresholds.dark_high must be a number" in res.output


def test_mismatch_needs_both_signals_together_weak_or_a_very_weak_edge_without_contrast():
    from dis_audit.quality import MaskFit
    from dis_audit.rules.quality import fit_findings

    t = QualityThresholds()

    def codes(score: float, contrast: float | None, edge_z: float = 0.0) -> list[str]:
        fit = MaskFit(score=score, best=score, peak=0.0, dx=0.0, dy=0.0, flip="", outline=100, contrast=contrast,
                      edge_z=edge_z)
        return [rule.code for rule, _ in fit_findings(fit, t)]

    assert codes(1.2, 0.5, 0.5) == ["DA609"]
    assert codes(1.2, 1.4, 0.5) == ["DA609"]  # a swapped mask that happens to split some tones
    # Camouflage: the edge ratio is weak, but in the picture's own spread of edges the outline stands out.
    assert codes(1.2, 1.9, 3.0) == []
    assert codes(1.2, 3.2, -1.0) == []  # the contrast alone is above swap_contrast
    assert codes(1.6, 0.5, 0.5) == []  # the edge agreement is above swap_score
    # A thin mask (no contrast): the edges alone, at half the evidence, or the ratio at a stricter threshold.
    assert codes(1.0, None, 2.0) == ["DA609"]
    assert codes(1.2, None, 0.8) == ["DA609"]
    assert codes(1.2, None, 1.7) == []  # a clean wire at 2048 px: weak, but above half the evidence


def test_no_edge_score_is_recorded_where_the_agreement_is_not_judged(tmp_path):
    """A dark picture's edges say nothing: neither a DA608/DA609 finding nor a ``mask_edge_score``."""
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format("dark"), *_pair("dark", seed=5))
    quality_defects.write_pair(tmp_path, "DIS-TR", STEM.format("clean"), *_pair("clean", seed=5))
    result = scan(tmp_path, deep=True, workers=1)
    scores = dict(zip(result.table.column("image_path").to_pylist(), result.table.column("mask_edge_score").to_pylist()))
    assert scores[f"DIS-TR/im/{STEM.format('dark')}.jpg"] is None
    assert scores[f"DIS-TR/im/{STEM.format('clean')}.jpg"] > 1.0
    # With the dark threshold lowered below the picture's level, the same picture is judged again.
    relaxed = scan(tmp_path, deep=True, workers=1, quality_thresholds={"dark_high": 1})
    assert None not in relaxed.table.column("mask_edge_score").to_pylist()
