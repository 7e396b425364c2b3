"""Each rule fires on the defect it describes, and not on a clean sample.

Every code of the registry runs through the fixtures of tests/rule_fixtures.py (a defect and a near
miss); the tests further down pin messages, labels and selections of particular rules.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from rule_fixtures import FIXTURES, GOOD

from dis_audit import scan
from dis_audit.findings import Rule, RuleSelection, SelectionError, Severity, rules_markdown
from dis_audit.rules import ALL_RULES, FAMILIES, FAMILY_PREFIXES, CheckFamily, RegistryError, build_registry
from dis_audit.testing import image_array, make_pair, write_image


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
    make_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#2_o", image_ext=".jpg")
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
    # BiRefNet's os.listdir never sees the file: no label under the birefnet profile.
    assert result.table.column("class_id").to_pylist() == [-1]
    assert result.table.column("label_status").to_pylist() == ["DA207"]
    # ManifestDataset reads it: the dis-audit profile keeps the label and reports nothing.
    own = scan(tmp_path, workers=1, loader="dis-audit")
    assert own.findings == [] and own.table.column("class_id").to_pylist() == [6]


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


# ----------------------------------------------------------------------------- every rule, from the registry


@pytest.mark.parametrize("code", sorted(ALL_RULES))
def test_every_rule_has_a_fixture(code):
    assert code in FIXTURES, f"rule {code} has no fixture: add one to tests/rule_fixtures.py (defect and near miss)"


def test_every_fixture_names_a_rule():
    assert sorted(set(FIXTURES) - set(ALL_RULES)) == []


@pytest.mark.parametrize("defect", [True, False], ids=["defect", "near-miss"])
@pytest.mark.parametrize("code", sorted(ALL_RULES))
def test_rule_fires_on_its_defect_and_not_on_the_near_miss(tmp_path, code, defect):
    case = FIXTURES.get(code)
    if case is None:
        pytest.fail(f"rule {code} has no fixture in tests/rule_fixtures.py")
    where = case.build(tmp_path, defect)
    found = codes(tmp_path, deep=case.deep, **case.scan_options)
    if defect:
        assert where in found.get(code, []), f"{code} not reported for {where}; found {found}"
    else:
        assert code not in found, f"{code} reported on the near miss: {found[code]}"


def test_docs_list_every_rule():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text()
    assert docs == rules_markdown(ALL_RULES.values()), "docs/rules.md is stale: dis-audit rules --markdown > docs/rules.md"
    for code, rule in ALL_RULES.items():
        assert f"## {code} {rule.name}" in docs, f"{code} missing from docs/rules.md"


# ----------------------------------------------------------------------------- the registry guards itself


def test_codes_are_unique_and_in_their_family():
    assert set(FAMILY_PREFIXES.values()) == {family.prefix for family in FAMILIES}
    seen: list[str] = []
    for family in FAMILIES:
        for rule in family.rules:
            assert len(rule.code) == 5 and rule.code[2:].isdigit(), rule.code
            assert rule.code.startswith(FAMILY_PREFIXES[family.title]), f"{rule.code} is not a {family.title} code"
            assert rule.family == family.prefix
            seen.append(rule.code)
    assert len(seen) == len(set(seen)) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES.values()}) == len(ALL_RULES)


def _family(title: str, prefix: str, *rules: Rule, cross_file: tuple[str, ...] = ()) -> CheckFamily:
    family_class = type(f"Fake{title}", (CheckFamily,), {
        "title": title, "prefix": prefix, "rules": rules, "cross_file": cross_file,
    })
    return family_class()


def _rule(code: str, name: str = "", aliases: tuple[str, ...] = ()) -> Rule:
    return Rule(code, name or f"rule-{code}", Severity.INFO, "s", "w", "f", aliases=aliases)


@pytest.mark.parametrize(
    ("families", "message"),
    [
        ([_family("masks", "DA4", _rule("DA401")), _family("images", "DA3", _rule("DA401", "other"))],
         "DA401 other is in the images family"),
        ([_family("images", "DA3", _rule("DA303")), _family("masks", "DA4", _rule("DA303", "mask-side"))],
         "DA303 mask-side is in the masks family"),
        ([_family("masks", "DA4", _rule("DA401"), _rule("DA401", "again"))], "used twice"),
        ([_family("masks", "DA4", _rule("DA401", "same"), _rule("DA402", "same"))], "name 'same' is used twice"),
        ([_family("masks", "DA3", _rule("DA301"))], "the masks family is DA4"),
        ([_family("masks", "DA4", _rule("DA4001"))], "not DA + 3 digits"),
        ([_family("masks", "DA4", _rule("DA412", aliases=("DA412",)))], "an alias is another DA code"),
        ([_family("masks", "DA4", _rule("DA412", aliases=("DA303",)), _rule("DA413", aliases=("DA303",)))],
         "alias DA303 is claimed by DA412 and DA413"),
        ([_family("masks", "DA4", _rule("DA401"), cross_file=("DA409",))], "cross-file codes it has no rule for"),
        ([_family("extra", "DA6", _rule("DA601")), _family("more", "DA6", _rule("DA602"))], "share the prefix"),
    ],
)
def test_registry_refuses_inconsistent_families(families, message):
    with pytest.raises(RegistryError, match=re.escape(message)):
        build_registry(families)


def test_registry_accepts_a_new_family_with_its_own_prefix():
    rules = build_registry([*FAMILIES, _family("extra", "DA7", _rule("DA701"))])
    assert list(rules)[-1] == "DA701" and len(rules) == len(ALL_RULES) + 1


# ----------------------------------------------------------------------------- former codes (aliases)


def test_mask_side_codes_answer_to_their_former_codes(tmp_path):
    FIXTURES["DA303"].build(tmp_path, True)
    FIXTURES["DA412"].build(tmp_path / "masks", True)
    shutil.copytree(tmp_path / "masks" / "DIS-TR" / "gt", tmp_path / "DIS-TR" / "gt", dirs_exist_ok=True)
    shutil.rmtree(tmp_path / "masks")
    image, mask = f"DIS-TR/im/{GOOD}.jpg", f"DIS-TR/gt/{GOOD}.png"
    assert {k: v for k, v in codes(tmp_path).items() if k in ("DA303", "DA412")} == {"DA303": [image], "DA412": [mask]}
    for ignore in ("DA303", "DA3", "DA30"):
        assert not {"DA303", "DA412"} & set(codes(tmp_path, ignore=[ignore])), ignore
    assert codes(tmp_path, select=["DA303"]) == {"DA303": [image], "DA412": [mask]}
    assert codes(tmp_path, select=["DA412"]) == {"DA412": [mask]}
    assert "DA412" not in codes(tmp_path, select=["DA303"], ignore=["DA412"])
    assert codes(tmp_path, select=["DA303"], ignore=["DA412"]) == {"DA303": [image]}
    assert "DA412" not in codes(tmp_path, ignore=["DA4"])


def test_mask_bomb_answers_to_da305(tmp_path):
    FIXTURES["DA413"].build(tmp_path, True)
    mask = f"DIS-TR/gt/{GOOD}.png"
    assert codes(tmp_path, deep=True).get("DA413") == [mask]
    assert "DA413" not in codes(tmp_path, deep=True, ignore=["DA305"])
    assert codes(tmp_path, deep=True, select=["DA305"]) == {"DA413": [mask]}


def test_selection_matches_aliases():
    selection = RuleSelection.parse(None, "DA303", ALL_RULES)
    assert not selection.enabled("DA412", ("DA303",)) and selection.enabled("DA412")
    assert RuleSelection.parse("DA1", "DA101", ALL_RULES).enabled("DA102")
    known = {"DA412": _rule("DA412", aliases=("DA399",))}
    assert RuleSelection.parse("DA399", None, known).enabled("DA412", ("DA399",))
    with pytest.raises(SelectionError):
        RuleSelection.parse("DA399", None, list(known))


def test_new_mask_codes_say_what_they_were():
    for code, old in (("DA412", "DA303"), ("DA413", "DA305")):
        rule = ALL_RULES[code]
        assert rule.aliases == (old,) and old in rule.summary and rule.severity is ALL_RULES[old].severity


def test_select_and_ignore(tmp_path):
    make_pair(tmp_path, "DIS-TR", "IMG_0001", mask_mode="RGB")
    assert set(codes(tmp_path)) == {"DA101", "DA404"}
    assert set(codes(tmp_path, select=["DA4"])) == {"DA404"}
    assert set(codes(tmp_path, ignore=["DA1"])) == {"DA404"}
    assert set(codes(tmp_path, select=["DA1", "DA404"], ignore=["DA4"])) == {"DA101", "DA404"}
    # DA101 is intrinsic: ignoring it hides the finding but the name still has no class.
    result = scan(tmp_path, workers=1, ignore=["DA101"])
    assert result.table.column("label_status").to_pylist() == ["DA101"]
