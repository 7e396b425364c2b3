"""Labelling a row from its name: the shared pieces scan, rename and relabel use (rules.naming / rules.labels)."""

from __future__ import annotations

from pathlib import Path

from dis_audit.findings import Emitter, RuleSelection
from dis_audit.manifest import read_findings, read_manifest_table
from dis_audit.rules import ALL_RULES
from dis_audit.rules.labels import RowLabel, first_label_code, label_row
from dis_audit.rules.naming import check_name
from dis_audit.scan import scan
from dis_audit.testing import make_pair
from dis_audit.vocab import Vocabulary, builtin_dis5k

VOCAB = Vocabulary(("Bag", "Chair", "Kite"), source="test")


def _emitter(select: str | None = None, ignore: str | None = None) -> Emitter:
    return Emitter(RuleSelection.parse(select, ignore, ALL_RULES), dataset="DS")


def test_check_name_needs_no_sample_or_probed_file():
    emit = _emitter()
    name = check_name(emit, "DS/im/1#Acc#1#bag#x.jpg", VOCAB)
    assert name.class_field == "bag"
    assert emit.codes == ["DA103"] and emit.label_status == "DA103"
    assert emit.findings[0].dataset == "DS" and "did you mean 'Bag'" in emit.findings[0].message
    emit.reset()
    check_name(emit, "DS/im/a#b#c.jpg", VOCAB)
    assert emit.codes == ["DA101"] and emit.label_status == "DA101"
    emit.reset()
    check_name(emit, "DS/im/1#Acc#1#Bag.jpg", VOCAB, mask_ext=".tif")
    assert emit.codes == ["DA102"] and "'Bag.tif'" in emit.findings[0].message
    emit.reset()
    assert check_name(emit, "DS/im/x#Acc#y#Bag#o#p.jpg", VOCAB).class_field == "Bag"
    assert emit.codes == ["DA104", "DA105", "DA105"] and emit.label_status is None


def test_check_name_under_a_selection_still_takes_an_intrinsic_label():
    emit = _emitter(ignore="DA103")
    check_name(emit, "DS/im/1#Acc#1#Nope#x.jpg", VOCAB)
    assert emit.codes == [] and emit.label_status == "DA103"  # ignored, yet the label cannot exist


def test_label_row():
    assert label_row("Chair", VOCAB) == RowLabel("Chair", 1, "ok")
    assert label_row("Chair", VOCAB, "DA201") == RowLabel("Chair", -1, "DA201")
    assert label_row("Nope", VOCAB, "DA103") == RowLabel(None, -1, "DA103")
    assert label_row(None, VOCAB, "DA101") == RowLabel(None, -1, "DA101")
    # From codes: the first code, sorted, whose rule takes the label away; others and unknown ones are skipped.
    label_codes = sorted(c for c, r in ALL_RULES.items() if r.label.value != "none")
    plain = [c for c, r in ALL_RULES.items() if r.label.value == "none"]
    assert label_row("Kite", VOCAB, codes=[*plain, "DA999"]) == RowLabel("Kite", 2, "ok")
    assert label_row("Kite", VOCAB, codes=list(reversed(label_codes))) == RowLabel("Kite", -1, label_codes[0])
    assert first_label_code([]) == "ok"


def test_shared_labelling_reproduces_scan(tmp_path: Path):
    """check_name + label_row on the scanned paths give the labels and DA1 findings scan wrote."""
    root = tmp_path / "data"
    for stem in ("IMG_1", "a#b#c", "1#Acc#6#Bag", "1#Acc#6#Bag#ok", "1#Acc#6#bag#typo", "1#Acc#x#Nope#o",
                 "9#G#1#Chair#a#b", "11#Furniture#39#Chair#m"):
        make_pair(root, "DS", stem)
    make_pair(root, "DS", "1#Acc#6#Bag#nomask", mask_ext=None)  # a non-naming code takes the label away
    scan(root).write_manifest()
    table, meta = read_manifest_table(root / "manifest.parquet")
    vocab = builtin_dis5k()  # what the scan used: its name appears in DA103 messages
    assert vocab.names == tuple(meta.vocabulary)
    scanned_da1 = sorted((f["path"], f["code"], f["message"]) for f in read_findings(table) if f["code"] < "DA2")
    rows = table.to_pylist()
    assert len(rows) == 9
    shared_da1 = []
    emit = _emitter()
    for row in rows:
        emit.reset()
        mask = row["mask_path"]
        name = check_name(emit, row["image_path"], vocab, mask_ext=mask[mask.rfind("."):] if mask else "")
        shared_da1 += [(f.path, f.code, f.message) for f in emit.findings]
        others = [c for c in row["issues"] if not c.startswith("DA1")]
        assert name.class_field == row["class_field"]
        assert label_row(name.class_field, vocab, emit.label_status, others) == (
            row["class_name"], row["class_id"], row["label_status"]
        ), row["image_path"]
    assert sorted(shared_da1) == scanned_da1
    statuses = {r["label_status"] for r in rows}
    assert {"ok", "DA101", "DA102", "DA103"} <= statuses and len(statuses) >= 5  # the test covers every path
