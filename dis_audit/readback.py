"""The one validation layer for everything dis-audit reads back from disk.

Manifests (their parquet columns and key-value metadata, the findings stored with them),
rename journals (header, move and progress records) and manifest backups are files a person
or another program can edit, truncate or replace. Each reader hands what it parsed to a
function here before using it; a wrong shape or type raises ``ReadBackError`` with the file
and the field, never a ``KeyError``/``TypeError`` deep inside a command. Paths found in such
files go through ``paths.check_relative_path`` like paths in map and plan files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module
from .paths import UnsafePathError, check_relative_path

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported on first use: see dis_audit._lazy
    pa = lazy_module("pyarrow")

__all__ = [
    "ReadBackError", "check_backup_name", "check_findings", "check_journal_header", "check_journal_record",
    "check_manifest_metadata", "check_table_columns",
]


class ReadBackError(ValueError):
    """Something read back from disk has the wrong shape or type; the message says where and what."""


def _expect(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise ReadBackError(f"{where}: {message}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# ----------------------------------------------------------------------------- manifests

#: Option keys whose stored value must be a list of strings (when present and not null).
_LIST_OPTIONS = ("select", "ignore", "extended_classes", "eval_datasets")
_STR_OPTIONS = ("image_dir", "mask_dir", "classes", "fingerprint", "shard")
_INT_OPTIONS = ("max_pixels", "near_dup_distance", "merged_from")


def check_manifest_metadata(raw: bytes, where: str) -> dict[str, Any]:
    """The ``dis_audit`` metadata JSON object, checked field by field; raises ReadBackError."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReadBackError(f"{where}: dis-audit metadata is not JSON: {exc}") from None
    _expect(isinstance(data, dict), where, "dis-audit metadata is not a JSON object")
    _expect(_str_list(data.get("vocabulary", [])), where, "metadata 'vocabulary' is not a list of class names")
    _expect(_is_int(data.get("schema_version", 0)), where, "metadata 'schema_version' is not an integer")
    _expect(isinstance(data.get("tool_version", ""), str), where, "metadata 'tool_version' is not text")
    _expect(data.get("root") is None or isinstance(data["root"], str), where, "metadata 'root' is not text")
    options = data.get("options")
    _expect(options is None or isinstance(options, dict), where, "metadata 'options' is not a JSON object")
    for key, value in (options or {}).items():
        if value is None:
            continue
        bad = (
            (key in _LIST_OPTIONS and not _str_list(value))
            or (key in _STR_OPTIONS and not isinstance(value, str))
            or (key in _INT_OPTIONS and not _is_int(value))
            or (key in ("extend_vocab", "deep") and not isinstance(value, bool))
            or (key == "datasets" and not (isinstance(value, str) or _str_list(value)))
            or (key in ("difficulty_map", "relabel") and not isinstance(value, dict))
            or (key == "listings" and not (isinstance(value, list) and all(isinstance(i, dict) for i in value)))
        )
        _expect(not bad, where, f"metadata option {key!r} has the wrong type ({type(value).__name__})")
    for item in options.get("listings") or () if options else ():
        clutter = item.get("clutter", 0)
        _expect(clutter is None or _is_int(clutter), where, "metadata listing 'clutter' is not an integer")
    return data


def check_table_columns(table: pa.Table, schema: pa.Schema, required: tuple[str, ...], where: str) -> pa.Table:
    """``table`` with every column ``schema`` knows cast to its type; raises ReadBackError.

    A missing required column, a column that cannot be cast (text where a number belongs, a
    value too large for an int32 column) and nulls in a column the schema makes non-nullable
    are refused. Columns the schema does not know are kept as they are.
    """
    missing = [name for name in required if name not in table.column_names]
    _expect(not missing, where, f"manifest lacks columns {', '.join(missing)}")
    if len(set(table.column_names)) != len(table.column_names):
        raise ReadBackError(f"{where}: manifest has duplicate column names")
    for field in schema:
        if field.name not in table.column_names:
            continue
        index = table.column_names.index(field.name)
        column = table.column(index)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise ReadBackError(
                    f"{where}: column {field.name!r} is {table.column(index).type}, expected {field.type} ({exc})"
                ) from None
            table = table.set_column(index, pa.field(field.name, field.type, field.nullable), column)
        if not field.nullable and column.null_count:
            raise ReadBackError(f"{where}: column {field.name!r} has {column.null_count} empty value(s)")
    return table


def check_findings(raw: bytes | None, where: str) -> list[dict[str, Any]]:
    """Findings stored with a manifest: a JSON list of objects with text ``code`` and ``path``."""
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReadBackError(f"{where}: stored findings are not JSON: {exc}") from None
    _expect(isinstance(data, list), where, "stored findings are not a JSON list")
    for item in data:
        _expect(isinstance(item, dict), where, "a stored finding is not a JSON object")
        for key in ("code", "path", "message", "severity", "dataset"):
            value = item.get(key)
            _expect(value is None or isinstance(value, str), where, f"a stored finding's {key!r} is not text")
        _expect(isinstance(item.get("code"), str), where, "a stored finding has no rule code")
    return data


# ----------------------------------------------------------------------------- rename journals

def check_journal_header(record: Mapping[str, Any], where: str) -> None:
    """The first record of a journal: counts, manifest fields and extended classes of the right type."""
    _expect(_is_int(record.get("count")) and record["count"] >= 0, where, "header 'count' is not a count")
    _expect(_str_list(record.get("extended") or []), where, "header 'extended' is not a list of class names")
    manifest = record.get("manifest")
    _expect(manifest is None or (isinstance(manifest, str) and bool(manifest)), where,
            "header 'manifest' is not a path")
    if manifest:
        check_backup_name(record.get("manifest_backup"), where)
        digest = record.get("manifest_sha256")
        _expect(digest is None or isinstance(digest, str), where, "header 'manifest_sha256' is not text")


def check_backup_name(name: object, where: str) -> str:
    """A manifest backup is a plain file name inside the journal folder, nothing else."""
    try:
        check_relative_path(name, "manifest backup")  # type: ignore[arg-type]
    except UnsafePathError as exc:
        raise ReadBackError(f"{where}: {exc}") from None
    _expect(isinstance(name, str) and "/" not in name, where, f"manifest backup {name!r} is not a file name")
    return str(name)


#: Progress records and the integer field each carries.
_COUNT_FIELDS = {"done": "upto", "undo-done": "count"}
_KNOWN_RECORDS = frozenset({"done", "complete", "manifest", "undo-done", "undone"})


def check_journal_record(record: object, where: str, moves: int | None) -> tuple[str, Any]:
    """One journal line after the header: ``("move", (src, dst))`` or ``(kind, record)``.

    ``moves`` is the planned count once the plan is complete (progress counts must not exceed
    it), ``None`` while move records are still being read. Paths are checked exactly as plan
    paths are: relative, no ``..``, no control characters.
    """
    _expect(isinstance(record, dict), where, "a journal record is not a JSON object")
    assert isinstance(record, dict)
    kind = record.get("type")
    if kind == "move":
        src, dst = record.get("src"), record.get("dst")
        if not (isinstance(src, str) and isinstance(dst, str)):
            raise ReadBackError(f"{where}: a move record lacks 'src'/'dst' text")
        try:
            check_relative_path(src, "journal source")
            check_relative_path(dst, "journal target")
        except UnsafePathError as exc:
            raise ReadBackError(f"{where}: {exc}") from None
        return "move", (src, dst)
    if kind == "planned":
        return "planned", record
    _expect(kind in _KNOWN_RECORDS, where, f"unknown journal record type {kind!r}")
    key = _COUNT_FIELDS.get(str(kind))
    if key is not None:
        value = record.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise ReadBackError(f"{where}: {kind!r} record's {key!r} is not a count")
        _expect(moves is None or value <= moves, where, f"{kind!r} record counts {value} of {moves} moves")
    if kind == "manifest":
        _expect(isinstance(record.get("sha256"), (str, type(None))), where, "'manifest' record's sha256 is not text")
    return str(kind), record
