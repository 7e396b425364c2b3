"""All 5,470 real DIS5K names, tiny pixels: labels agree with BiRefNet's own rule."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from dis_audit import scan
from dis_audit.naming import birefnet_class_field

SIX_MISSING = {"Mop", "Snake", "Leaf", "Hammer", "Needle", "Pillow"}


@pytest.fixture(scope="module")
def dis5k_tree(corpora, tmp_path_factory) -> tuple[Path, list[tuple[str, str]]]:
    root = tmp_path_factory.mktemp("dis5k")
    rows = [line.split("\t") for line in (corpora / "dis5k_names.tsv").read_text(encoding="utf-8").splitlines() if line]
    jpg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (8, 6), (120, 60, 30)).save(jpg, "JPEG")
    Image.new("L", (8, 6), 255).save(png, "PNG")
    for split, name in rows:
        stem = name.rsplit(".", 1)[0]
        for sub, data, ext in (("im", jpg.getvalue(), ".jpg"), ("gt", png.getvalue(), ".png")):
            folder = root / "DIS5K" / split / sub
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{stem}{ext}").write_bytes(data)
    return root, rows


def test_six_splits_default_vocabulary(dis5k_tree, birefnet_classes):
    root, rows = dis5k_tree
    result = scan(root, workers=2)
    assert len(rows) == 5470
    assert result.table.num_rows == 5470
    assert set(result.summary["unknown_classes"]) == SIX_MISSING
    assert {f.code for f in result.findings} == {"DA103"}
    assert len(result.findings) == 6
    name2id = {name: i for i, name in enumerate(birefnet_classes)}
    for path, mask, class_id, status in zip(
        result.table.column("image_path").to_pylist(), result.table.column("mask_path").to_pylist(),
        result.table.column("class_id").to_pylist(), result.table.column("label_status").to_pylist(),
    ):
        try:  # BiRefNet's exact expression, on the mask path
            expected = name2id[birefnet_class_field(mask)]
        except (IndexError, KeyError):
            expected = None
        if expected is None:
            assert class_id == -1 and status == "DA103", path
        else:
            assert class_id == expected and status == "ok", path
    datasets = {d["name"]: d["samples"] for d in result.summary["datasets"]}
    assert datasets == {"DIS-TE1": 500, "DIS-TE2": 500, "DIS-TE3": 500, "DIS-TE4": 500, "DIS-TR": 3000, "DIS-VD": 470}


def test_birefnet_plus_syntax_selects_datasets(dis5k_tree):
    root, _ = dis5k_tree
    result = scan(root, datasets="DIS-TR", workers=1)
    assert result.table.num_rows == 3000 and result.findings == []  # TR has exactly BiRefNet's classes
    both = scan(root, datasets="DIS-VD+DIS-TE1", workers=1, difficulty_map="DIS-TE1=easy")
    assert both.table.num_rows == 970
    assert set(both.summary["unknown_classes"]) == {"Mop", "Snake", "Leaf", "Hammer", "Needle", "Pillow"}
    diffs = dict(zip(both.table.column("dataset").to_pylist(), both.table.column("difficulty").to_pylist()))
    assert diffs == {"DIS-VD": "DIS-VD", "DIS-TE1": "easy"}


def test_extend_vocab_appends_the_six_at_the_end(dis5k_tree, birefnet_classes):
    root, _ = dis5k_tree
    result = scan(root, extend_vocab=True, workers=2)
    assert list(result.vocabulary.names[:219]) == birefnet_classes
    assert set(result.vocabulary.names[219:]) == SIX_MISSING
    assert result.findings == []
    assert min(result.table.column("class_id").to_pylist()) == 0


def test_infer_vocabulary(dis5k_tree):
    root, _ = dis5k_tree
    result = scan(root, classes="infer", workers=2)
    assert len(result.vocabulary) == 225
    assert list(result.vocabulary.names) == sorted(result.vocabulary.names)
