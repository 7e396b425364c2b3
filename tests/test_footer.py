"""``_footer.key_value_metadata`` (a parquet footer's key-value metadata without pyarrow) against pyarrow."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dis_audit._footer import key_value_metadata
from dis_audit.manifest import (
    ManifestError,
    ManifestMeta,
    build_table,
    read_manifest_meta,
    with_findings,
    write_manifest,
)


def _pyarrow_metadata(path: Path) -> dict[bytes, bytes]:
    return dict(pq.read_schema(path).metadata or {})


def _manifest(path: Path, rows: int = 3, vocabulary: tuple[str, ...] = ("Bag", "Ball")) -> Path:
    columns = {
        "image_path": [f"ds/im/{i}.jpg" for i in range(rows)], "dataset": ["ds"] * rows, "difficulty": ["ds"] * rows,
        "class_id": [0] * rows, "label_status": ["ok"] * rows, "issues": [[] for _ in range(rows)],
    }
    table = build_table(columns, ManifestMeta(vocabulary=list(vocabulary), tool_version="x", root="/r"))
    return write_manifest(with_findings(table, [{"code": "DA101", "path": "ds/im/0.jpg"}]), path)


@pytest.mark.parametrize("rows", [0, 1, 5000])
def test_manifest_metadata_equals_pyarrow(tmp_path: Path, rows: int) -> None:
    path = _manifest(tmp_path / "m.parquet", rows, vocabulary=("Bag", "Bäll", "🚲"))
    found = key_value_metadata(path)
    assert found is not None
    expected = _pyarrow_metadata(path)
    assert {key: found[key] for key in expected} == expected
    assert read_manifest_meta(path).vocabulary == ["Bag", "Bäll", "🚲"]


def test_other_parquet_files_equal_pyarrow(tmp_path: Path) -> None:
    # Several row groups, statistics, dictionary pages, nested and boolean columns, a double and a map.
    table = pa.table({
        "a": pa.array(range(3000), pa.int64()), "b": pa.array([i % 2 == 0 for i in range(3000)]),
        "c": pa.array([f"s{i % 7}" for i in range(3000)]).dictionary_encode(),
        "d": pa.array([[1.5, 2.5]] * 3000, pa.list_(pa.float64())),
        "e": pa.array([{"k": 1}] * 3000, pa.map_(pa.string(), pa.int8())),
    }).replace_schema_metadata({b"x": b"1", b"empty": b""})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=700, compression="zstd")
    found = key_value_metadata(path)
    assert found is not None and found[b"x"] == b"1" and found[b"empty"] == b""
    expected = _pyarrow_metadata(path)
    assert {key: found[key] for key in expected} == expected
    pq.write_table(table.replace_schema_metadata(None), path, store_schema=False)
    assert key_value_metadata(path) in ({}, None)


def test_a_parquet_file_without_dis_audit_metadata_gets_pyarrows_message(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(ManifestError, match="not a dis-audit manifest"):
        read_manifest_meta(path)


def test_damaged_and_foreign_files_give_none_or_the_true_metadata(tmp_path: Path) -> None:
    path = _manifest(tmp_path / "m.parquet", 50)
    data = path.read_bytes()
    expected = _pyarrow_metadata(path)
    damaged = tmp_path / "d.parquet"
    rng = random.Random(0)
    cases = [data[:n] for n in range(0, len(data), max(1, len(data) // 97))]
    cases += [b"", b"PAR1", b"PAR1PAR1", b"PAR1" + b"\0" * 8 + b"PAR1", b"PAR1" + bytes(200) + b"\xff\xff\xff\x7fPAR1"]
    cases += [data[:-8] + b"\xff\xff\xff\xffPAR1", data[:-4] + b"PARE"]
    for _ in range(300):  # one to four bytes of the footer changed at random
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(max(0, len(buf) - 2000), len(buf) - 8)] = rng.randrange(256)
        cases.append(bytes(buf))
    for case in cases:
        damaged.write_bytes(case)
        found = key_value_metadata(damaged)  # never raises
        assert found is None or isinstance(found, dict)
        if case == data:
            assert found is not None and {k: found[k] for k in expected} == expected
    assert key_value_metadata(tmp_path / "missing.parquet") is None
    assert key_value_metadata(tmp_path) is None


def test_read_manifest_meta_messages_are_pyarrows_for_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(ManifestError, match="cannot read manifest"):
        read_manifest_meta(path)
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest_meta(tmp_path / "missing.parquet")
