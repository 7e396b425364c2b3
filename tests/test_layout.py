"""Discovery: folder pairs by their common names, overrides, roots at any level, BiRefNet's '+' syntax."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dis_audit import ScanError, scan
from dis_audit.cli import app
from dis_audit.layout import LayoutError, discover_datasets, select_datasets
from dis_audit.testing import make_pair

GOOD = "1#Accessories#1#Bag#26345192014_f722d1ef0b_o"


@pytest.mark.parametrize(
    "image_dir, mask_dir",
    [("im", "gt"), ("jpgs", "masks"), ("Imgs", "GT"), ("image", "mask"), ("images", "masks"),
     ("DUTS-TR-Image", "DUTS-TR-Mask")],
)
def test_folder_pairs_are_detected(tmp_path, image_dir, mask_dir):
    make_pair(tmp_path, "set", GOOD, image_dir=image_dir, mask_dir=mask_dir)
    (dataset,) = discover_datasets(tmp_path)
    assert (dataset.name, dataset.image_dir, dataset.mask_dir) == ("set", f"set/{image_dir}", f"set/{mask_dir}")
    result = scan(tmp_path, workers=1)
    assert result.findings == []
    assert result.table.column("mask_path").to_pylist() == [f"set/{mask_dir}/{GOOD}.png"]


def test_root_can_be_one_dataset_or_a_task_folder(tmp_path):
    make_pair(tmp_path / "data" / "DIS5K", "DIS-TR", GOOD)
    make_pair(tmp_path / "data" / "DIS5K", "DIS-VD", GOOD)
    assert [d.name for d in discover_datasets(tmp_path / "data")] == ["DIS-TR", "DIS-VD"]
    assert [d.rel for d in discover_datasets(tmp_path / "data")] == ["DIS5K/DIS-TR", "DIS5K/DIS-VD"]
    (single,) = discover_datasets(tmp_path / "data" / "DIS5K" / "DIS-TR")
    assert (single.name, single.rel, single.image_dir) == ("DIS-TR", "", "im")
    rows = scan(tmp_path / "data" / "DIS5K" / "DIS-TR", workers=1).table.column("image_path").to_pylist()
    assert rows == [f"im/{GOOD}.jpg"]


def test_colliding_dataset_names_use_their_paths(tmp_path):
    make_pair(tmp_path / "a", "train", GOOD)
    make_pair(tmp_path / "b", "train", GOOD)
    assert [d.name for d in discover_datasets(tmp_path)] == ["a/train", "b/train"]


def test_image_and_mask_dir_overrides(tmp_path):
    make_pair(tmp_path, "set", GOOD, image_dir="rgb", mask_dir="alpha")
    with pytest.raises(ScanError, match="no dataset found"):
        scan(tmp_path, workers=1)
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--image-dir", "rgb", "--mask-dir", "alpha", "--json"])
    assert result.exit_code == 0, result.output
    assert '"mask_dir": "set/alpha"' in result.output


def test_select_datasets_by_name_or_path(tmp_path):
    for name in ("DIS-TR", "DIS-VD", "DIS-TE1"):
        make_pair(tmp_path / "DIS5K", name, GOOD)
    found = discover_datasets(tmp_path)
    assert [d.name for d in select_datasets(found, "DIS-TE1+DIS5K/DIS-TR")] == ["DIS-TE1", "DIS-TR"]
    with pytest.raises(LayoutError, match="no dataset named 'DIS-TE9'"):
        select_datasets(found, "DIS-TR+DIS-TE9")


def test_images_without_a_mask_folder(tmp_path):
    make_pair(tmp_path, "test-set", GOOD, mask_ext=None)
    result = scan(tmp_path, workers=1)
    assert [(f.code, f.message) for f in result.findings] == [
        ("DA201", "no mask with this stem (this dataset has no mask folder): BiRefNet raises ValueError when the "
         "dataset is built, the whole run stops")
    ]


def test_dataset_folders_differing_only_in_case_are_both_found(tmp_path):
    # On a case-sensitive filesystem these are two datasets; folding their names lost one of them.
    from dis_audit.layout import discover_datasets
    from dis_audit.testing import make_pair

    make_pair(tmp_path, "ext-JPEG", "1#Accessories#1#Bag#1_o")
    make_pair(tmp_path, "ext-jpeg", "1#Accessories#1#Bag#2_o")
    if (tmp_path / "ext-JPEG").samefile(tmp_path / "ext-jpeg"):
        import pytest

        pytest.skip("case-insensitive filesystem")
    found = discover_datasets(tmp_path)
    assert sorted(d.rel for d in found) == ["ext-JPEG", "ext-jpeg"]
