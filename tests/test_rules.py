"""Each rule fires on the defect it describes, and not on a clean sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from dis_audit import scan
from dis_audit.findings import rules_markdown
from dis_audit.rules import ALL_RULES
from dis_audit.synth import image_array, make_pair, write_image

GOOD = "1#Accessories#1#Bag#26345192014_f722d1ef0b_o"


def codes(root: Path, **kwargs) -> dict[str, list[str]]:
    result = scan(root, workers=1, **kwargs)
    out: dict[str, list[str]] = {}
    for f in result.findings:
        out.setdefault(f.code, []).append(f.path)
    return out


def test_clean_tree_has_no_findings(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    make_pair(tmp_path, "DIS-TR", "2#Aircraft#5#Airplane#1_a_o", image_ext=".png")
    result = scan(tmp_path, workers=1)
    assert result.findings == []
    assert result.table.column("class_id").to_pylist() == [6, 0]


@pytest.mark.parametrize(
    "stem, code",
    [("IMG_0001", "DA101"), ("1#Accessories#1#Bag", "DA102"), ("1#Reptile#1#Snake#1_o", "DA103"),
     ("1#Accessories#1#Bag#a#b", "DA104"), ("x#Accessories#y#Bag#1_o", "DA105")],
)
def test_naming_rules(tmp_path, stem, code):
    make_pair(tmp_path, "DIS-TR", stem)
    make_pair(tmp_path, "DIS-TR", GOOD)
    found = codes(tmp_path)
    assert list(found) == [code]
    assert set(found[code]) == {f"DIS-TR/im/{stem}.jpg"}


def test_unknown_class_suggests_near_miss(tmp_path):
    make_pair(tmp_path, "DIS-TR", "1#Accessories#1#bag#1_o")
    (finding,) = scan(tmp_path, workers=1).findings
    assert finding.code == "DA103" and "did you mean 'Bag'" in finding.message
    assert finding.fix == "rename the class field to 'Bag'"


def test_missing_and_orphan_mask(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD, mask_ext=None)
    make_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#2_o", image_ext=None or ".jpg")
    (tmp_path / "DIS-TR/im/1#Accessories#1#Bag#2_o.jpg").unlink()
    found = codes(tmp_path)
    assert found == {"DA201": [f"DIS-TR/im/{GOOD}.jpg"], "DA202": ["DIS-TR/gt/1#Accessories#1#Bag#2_o.png"]}


@pytest.mark.parametrize("ext", [".jpeg", ".webp", ".bmp"])
def test_image_extension_birefnet_skips(tmp_path, ext):
    make_pair(tmp_path, "DIS-TR", GOOD, image_ext=ext)
    result = scan(tmp_path, workers=1)
    assert [f.code for f in result.findings] == ["DA203"]
    assert result.table.column("class_id").to_pylist() == [-1]
    assert result.table.column("label_status").to_pylist() == ["DA203"]
    # Ignoring the rule means "my loader reads it": the label comes back.
    again = scan(tmp_path, workers=1, ignore=["DA203"])
    assert again.findings == [] and again.table.column("class_id").to_pylist() == [6]


def test_mask_extension_unsupported(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD, mask_ext=".tif")
    assert list(codes(tmp_path)) == ["DA204"]


def test_ambiguous_stem(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    make_pair(tmp_path, "DIS-TR", GOOD, image_ext=".png", mask_ext=None)
    found = codes(tmp_path)
    assert "DA205" in found


def test_unreadable_path_symlink_loop(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    (tmp_path / "DIS-TR/im/loop").symlink_to(tmp_path / "DIS-TR/im")
    (tmp_path / "DIS-TR/im/broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    found = codes(tmp_path)
    assert found["DA206"] == ["DIS-TR/im/loop"]
    assert found["DA301"] == ["DIS-TR/im/broken.jpg"]  # a link to nothing, reported by the probe


def test_nested_sample(tmp_path):
    make_pair(tmp_path, "DIS-TR", "sub/" + GOOD)
    result = scan(tmp_path, workers=1)
    assert [f.code for f in result.findings] == ["DA207"]
    assert result.table.column("class_id").to_pylist() == [6]


def test_unreadable_and_empty_image(tmp_path):
    img, _ = make_pair(tmp_path, "DIS-TR", GOOD)
    img.write_bytes(img.read_bytes()[:30])
    img2, _ = make_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#2_o")
    img2.write_bytes(b"")
    found = codes(tmp_path)
    assert found == {"DA301": [str(img.relative_to(tmp_path))], "DA302": [str(img2.relative_to(tmp_path))]}


def test_extension_mismatch_and_image_mode(tmp_path):
    base = tmp_path / "DIS-TR"
    write_image(base / "im" / f"{GOOD}.png", image_array(8, 8))
    (base / "im" / f"{GOOD}.png").rename(base / "im" / f"{GOOD}.jpg")
    write_image(base / "gt" / f"{GOOD}.png", image_array(8, 8)[..., 0])
    make_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#2_o", image_ext=".png")
    write_image(base / "im" / "1#Accessories#1#Bag#2_o.png", image_array(32, 24), mode="RGBA")
    found = codes(tmp_path)
    assert found == {"DA303": [f"DIS-TR/im/{GOOD}.jpg"], "DA304": ["DIS-TR/im/1#Accessories#1#Bag#2_o.png"]}


def test_mask_rules(tmp_path):
    make_pair(tmp_path, "DIS-TR", "1#A#1#Bag#1_o", mask_size=(20, 20))
    make_pair(tmp_path, "DIS-TR", "1#A#1#Bag#2_o", mask_mode="RGB")
    make_pair(tmp_path, "DIS-TR", "1#A#1#Bag#3_o", mask_ext=".jpg")
    _, bad = make_pair(tmp_path, "DIS-TR", "1#A#1#Bag#4_o")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    _, empty = make_pair(tmp_path, "DIS-TR", "1#A#1#Bag#5_o")
    empty.write_bytes(b"")
    found = codes(tmp_path)
    assert found == {
        "DA403": ["DIS-TR/gt/1#A#1#Bag#1_o.png"],
        "DA404": ["DIS-TR/gt/1#A#1#Bag#2_o.png"],
        "DA405": ["DIS-TR/gt/1#A#1#Bag#3_o.jpg"],
        "DA401": ["DIS-TR/gt/1#A#1#Bag#4_o.png"],
        "DA402": ["DIS-TR/gt/1#A#1#Bag#5_o.png"],
    }


def test_undecodable_name(tmp_path):
    make_pair(tmp_path, "DIS-TR", GOOD)
    raw = bytes(tmp_path / "DIS-TR" / "im") + b"/caf\xe9.jpg"
    with open(raw, "wb") as fh:
        fh.write((tmp_path / "DIS-TR" / "im" / f"{GOOD}.jpg").read_bytes())
    result = scan(tmp_path, workers=1)
    assert [(f.code, f.path) for f in result.findings] == [("DA106", "DIS-TR/im/caf\\xe9.jpg")]
    assert result.table.num_rows == 1


HEADER_RULES = (
    "DA101", "DA102", "DA103", "DA104", "DA105", "DA106", "DA201", "DA202", "DA203", "DA204", "DA205", "DA206",
    "DA207", "DA301", "DA302", "DA303", "DA304", "DA401", "DA402", "DA403", "DA404", "DA405",
)


def test_every_header_rule_has_a_test_here_and_every_rule_a_doc_entry():
    source = Path(__file__).read_text().split("HEADER_RULES = (")[0]
    docs = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text()
    for code in HEADER_RULES:
        assert code in ALL_RULES
        assert f'"{code}"' in source, f"no unit test names {code}"
    assert docs == rules_markdown(ALL_RULES.values()), "docs/rules.md is stale: dis-audit rules --markdown > docs/rules.md"
    for code, rule in ALL_RULES.items():
        assert f"## {code} {rule.name}" in docs, f"{code} missing from docs/rules.md"
        assert len(code) == 5 and code.startswith("DA") and code[2:].isdigit()


def test_select_and_ignore(tmp_path):
    make_pair(tmp_path, "DIS-TR", "IMG_0001", mask_mode="RGB")
    assert set(codes(tmp_path)) == {"DA101", "DA404"}
    assert set(codes(tmp_path, select=["DA4"])) == {"DA404"}
    assert set(codes(tmp_path, ignore=["DA1"])) == {"DA404"}
    assert set(codes(tmp_path, select=["DA1", "DA404"], ignore=["DA4"])) == {"DA101", "DA404"}
    # DA101 is intrinsic: ignoring it hides the finding but the name still has no class.
    result = scan(tmp_path, workers=1, ignore=["DA101"])
    assert result.table.column("label_status").to_pylist() == ["DA101"]
