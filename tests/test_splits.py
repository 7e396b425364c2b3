"""One train/eval split for every consumer: the leakage rules, the HTML report, merge and scan.

The same dataset names and ``--eval-datasets`` values go to each consumer, and each must give the
role the table below documents (dis_audit/splits.py explains the choices for the ambiguous names).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from deep_trees import deep_defects

from dis_audit import splits
from dis_audit.merge import merge_manifests
from dis_audit.report import html as html_report
from dis_audit.report.html import build_html
from dis_audit.rules import duplicates as duplicate_rules
from dis_audit.scan import scan

T, E, N = "train", "eval", None

#: Role of each name without --eval-datasets. The ambiguous ones are decided in dis_audit.splits:
#: both kinds of token (train-test) or none (hard, easy) -> no role; dev/trainset/testset are words
#: of the vocabulary.
BY_NAME = {
    "DIS-TR": T, "DIS-VD": E, "DIS-TE1": E, "DIS-TE2": E, "DIS-TE3": E, "DIS-TE4": E,
    "TR": T, "TE": E, "train": T, "test": E, "val": E, "valid": E, "dev": E,
    "trainset": T, "testset": E, "train-test": N, "hard": N, "easy": N, "COD10K-TR": T, "CAMO-TE": E,
}
NAMES = list(BY_NAME)

#: --eval-datasets values: the named datasets are evaluation, every other one is training.
OPTIONS = [None, "hard", "DIS-VD+DIS-TE1", "hard, train-test", ["dev", "CAMO-TE+easy"], "", " , "]


def expected_role(name: str, option: str | list[str] | None) -> str | None:
    """The documented answer, spelled out independently of dis_audit.splits."""
    if isinstance(option, str):
        option = [option]
    listed = {part.strip() for item in option or [] for part in re.split(r"[+,]", item) if part.strip()}
    if not listed:
        return BY_NAME[name]
    return E if name in listed else T


def stored(option: str | list[str] | None) -> list[str] | None:
    """The option as scan and merge record it in the manifest metadata (what rules and report read)."""
    parsed = splits.parse_eval_datasets(option)
    return sorted(parsed) if parsed else None


@pytest.mark.parametrize("option", OPTIONS, ids=repr)
def test_every_consumer_gives_the_documented_role(option):
    report_option = list(stored(option) or [])  # the HTML report reads `options["eval_datasets"] or []`
    for name in NAMES:
        want = expected_role(name, option)
        assert splits.dataset_role(name, option) == want, name
        assert duplicate_rules.dataset_role(name, stored(option)) == want, name
        assert html_report.split_of(name, report_option) == want, name


@pytest.mark.parametrize(
    ("name", "role"),
    [("trainval", N), ("street", N), ("tr-te", N), ("Training", T), ("val2017", E), ("HRSOD_test", E),
     ("DUTS-TR", T), ("extra", N), ("EVALUATION", E), ("contest", N)],
)
def test_name_tokens(name, role):
    assert splits.role_from_name(name) == role
    assert splits.dataset_role(name) == role


# Moved from test_dupes.py with the role logic.
@pytest.mark.parametrize(
    ("name", "role"),
    [("DIS-TR", "train"), ("DIS-TE1", "eval"), ("DIS-TE4", "eval"), ("DIS-VD", "eval"), ("DUTS-TR", "train"),
     ("train", "train"), ("val2017", "eval"), ("HRSOD_test", "eval"), ("street", None), ("easy", None),
     ("trainval", None), ("tr-te", None), ("Training", "train")],
)
def test_dataset_roles_by_name(name, role):
    assert splits.dataset_role(name) == role


def test_eval_datasets_override():
    names = splits.parse_eval_datasets("hard+medium")
    assert splits.dataset_role("hard", names) == "eval" and splits.dataset_role("easy", names) == "train"
    assert splits.dataset_role("DIS-TE1", names) == "train"
    assert splits.parse_eval_datasets(" , ") is None


def test_listed_names_match_by_last_path_component():
    assert splits.dataset_role("DIS5K/DIS-TE1", "DIS-TE1") == E
    assert splits.dataset_role("DIS5K/DIS-TR", "DIS-TE1") == T


def test_parse_eval_datasets():
    assert splits.parse_eval_datasets("DIS-VD+DIS-TE1") == {"DIS-VD", "DIS-TE1"}
    assert splits.parse_eval_datasets(" DIS-VD , DIS-TE1 ") == {"DIS-VD", "DIS-TE1"}
    assert splits.parse_eval_datasets(["a+b", "c"]) == {"a", "b", "c"}
    assert splits.parse_eval_datasets(None) is None
    assert splits.parse_eval_datasets("") is None and splits.parse_eval_datasets([]) is None


def test_vocabulary_is_what_the_docstring_lists():
    doc = splits.__doc__ or ""
    for token in splits.TRAIN_TOKENS + splits.EVAL_TOKENS:
        assert f"``{token}``" in doc, token
    assert not set(splits.TRAIN_TOKENS) & set(splits.EVAL_TOKENS)


# ----------------------------------------------------------------------------- end to end

TRAIN_REF, EVAL_REF = "ZZREF-TR", "ZZREF-TE"


@pytest.fixture(scope="module")
def roles_manifest(tmp_path_factory) -> Path:
    """Every tested dataset holds a copy of a training picture and a copy of an evaluation picture.

    The rules then say which role they gave the dataset: a training dataset leaks (DA503) only
    with the evaluation copy, an evaluation dataset leaks with the training copy and is a cross-eval
    duplicate (DA504) with the evaluation copy, a dataset without a role has two plain DA501.
    """
    root = tmp_path_factory.mktemp("roles") / "tree"
    for k, name in enumerate(NAMES):
        for side, ref in (("a", TRAIN_REF), ("b", EVAL_REF)):
            stem = f"1#Accessories#1#Bag#{k}{side}_o"
            image, mask = deep_defects.pair(root, ref, stem, seed=1000 + 2 * k + (side == "b"))
            for source, folder in ((image, "im"), (mask, "gt")):
                target = root / name / folder / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    result = scan(root, deep=True, workers=1)
    return result.write_manifest(root / "manifest.parquet")


def _rule_roles(findings) -> dict[str, str | None]:
    codes: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        if not f.code.startswith("DA5"):
            continue
        side = "a" if f.path.rsplit("_o.", 1)[0].endswith("a") else "b"
        codes.setdefault((f.dataset, side), set()).add(f.code)
    meaning = {("DA501", "DA503"): T, ("DA503", "DA504"): E, ("DA501", "DA501"): N}
    roles = {}
    for name in NAMES:
        (a,), (b,) = codes[(name, "a")], codes[(name, "b")]
        roles[name] = meaning[(a, b)]
    return roles


def _report_roles(manifest: Path) -> tuple[dict[str, str | None], int]:
    page, _ = build_html(manifest, max_thumbs=0, max_groups=1000)
    # The split cell: the role, or "none" (muted, with a hint) for a dataset without one.
    rows = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>(?:<span[^>]*>)?([^<]+)', page))
    leaks = int(re.search(r"<strong>(\d+)</strong> groups span a training and an evaluation", page).group(1))
    return {name: {"none": None}.get(rows[name], rows[name]) for name in NAMES}, leaks


@pytest.mark.parametrize("option", [None, "hard", "DIS-VD+DIS-TE1", "hard, train-test"], ids=repr)
def test_rules_merge_and_report_agree_on_a_scanned_tree(roles_manifest, tmp_path, option):
    # The references must keep their role under every option: EVAL_REF is listed, TRAIN_REF never.
    given = None if option is None else f"{option}+{EVAL_REF}"
    merged = merge_manifests([roles_manifest], eval_datasets=given)
    want = {name: expected_role(name, given) for name in NAMES}
    assert _rule_roles(merged.findings) == want
    report_roles, leaks = _report_roles(merged.write_manifest(tmp_path / "merged.parquet"))
    assert report_roles == want
    # The report frames as leakage exactly the groups the findings call leakage.
    leaked_groups = {f.path.rsplit("/", 1)[-1] for f in merged.findings if f.code == "DA503"}
    assert leaks == len(leaked_groups)
