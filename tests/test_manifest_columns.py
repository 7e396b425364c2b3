"""Manifest rows are built by column name: a column appended to the schema is null, never a shifted value."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deep_trees import build_planted

from dis_audit import manifest
from dis_audit.manifest import (
    COLUMNS,
    CONTRACT_COLUMNS,
    DEEP_COLUMNS,
    HEADER_COLUMNS,
    SAMPLE_DEEP_COLUMNS,
    columns_to_table,
    conform_table,
)
from dis_audit.scan import scan


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    return build_planted(tmp_path_factory.mktemp("columns") / "dis-mini")


def _rows(table: pa.Table) -> dict[str, list]:
    return table.replace_schema_metadata(None).to_pydict()


def test_named_column_groups_partition_the_schema():
    assert COLUMNS[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert CONTRACT_COLUMNS[0] == "image_path" and CONTRACT_COLUMNS[-1] == "issues" and len(CONTRACT_COLUMNS) == 14
    assert set(HEADER_COLUMNS) | set(DEEP_COLUMNS) == set(COLUMNS)
    assert not set(HEADER_COLUMNS) & set(DEEP_COLUMNS)
    assert SAMPLE_DEEP_COLUMNS == ("sha1", "phash", "fg_ratio", "mask_kind", "mask_edge_score")


@pytest.mark.parametrize("deep", [False, True], ids=["header", "deep"])
def test_a_column_appended_to_the_schema_is_null_and_every_other_column_stays_aligned(
    planted, tmp_path, monkeypatch, deep
):
    # The example's pictures are all tiny (DA607 on every row would leave no clean row to reuse).
    before = scan(planted, workers=1, deep=deep, ignore="DA607")
    written = before.write_manifest(tmp_path / "before.parquet")
    assert before.table.num_rows > 0
    if deep:  # the deep columns must carry values, or the test would prove nothing about them
        assert before.table.column("sha1").null_count < before.table.num_rows

    # What appending a field to the schema in manifest.py does to every name derived from it.
    extended = manifest.MANIFEST_SCHEMA.append(pa.field("added", pa.string()))
    monkeypatch.setattr(manifest, "MANIFEST_SCHEMA", extended)
    monkeypatch.setattr(manifest, "COLUMNS", tuple(extended.names))
    monkeypatch.setattr(manifest, "HEADER_COLUMNS", (*HEADER_COLUMNS, "added"))
    after = scan(planted, workers=1, deep=deep, ignore="DA607")
    assert after.table.column_names == [*COLUMNS, "added"]
    assert after.table.column("added").null_count == after.table.num_rows
    assert _rows(after.table.drop_columns(["added"])) == _rows(before.table)

    # An incremental scan over a manifest written before the column existed reuses its rows.
    again = scan(planted, workers=1, deep=deep, incremental=written, ignore="DA607")
    assert again.summary["reused_rows"] > 0
    assert again.table.column("added").null_count == again.table.num_rows
    assert _rows(again.table.drop_columns(["added"])) == _rows(before.table)


def test_a_column_the_schema_lacks_fails_the_scan_loudly(planted, monkeypatch):
    fields = [f for f in manifest.MANIFEST_SCHEMA if f.name != "mask_mode"]
    monkeypatch.setattr(manifest, "MANIFEST_SCHEMA", pa.schema(fields))
    with pytest.raises(ValueError, match="not manifest columns: mask_mode"):
        scan(planted, workers=1)


def test_the_builder_rejects_unknown_names_and_ragged_columns():
    with pytest.raises(ValueError, match="not manifest columns: bogus"):
        columns_to_table({"image_path": ["a.jpg"], "bogus": [1]})
    with pytest.raises(ValueError, match="different lengths"):
        columns_to_table({"image_path": ["a.jpg", "b.jpg"], "dataset": ["DIS-TR"]})


def test_the_builder_fills_missing_columns_with_nulls_by_name():
    table = columns_to_table({"dataset": ["DIS-TR"], "image_path": ["a.jpg"], "width": [7]})
    assert table.column_names == list(COLUMNS)
    row = table.to_pylist()[0]
    assert (row["image_path"], row["dataset"], row["width"]) == ("a.jpg", "DIS-TR", 7)
    assert row["height"] is None and row["sha1"] is None
    assert columns_to_table({}).num_rows == 0


def test_conform_table_orders_casts_and_fills_by_name():
    old = pa.table({"width": pa.array([3], pa.int64()), "image_path": ["a.jpg"], "unknown": [1]})
    table = conform_table(old)
    assert table.schema.equals(manifest.MANIFEST_SCHEMA)
    assert table.column("width").to_pylist() == [3] and table.column("image_path").to_pylist() == ["a.jpg"]
    assert table.column("height").to_pylist() == [None]


def test_manifest_bytes_depend_on_the_content_not_on_how_the_table_is_chunked(planted, tmp_path):
    # A scan's parts arrive in the order its workers finish; the file must not show it. Parquet's
    # encoding follows the chunks once a column's dictionary outgrows its page (~20,000 distinct paths).
    one = scan(planted).table
    table = pa.concat_tables([one] * (20_000 // one.num_rows + 1)).combine_chunks()
    paths = pa.array([f"DS/im/1#Accessories#6#Bag#{i:07d}_f722d1ef0b_o.jpg" for i in range(table.num_rows)])
    table = table.set_column(table.schema.get_field_index("image_path"), "image_path", paths)
    thirds = pa.concat_tables([table.slice(0, table.num_rows // 3), table.slice(table.num_rows // 3)])
    assert thirds.column(0).num_chunks == 2 and table.column(0).num_chunks == 1
    assert manifest.manifest_bytes(thirds) == manifest.manifest_bytes(table)
    written = manifest.write_manifest(thirds, tmp_path / "m.parquet")
    assert written.read_bytes() == manifest.manifest_bytes(table)
