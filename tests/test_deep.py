"""scan --deep: full decode, mask quality, EXIF, conversions, bombs, duplicates and leakage on a planted tree."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from deep_trees import build_planted, deep_defects
from PIL import Image

import dis_audit
from dis_audit import deep as deep_mod
from dis_audit.deep import hamming, mask_stats, phash_image
from dis_audit.rules.images import loader_conversion
from dis_audit.scan import scan

TR, VD, TE = "DIS-TR", "DIS-VD", "DIS-TE1"


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    return build_planted(tmp_path_factory.mktemp("deep") / "dis-mini")


@pytest.fixture(scope="module")
def deep_result(planted: Path):
    return scan(planted, deep=True, workers=1)


def _by_code(result) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in result.findings:
        out.setdefault(f.code, []).append(f)
    return out


PLANTED = [
    ("DA305", f"{TR}/im/5#Electrical#30#CeilingLamp#90000011_aa00000011_o.png", "40000x40000"),
    ("DA309", f"{TR}/im/9#Insect#54#Mosquito#90000009_aa00000009_o.jpg", "trains on it"),
    ("DA307", f"{TR}/im/6#Electronics#33#Camcorder#90000012_aa00000012_o.jpg", "orientation 6"),
    ("DA304", f"{TR}/im/8#Furniture#47#Stool#90000013_aa00000013_o.jpg", "CMYK"),
    ("DA304", f"{TR}/im/8#Furniture#48#Table#90000014_aa00000014_o.png", "RGB;16"),
    ("DA308", f"{TR}/gt/9#Insect#55#Spider#90000010_aa00000010_o.png", "no IEND chunk"),
    ("DA407", f"{TR}/gt/10#Kitchenware#58#Cup#90000015_aa00000015_o.png", "all pixels are 0"),
    ("DA407", f"{TR}/gt/10#Kitchenware#59#Teapot#90000016_aa00000016_o.png", "0/1 label mask"),
    ("DA408", f"{TR}/gt/10#Kitchenware#60#Spoon#90000017_aa00000017_o.png", "every mask pixel"),
    ("DA409", f"{TR}/gt/1#Accessories#2#Helmet#90000018_aa00000018_o.png", "soft"),
    ("DA410", f"{TR}/gt/1#Accessories#4#Watch#90000019_aa00000019_o.png", "neither 0 nor 255"),
    ("DA411", f"{TR}/gt/16#Tool#90#Ladder#91000009_bb00000009_o.png", "Ladder"),
    ("DA501", f"{TR}/im/14#Plant#79#Bonsai#90000001_aa00000001_o.jpg", "byte-identical"),
    ("DA501", f"{TR}/im/14#Plant#79#Bonsai#90000002_aa00000002_o.jpg", "byte-identical"),
    ("DA502", f"{TR}/im/4#Architecture#17#ObservationTower#90000003_aa00000003_o.jpg", "near-identical"),
    ("DA502", f"{TR}/im/4#Architecture#17#ObservationTower#90000004_aa00000004_o.jpg", "near-identical"),
    ("DA503", f"{TE}/im/3#Aquatic#9#Octopus#90000005_aa00000005_o.jpg", "training dataset DIS-TR"),
    ("DA503", f"{TR}/im/3#Aquatic#9#Octopus#90000006_aa00000006_o.jpg", "evaluation dataset DIS-TE1"),
    ("DA504", f"{VD}/im/7#Entertainment#41#Swing#90000007_aa00000007_o.jpg", "DIS-TE1, DIS-VD"),
    ("DA504", f"{TE}/im/7#Entertainment#41#Swing#90000008_aa00000008_o.jpg", "DIS-TE1, DIS-VD"),
]


@pytest.mark.parametrize(("code", "path", "words"), PLANTED, ids=[f"{c}-{p.rsplit('#', 2)[-2]}" for c, p, _ in PLANTED])
def test_each_planted_defect_is_found(deep_result, code, path, words):
    hits = [f for f in deep_result.findings if f.code == code and f.path == path]
    assert hits, f"{code} not reported for {path}; got {[(f.code, f.path) for f in deep_result.findings if f.path == path]}"
    assert words in hits[0].message


def test_deep_rules_fire_only_where_planted(deep_result):
    planted = {(c, p) for c, p, _ in PLANTED}
    deep_codes = {c for c, _, _ in PLANTED} - {"DA304"}
    extra = [(f.code, f.path) for f in deep_result.findings if f.code in deep_codes and (f.code, f.path) not in planted]
    assert extra == []


def test_duplicate_groups_hold_exactly_the_planted_copies(deep_result):
    df = deep_result.rows
    grouped = df[df["dup_group"].notna()]
    groups = {frozenset(g["image_path"]) for _, g in grouped.groupby("dup_group")}
    expected = {
        frozenset(p for c, p, _ in PLANTED if c == code and marker in p)
        for code, marker in [("DA501", "Bonsai"), ("DA502", "ObservationTower"), ("DA503", "Octopus"), ("DA504", "Swing")]
    }
    assert groups == expected  # and so no distinct image is grouped
    leak = grouped[grouped["image_path"].str.contains("Octopus")]
    assert set(leak["issues"].iloc[0]) >= {"DA503"}
    related = next(f.related for f in deep_result.findings if f.code == "DA503" and f.path.startswith(TE))
    assert related == (f"{TR}/im/3#Aquatic#9#Octopus#90000006_aa00000006_o.jpg",)


def test_deep_columns_filled(deep_result):
    df = deep_result.rows
    ok = df[df["image_path"].str.contains("Ladder#91000001")].iloc[0]
    assert len(ok["sha1"]) == 40 and ok["mask_kind"] == "binary" and 0.05 < ok["fg_ratio"] < 0.2
    assert df["phash"].notna().sum() >= len(df) - 4  # all but the unreadable, truncated, bomb files
    kinds = deep_result.summary["deep"]["mask_kinds"]
    assert kinds["empty"] == 2 and kinds["full"] == 1 and kinds["grey"] == 1 and kinds["soft"] == 1
    assert deep_result.summary["deep"]["fg_ratio_by_class"]["Ladder"]["n"] >= 6


def test_header_scan_leaves_deep_columns_null(planted):
    result = scan(planted, workers=1)
    df = result.rows
    assert df["sha1"].isna().all() and df["mask_kind"].isna().all() and df["dup_group"].isna().all()
    assert not any(f.code in ("DA305", "DA306", "DA307", "DA501", "DA503") for f in result.findings)


def test_phash_is_stable_under_reencode_and_resize_and_separates_photos():
    photos = [Image.fromarray(deep_defects.photo_array(160, 120, seed)) for seed in range(24)]
    hashes = [phash_image(p) for p in photos]
    for photo, h in zip(photos[:6], hashes):
        buf = io.BytesIO()
        photo.resize((120, 90), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=50)
        assert hamming(h, phash_image(Image.open(buf))) <= 6
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > 6


@pytest.mark.parametrize(
    ("array", "kind"),
    [
        (np.zeros((40, 40), np.uint8), "empty"),
        (np.full((40, 40), 255, np.uint8), "full"),
        (np.pad(np.full((20, 20), 255, np.uint8), 10), "binary"),
        (np.pad(np.pad(np.full((18, 18), 255, np.uint8), 1, constant_values=128), 10), "antialiased"),
        (np.pad(np.pad(np.full((10, 10), 255, np.uint8), 5, constant_values=128), 10), "soft"),
        (np.tile(np.arange(256, dtype=np.uint8), (10, 1)), "grey"),
        (np.pad(np.ones((20, 20), np.uint8), 10), "empty"),  # 0/1 label mask
    ],
    ids=["empty", "full", "binary", "antialiased", "soft", "grey", "zero-one"],
)
def test_mask_kind_thresholds(array, kind):
    ratio, got, _ = mask_stats(array)
    assert got == kind
    assert 0.0 <= ratio <= 1.0


def test_loader_conversions_are_named():
    assert "alpha" in loader_conversion("RGBA")
    assert "palette" in loader_conversion("P")
    assert "colour profile" in loader_conversion("CMYK")
    assert "16" in loader_conversion("I;16") and "16" in loader_conversion("RGB;16")


def test_bomb_is_refused_without_decoding(tmp_path, monkeypatch):
    root = tmp_path / "bomb"
    deep_defects.pair(root, "DIS-TR", "5#Electrical#30#CeilingLamp#1_o", 1)
    bomb = root / "DIS-TR" / "im" / "5#Electrical#30#CeilingLamp#2_o.png"
    bomb.write_bytes(deep_defects.bomb_png(60000, 60000))
    deep_defects.save(root / "DIS-TR" / "gt" / "5#Electrical#30#CeilingLamp#2_o.png", np.zeros((8, 8), np.uint8))
    opened: list[tuple[int, int]] = []
    real_open = Image.open

    def spy(fp, *args, **kwargs):
        im = real_open(fp, *args, **kwargs)
        opened.append(im.size)
        return im

    monkeypatch.setattr(Image, "open", spy)
    result = scan(root, deep=True, workers=1, max_pixels=10_000_000)
    refused = [f for f in result.findings if f.code == "DA305"]
    assert [f.path for f in refused] == ["DIS-TR/im/5#Electrical#30#CeilingLamp#2_o.png"]
    assert (60000, 60000) not in opened and opened  # the normal files were decoded, the bomb never opened
    assert Image.MAX_IMAGE_PIXELS == deep_mod.default_max_pixels()  # Pillow's limit restored


def test_exif_rotation_on_both_is_fine(tmp_path):
    root = tmp_path / "exif"
    image, mask = deep_defects.pair(root, "DIS-TR", "6#Electronics#33#Camcorder#1_o", 3)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(image).save(image, "JPEG", exif=exif)
    Image.open(mask).save(mask, "PNG", exif=exif)
    result = scan(root, deep=True, workers=1)
    assert not [f for f in result.findings if f.code == "DA307"]


def test_eval_datasets_option_decides_leakage(tmp_path):
    root = tmp_path / "roles"
    image, mask = deep_defects.pair(root, "easy", "9#Insect#52#Butterfly#1_o", 11)
    for name in ("hard",):
        (root / name / "im").mkdir(parents=True)
        (root / name / "gt").mkdir(parents=True)
        (root / name / "im" / "9#Insect#52#Butterfly#2_o.jpg").write_bytes(image.read_bytes())
        (root / name / "gt" / "9#Insect#52#Butterfly#2_o.png").write_bytes(mask.read_bytes())
    # The 64x48 pictures are tiny (DA607), which is beside the point here.
    by_name = scan(root, deep=True, workers=1, ignore="DA607")
    assert {f.code for f in by_name.findings} == {"DA501"}  # roles unknown: a plain duplicate
    chosen = scan(root, deep=True, workers=1, eval_datasets="hard", ignore="DA607")
    assert {f.code for f in chosen.findings} == {"DA503"}


def test_worker_pool_gives_the_same_manifest(planted, deep_result):
    pooled = scan(planted, deep=True, workers=2)
    assert pooled.table.equals(deep_result.table)
    assert [f.to_dict() for f in pooled.findings] == [f.to_dict() for f in deep_result.findings]


def test_incremental_deep_scan_reuses_unchanged_rows(planted, tmp_path, monkeypatch):
    manifest = tmp_path / "m.parquet"
    first = scan(planted, deep=True, workers=1)
    first.write_manifest(manifest)
    decoded: list[str] = []
    real = deep_mod.decode_pair

    def counting(root, image_path, *args, **kwargs):
        decoded.append(image_path)
        return real(root, image_path, *args, **kwargs)

    monkeypatch.setattr(deep_mod, "decode_pair", counting)
    second = scan(planted, deep=True, workers=1, incremental=manifest)
    dirty = sum(1 for issues in first.rows["issues"] if set(issues) - {"DA409", "DA411", "DA501", "DA502", "DA503", "DA504"})
    assert second.summary["reused_rows"] == len(first.rows) - dirty
    assert len(decoded) == dirty
    assert second.table.equals(first.table)
    assert sorted(f.to_dict().items() for f in second.findings) == sorted(f.to_dict().items() for f in first.findings)


def test_cli_deep_json(planted, tmp_path):
    from typer.testing import CliRunner

    from dis_audit.cli import app

    out = CliRunner().invoke(app, ["scan", str(planted), "--deep", "--json", "--workers", "1",
                                   "--manifest", str(tmp_path / "m.parquet")])
    assert out.exit_code == 1, out.output
    data = json.loads(out.stdout)
    assert data["summary"]["by_rule"]["DA503"] == 2
    df, _ = dis_audit.read_manifest(tmp_path / "m.parquet")
    assert str(df["phash"].dtype) == "UInt64"  # exact 64-bit hashes in pandas, not floats


@pytest.mark.parametrize("args", [["--max-pixels", "0"], ["--near-dup-distance", "40"], ["--shard", "3/3"], ["--shard", "x"]])
def test_cli_bad_deep_options_exit_2_without_traceback(planted, args):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "dis_audit", "scan", str(planted), "--deep", "--no-manifest", *args],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
