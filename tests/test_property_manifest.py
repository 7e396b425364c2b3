"""Property tests of every reader of a manifest: generated metadata and column types never cause a traceback.

A valid manifest is scanned once; each example damages it (the `dis_audit` metadata replaced by
random JSON or one field of it retyped, one column replaced by values of another type or
dropped, the stored findings replaced) and runs every command that reads a manifest: report,
relabel, merge, classes, scan --incremental, rename, and ManifestDataset. Invariants: no traceback (only
a one-line error, exit 2, or a normal result); nothing outside ROOT changes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hardening import outside_world, run_cli, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from dis_audit.manifest import COLUMNS, FINDINGS_KEY, METADATA_KEY, ManifestError
from dis_audit.testing import make_pair

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
META_KEYS = ["vocabulary", "schema_version", "tool_version", "root", "options"]
OPTION_KEYS = ["datasets", "classes", "difficulty_map", "select", "ignore", "extended_classes", "deep",
               "listings", "eval_datasets", "near_dup_distance", "shard", "max_pixels", "fingerprint"]
COLUMN_VALUES = st.sampled_from([
    pa.array([2**40, -1]), pa.array(["x", "y"]), pa.array([1.5, None]), pa.array([True, False]),
    pa.array([None, None], pa.null()), pa.array([[1], []]), pa.array([b"\xff", b""]), pa.array([3, 4], pa.int8()),
])
DAMAGE = st.one_of(
    st.tuples(st.just("meta"), JSON),
    st.tuples(st.just("meta-key"), st.tuples(st.sampled_from(META_KEYS), JSON)),
    st.tuples(st.just("option"), st.tuples(st.sampled_from(OPTION_KEYS), JSON)),
    st.tuples(st.just("column"), st.tuples(st.sampled_from(COLUMNS), COLUMN_VALUES)),
    st.tuples(st.just("drop"), st.sampled_from(COLUMNS)),
    st.tuples(st.just("findings"), JSON),
)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    root = tmp_path_factory.mktemp("valid") / "ROOT"
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#a_o")
    make_pair(root, "DIS-TR", "1#Accessories#1#Bagg#b_o")
    assert run_cli("scan", root, "--workers", "1").code == 1
    return root


def _damage(table: pa.Table, kind: str, arg) -> pa.Table:
    metadata = dict(table.schema.metadata)
    if kind == "meta":
        metadata[METADATA_KEY] = json.dumps(arg).encode()
    elif kind in ("meta-key", "option"):
        data = json.loads(metadata[METADATA_KEY])
        key, value = arg
        (data if kind == "meta-key" else data["options"])[key] = value
        metadata[METADATA_KEY] = json.dumps(data).encode()
    elif kind == "findings":
        metadata[FINDINGS_KEY] = json.dumps(arg).encode()
    elif kind == "drop":
        table = table.drop_columns([arg])
    else:
        name, values = arg
        table = table.set_column(table.column_names.index(name), name, values)
    return table.replace_schema_metadata(metadata)


# Six commands per example (~1.5 s): a third of the profile's count keeps this test near 15 s in CI.
@settings(max_examples=max(5, settings().max_examples // 3))
@given(damage=DAMAGE)
def test_damaged_manifest_never_breaks_a_reader(scanned, damage):
    with tempfile.TemporaryDirectory() as tmp:
        parent = outside_world(Path(tmp))
        root = parent / "ROOT"
        shutil.copytree(scanned, root)
        manifest = root / "manifest.parquet"
        pq.write_table(_damage(pq.read_table(manifest), *damage), manifest)
        before = snapshot(parent, skip=b"ROOT")
        run_cli("report", manifest, "--html", root / "r.html", "--workers", "1")
        run_cli("relabel", root, "--manifest", manifest, "--class-from", "fuzzy")
        run_cli("merge", manifest, "-o", root / "merged.parquet")
        run_cli("classes", manifest, "--json")
        run_cli("rename", root, "--manifest", manifest, "--class-from", "fuzzy")
        run_cli("scan", root, "--incremental", "--manifest", root / "again.parquet", "--workers", "1")
        shutil.copy(manifest, root / "again.parquet")
        run_cli("scan", root, "--incremental", "--manifest", root / "again.parquet", "--workers", "1")
        try:
            from dis_audit.torch import ManifestDataset
        except ImportError:
            pass
        else:
            try:
                ManifestDataset(manifest, size=(8, 8))
            except ManifestError:
                pass
        assert snapshot(parent, skip=b"ROOT") == before
