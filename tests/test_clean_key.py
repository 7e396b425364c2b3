"""The scan's shortcuts give what the plain path gives.

* ``rules.clean``: a well-formed pair whose key the checks already judged clean is not judged again.
  Every header-level rule fixture is scanned with clean twins of its near miss (same key, sorted
  first, so the shortcut has a verdict when the defect comes), with and without the shortcut.
* ``_incremental.fold_rereads`` / ``ReuseIndex``: an incremental scan keeps the old rows that re-read
  rows repeat, and matches an unchanged tree row by row; table, findings, summary and manifest bytes
  are those of the plain path.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from rule_fixtures import FIXTURES, GOOD

import dis_audit._evaluate as evaluate
from dis_audit import scan
from dis_audit._incremental import ReuseIndex
from dis_audit.manifest import manifest_bytes, with_findings
from dis_audit.rules import FAMILIES
from dis_audit.rules.clean import shortcut_applies
from dis_audit.testing import make_pair

HEADER_CODES = sorted(code for code, case in FIXTURES.items() if not case.deep)
# ``dis_audit.scan`` is also the name of the function the package exports: the module, by its name.
SCAN_MODULE = importlib.import_module("dis_audit.scan")


def _add_twins(clean: Path, into: Path) -> int:
    """Copy every file of ``clean`` into ``into`` with ``!twin-`` before the name's last field (the key stays)."""
    copied = 0
    for path in sorted(clean.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        head, sep, last = path.name.rpartition("#")
        target = into / path.relative_to(clean).parent / (f"{head}{sep}!twin-{last}" if sep else f"!twin-{last}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied += 1
    return copied


def _result(root: Path, **options) -> tuple[pa.Table, list, dict]:
    result = scan(root, workers=1, **options)
    summary = {k: v for k, v in result.summary.items() if k != "elapsed_s"}
    return result.table, [f.to_dict() for f in result.findings], summary


def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate, "shortcut_applies", lambda *args: False)


@pytest.mark.parametrize("code", HEADER_CODES)
def test_shortcut_gives_the_checks_result(tmp_path, monkeypatch, code):
    case = FIXTURES[code]
    clean, root = tmp_path / "clean", tmp_path / "tree"
    case.build(clean, False)
    where = case.build(root, True)
    assert _add_twins(clean, root) >= 2
    fast = _result(root, **case.scan_options)
    judged = dict(evaluate._VERDICTS[1])
    _plain(monkeypatch)
    plain = _result(root, **case.scan_options)
    assert fast[0].equals(plain[0], check_metadata=True)
    assert fast[1:] == plain[1:]
    assert where in [f["path"] for f in fast[1] if f["code"] == code]
    clean_rows = [row for row in plain[0].select(["issues", "label_status"]).to_pylist()
                  if not row["issues"] and row["label_status"] == "ok"]
    # Where the checks passed a row, its key was judged (DA107's tree has no clean row: both forms are flagged).
    assert judged or not clean_rows, "the shortcut judged no key: the test does not exercise it"


def test_shortcut_after_a_clean_twin_still_reports_every_header_defect(tmp_path):
    """One dataset, one class: clean pairs first, then each defect the key leaves out (size, bytes, cut)."""
    root = tmp_path / "tree"
    for i in range(6):
        make_pair(root, "DIS-TR", f"1#Accessories#1#Bag#a{i}", size=(32, 24))
    im, gt = root / "DIS-TR" / "im", root / "DIS-TR" / "gt"
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#b-size", size=(32, 24))
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#b-other", size=(30, 20))
    shutil.copyfile(gt / "1#Accessories#1#Bag#b-other.png", gt / "1#Accessories#1#Bag#b-size.png")
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#c-cut", size=(32, 24))
    data = (im / "1#Accessories#1#Bag#c-cut.jpg").read_bytes()
    (im / "1#Accessories#1#Bag#c-cut.jpg").write_bytes(data[: len(data) - 40])
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#d-empty", size=(32, 24))
    (gt / "1#Accessories#1#Bag#d-empty.png").write_bytes(b"")
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#e-garbage", size=(32, 24))
    (im / "1#Accessories#1#Bag#e-garbage.jpg").write_bytes(b"not a picture")
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#f-nomask", size=(32, 24))
    (gt / "1#Accessories#1#Bag#f-nomask.png").unlink()
    fast = _result(root)
    codes = {f["path"].rsplit("#", 1)[-1]: f["code"] for f in fast[1]}
    assert codes == {
        "b-size.png": "DA403", "c-cut.jpg": "DA309", "d-empty.png": "DA402", "e-garbage.jpg": "DA301",
        "f-nomask.jpg": "DA201",
    }
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        _plain(patch)
        plain = _result(root)
    assert fast[0].equals(plain[0]) and fast[1:] == plain[1:]


def test_shortcut_is_off_for_deep_and_unknown_checks():
    assert shortcut_applies(FAMILIES, deep=False)
    assert not shortcut_applies(FAMILIES, deep=True)

    class Extra(type(FAMILIES[0])):  # a family whose check_sample this module was not taught about
        def check_sample(self, sample, emit):
            return None

    assert not shortcut_applies((*FAMILIES, Extra()), deep=False)


# ----------------------------------------------------------------------------- --incremental


def _incremental(root: Path, manifest: Path) -> tuple[pa.Table, list, dict, bytes]:
    result = scan(root, workers=1, incremental=manifest)
    summary = {k: v for k, v in result.summary.items() if k != "elapsed_s"}
    findings = [f.to_dict() for f in result.findings]
    return result.table, findings, summary, manifest_bytes(with_findings(result.table, findings))


def _tree_with_findings(root: Path) -> None:
    for i in range(12):
        make_pair(root, "DIS-TR" if i % 3 else "DIS-VD", f"1#Accessories#1#Bag#{i:02d}")
    for i in range(4):  # rows with findings: re-read by every incremental scan
        make_pair(root, "DIS-TR", f"1#Reptile#1#Snake#{i:02d}")
    make_pair(root, "DIS-TR", "IMG_0001")


@pytest.mark.parametrize("edit", ["none", "touch-dirty", "new-pair", "remove-clean"])
def test_incremental_folding_gives_the_plain_result(tmp_path, monkeypatch, edit):
    root = tmp_path / "tree"
    _tree_with_findings(root)
    manifest = tmp_path / "manifest.parquet"
    scan(root, workers=1).write_manifest(manifest)
    im = root / "DIS-TR" / "im"
    if edit == "touch-dirty":
        path = im / "1#Reptile#1#Snake#01.jpg"
        path.write_bytes(path.read_bytes() + b"\0")  # changed: its row differs and is not folded
    elif edit == "new-pair":
        make_pair(root, "DIS-TR", "1#Reptile#1#Snake#00a")
    elif edit == "remove-clean":
        (im / "1#Accessories#1#Bag#04.jpg").unlink()
    fast = _incremental(root, manifest)
    monkeypatch.setattr(SCAN_MODULE, "fold_rereads", lambda old, index, keep, parts: (keep, parts))
    plain = _incremental(root, manifest)
    assert fast[0].equals(plain[0], check_metadata=True)
    assert fast[1:] == plain[1:]
    assert fast[2]["reused_rows"] == plain[2]["reused_rows"] > 0


def test_reuse_index_finds_rows_three_ways(tmp_path):
    root = tmp_path / "tree"
    _tree_with_findings(root)
    table = scan(root, workers=1).table
    index = ReuseIndex(table)
    paths = index.paths
    dirty = {k for k, row in enumerate(index.rows.tolist()) if row < 0}
    assert dirty and len(dirty) < len(paths)
    assert all(index.rows[k] == -2 - k for k in dirty)
    assert index.row_of(list(paths)).tolist() == list(range(len(paths)))  # row by row
    few = [paths[3], "DIS-TR/im/none.jpg", paths[-1]]
    expected = [3, -1, len(paths) - 1]
    assert index.row_of(few).tolist() == expected  # bisection (a few paths of a sorted index)
    many = [*reversed(paths), "DIS-TR/im/none.jpg"]
    assert index.row_of(many).tolist() == [*reversed(range(len(paths))), -1]  # the dict
    unsorted = ReuseIndex(table.take(pa.array(list(reversed(range(table.num_rows))))))
    assert unsorted.row_of(few).tolist() == [len(paths) - 1 - 3, -1, 0]


def test_fold_keeps_the_manifest_of_an_unchanged_tree(tmp_path):
    """Every re-read row comes back as it was: the kept table is the old one, in one chunk a column."""
    root = tmp_path / "tree"
    _tree_with_findings(root)
    make_pair(root, "DIS-TR", GOOD)
    manifest = tmp_path / "manifest.parquet"
    first = scan(root, workers=1)
    first.write_manifest(manifest)
    again = scan(root, workers=1, incremental=manifest)
    assert again.summary["probed_samples"] == 5 and again.summary["reused_rows"] == first.table.num_rows - 5
    assert all(column.num_chunks == 1 for column in again.table.columns)
    assert again.table.equals(first.table)


def test_verdicts_are_capped(tmp_path, monkeypatch):
    """Names whose first fields differ for every file make a key a pair: the worker stops remembering."""
    root = tmp_path / "tree"
    for i in range(12):
        make_pair(root, "DIS-TR", f"{i}#Accessories#1#Bag#x")
    monkeypatch.setattr(evaluate, "MAX_VERDICTS", 5)
    fast = _result(root)
    assert len(evaluate._VERDICTS[1]) == 5
    _plain(monkeypatch)
    plain = _result(root)
    assert fast[0].equals(plain[0]) and fast[1:] == plain[1:]
