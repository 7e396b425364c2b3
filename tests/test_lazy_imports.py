"""``import dis_audit`` and the CLI's start load no pyarrow, numpy or pandas (``dis_audit._lazy``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dis_audit._lazy import LazyModule, lazy_module

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pyarrow", "numpy", "pandas")


def _loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": ""})
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import dis_audit",
    "import dis_audit.cli, dis_audit.cli.scan, dis_audit.cli._fastpath",
    "import dis_audit.scan, dis_audit.manifest, dis_audit._incremental, dis_audit._pool, dis_audit.summary",
    "from dis_audit.manifest import COLUMNS, CONTRACT_COLUMNS, ScanOptions",
])
def test_imports_load_no_heavy_module(code: str) -> None:
    assert _loaded_after(code) == []


def test_the_scan_loads_pyarrow_when_it_builds_the_table(tmp_path: Path) -> None:
    # The check above must be able to fail: the same probe sees pyarrow once a table is built.
    assert "pyarrow" in _loaded_after("from dis_audit import manifest\nmanifest.MANIFEST_SCHEMA")


def test_lazy_module_imports_on_first_use_and_keeps_the_value() -> None:
    json_module = lazy_module("json")
    assert isinstance(json_module, LazyModule) and "json" in repr(json_module)
    assert json_module.dumps is json.dumps
    assert "dumps" in vars(json_module)  # the next look-up is a plain attribute
    with pytest.raises(AttributeError):
        json_module.no_such_name  # noqa: B018


def test_lazy_module_of_a_missing_module_raises_on_use_not_on_creation() -> None:
    missing = lazy_module("dis_audit_no_such_module")
    with pytest.raises(ModuleNotFoundError):
        missing.anything  # noqa: B018


def test_manifest_schema_is_built_once_from_the_column_table() -> None:
    from dis_audit import manifest

    schema = manifest.MANIFEST_SCHEMA
    assert manifest.MANIFEST_SCHEMA is schema
    assert tuple(schema.names) == manifest.COLUMNS
    assert [f.name for f in schema if not f.nullable] == [
        "image_path", "dataset", "difficulty", "class_id", "label_status", "issues"]
    assert str(schema.field("issues").type) == "list<item: string>"
