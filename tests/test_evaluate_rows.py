"""The scan's row builder puts every header fact in its own column.

``_evaluate.evaluate_chunk`` builds one tuple a row and turns the tuples into named columns at the
end, and looks labels up once per (class field, label status). A tuple out of step with the column
names would move a value into a neighbour of the same type (width into height, a size into an
mtime) without any schema error, and a label memo keyed too coarsely would give one sample
another's label: these tests pin both against facts read independently of the scan.
"""

from __future__ import annotations

import os
from pathlib import Path

from dis_audit import scan
from dis_audit._evaluate import ChunkContext, evaluate_chunk
from dis_audit.findings import RuleSelection
from dis_audit.layout import PairTask
from dis_audit.probe import probe_file
from dis_audit.testing import make_pair
from dis_audit.vocab import builtin_dis5k

BAG = "1#Accessories#1#Bag#{}"


def _tree(root: Path) -> None:
    # Every number differs from every other: a value in the wrong column cannot match by chance.
    make_pair(root, "DIS-TR", BAG.format("a"), size=(64, 48), mask_size=(40, 30))
    make_pair(root, "DIS-TR", BAG.format("b"), size=(52, 36), mask_ext=None)  # missing mask: DA201, label -1
    make_pair(root, "DIS-VD", "1#Accessories#1#Umbrella#c", size=(28, 70), image_ext=".png", mask_ext=".jpg")


def test_each_header_fact_lands_in_its_own_column(tmp_path: Path) -> None:
    _tree(tmp_path)
    rows = {row["image_path"]: row for row in scan(tmp_path, workers=1, difficulty_map="DIS-VD=hard").table.to_pylist()}
    assert len(rows) == 3
    for image_path, row in rows.items():
        image = tmp_path / image_path
        stat = os.stat(image)
        assert (row["width"], row["height"]) == (probe_file(str(image)).width, probe_file(str(image)).height)
        assert (row["file_size"], row["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)
        assert (row["image_format"], row["image_mode"]) == (
            ("PNG", "RGB") if image_path.endswith(".png") else ("JPEG", "RGB")
        )
        assert row["dataset"] == image_path.split("/")[0]
        assert row["difficulty"] == ("hard" if row["dataset"] == "DIS-VD" else "DIS-TR")
        if row["mask_path"] is None:
            assert [row[c] for c in ("mask_width", "mask_height", "mask_format", "mask_mode", "mask_file_size",
                                     "mask_mtime_ns")] == [None] * 6
            continue
        mask = tmp_path / row["mask_path"]
        info, mstat = probe_file(str(mask)), os.stat(mask)
        assert (row["mask_width"], row["mask_height"], row["mask_format"], row["mask_mode"]) == (
            info.width, info.height, info.format, info.mode,
        )
        assert (row["mask_file_size"], row["mask_mtime_ns"]) == (mstat.st_size, mstat.st_mtime_ns)
    assert (rows[f"DIS-TR/im/{BAG.format('a')}.jpg"]["width"], rows[f"DIS-TR/im/{BAG.format('a')}.jpg"]["height"]) == (64, 48)
    assert rows[f"DIS-TR/im/{BAG.format('a')}.jpg"]["issues"] == ["DA403"]  # 40x30 mask on a 64x48 image


def test_same_class_field_keeps_each_samples_own_label(tmp_path: Path) -> None:
    _tree(tmp_path)
    rows = {r["image_path"].rsplit("#", 1)[-1]: r for r in scan(tmp_path, workers=1).table.to_pylist()}
    # One class field, two label statuses in one chunk: the label is memoised per (field, status).
    assert (rows["a.jpg"]["class_name"], rows["a.jpg"]["label_status"]) == ("Bag", "ok")
    assert rows["a.jpg"]["class_id"] >= 0
    assert (rows["b.jpg"]["class_name"], rows["b.jpg"]["class_id"], rows["b.jpg"]["label_status"]) == ("Bag", -1, "DA201")
    ignored = {r["image_path"].rsplit("#", 1)[-1]: r for r in scan(tmp_path, workers=1, ignore="DA201").table.to_pylist()}
    assert ignored["b.jpg"]["class_id"] == ignored["a.jpg"]["class_id"] == rows["a.jpg"]["class_id"]


def test_prior_header_info_gives_the_probed_row(tmp_path: Path) -> None:
    """A row from reused header facts (``--incremental``) is the row a fresh probe builds."""
    _tree(tmp_path)
    pairs = [
        PairTask("DIS-TR", f"DIS-TR/im/{BAG.format('a')}.jpg", f"DIS-TR/gt/{BAG.format('a')}.png", False),
        PairTask("DIS-TR", f"DIS-TR/im/{BAG.format('b')}.jpg", None, False),
    ]
    ctx = ChunkContext(root=str(tmp_path), vocab=builtin_dis5k(), selection=RuleSelection(),
                       has_mask_dir={"DIS-TR": True}, difficulty={})
    probed, probed_findings = evaluate_chunk([(p, None, None) for p in pairs], ctx)
    prior = [
        (p, probe_file(f"{tmp_path}/{p.image_path}"), p.mask_path and probe_file(f"{tmp_path}/{p.mask_path}"))
        for p in pairs
    ]
    assert evaluate_chunk(prior, ctx) == (probed, probed_findings)
    assert probed["class_id"][1] == -1 and probed["class_id"][0] >= 0
    assert evaluate_chunk([], ctx) == ({}, [])
