"""The manifest: one parquet row per image file, the contract every other part reads.

The column names and types below are a public contract (training code, pandas, DuckDB and
other tools rely on them). Add columns at the end; never rename or retype one.
Everything a reader needs besides the rows (the ordered class vocabulary, the schema
version, the tool version, the scan options) travels in the parquet key-value metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._footer import key_value_metadata
from ._lazy import lazy_module
from .arrowlists import to_arrow
from .options import ListingRecord, ScanOptions  # noqa: F401 - ListingRecord re-exported: imported from here since 0.1
from .outputs import atomic_write
from .readback import ReadBackError, check_findings, check_manifest_metadata, check_table_columns

if TYPE_CHECKING:  # pandas is only needed by readers that ask for a DataFrame
    import pandas as pd
    import pyarrow as pa
else:  # imported on first use: see dis_audit._lazy
    pa = lazy_module("pyarrow")

SCHEMA_VERSION = 1
METADATA_KEY = b"dis_audit"
#: Every finding of the scan as a JSON list, so `dis-audit report` needs no other file.
FINDINGS_KEY = b"dis_audit_findings"

# The manifest columns (name, Arrow type, nullable), in order, in three groups. Add new columns at
# the end of the last group (readers and old manifests rely on the positions and names of the
# others). The Arrow schema, MANIFEST_SCHEMA, is built from them on first use: importing this
# module loads no pyarrow.
#: The documented contract: every manifest has these, every reader may rely on them.
_CONTRACT_FIELDS = [
    ("image_path", "string", False),
    ("mask_path", "string", True),
    ("dataset", "string", False),
    ("difficulty", "string", False),
    ("class_name", "string", True),
    ("class_id", "int32", False),
    ("label_status", "string", False),
    ("width", "int32", True),
    ("height", "int32", True),
    ("mask_width", "int32", True),
    ("mask_height", "int32", True),
    ("file_size", "int64", True),
    ("mtime_ns", "int64", True),
    ("issues", "list<string>", False),
]
#: Extras that make incremental scans and relabelling possible without re-reading files.
_HEADER_EXTRA_FIELDS = [
    ("class_field", "string", True),
    ("image_format", "string", True),
    ("image_mode", "string", True),
    ("mask_format", "string", True),
    ("mask_mode", "string", True),
    ("mask_file_size", "int64", True),
    ("mask_mtime_ns", "int64", True),
]
#: Filled by `scan --deep` (null otherwise).
_DEEP_FIELDS = [
    ("sha1", "string", True),
    ("phash", "uint64", True),
    ("fg_ratio", "float32", True),
    ("mask_kind", "string", True),
    ("dup_group", "int32", True),
    #: Mask–image agreement (``dis_audit.quality.MaskFit.score``): edge strength along the mask's outline
    #: over its median at other placements; ~1.0 = chance. Null when not measured.
    ("mask_edge_score", "float32", True),
]

_FIELDS = [*_CONTRACT_FIELDS, *_HEADER_EXTRA_FIELDS, *_DEEP_FIELDS]
COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _FIELDS)
#: The documented columns every manifest must have (the rest may be missing from old ones).
CONTRACT_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _CONTRACT_FIELDS)
#: Columns only a deep scan fills.
DEEP_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _DEEP_FIELDS)
#: Columns a deep scan fills per sample (``dup_group`` comes from the whole manifest).
SAMPLE_DEEP_COLUMNS: tuple[str, ...] = tuple(c for c in DEEP_COLUMNS if c != "dup_group")
#: Columns every scan fills from names and headers.
HEADER_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in DEEP_COLUMNS)
LABEL_OK = "ok"


def _manifest_schema() -> pa.Schema:
    """``MANIFEST_SCHEMA``, built at the first call (a test may replace the module attribute)."""
    schema = globals().get("MANIFEST_SCHEMA")
    if schema is None:
        schema = pa.schema([
            pa.field(name, pa.list_(pa.string()) if kind == "list<string>" else getattr(pa, kind)(), nullable=nullable)
            for name, kind, nullable in _FIELDS
        ])
        globals()["MANIFEST_SCHEMA"] = schema
    return schema


def __getattr__(name: str) -> Any:
    # ``manifest.MANIFEST_SCHEMA``, the Arrow schema of every manifest, made on first use.
    if name == "MANIFEST_SCHEMA":
        return _manifest_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ManifestError(Exception):
    """A manifest could not be read or written; the message says which file and why."""


@dataclass
class ManifestMeta:
    """What travels beside the rows in the parquet key-value metadata."""

    vocabulary: list[str]
    schema_version: int = SCHEMA_VERSION
    tool_version: str = ""
    root: str | None = None
    #: Hand-built metadata writes no options (``{}``), as before.
    options: ScanOptions = field(default_factory=lambda: ScanOptions(present=frozenset()))

    def __post_init__(self) -> None:
        # Metadata built by hand may give the options as the JSON object they are stored as.
        if isinstance(self.options, Mapping):
            self.options = ScanOptions.from_dict(self.options)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "schema_version": self.schema_version,
                "tool_version": self.tool_version,
                "vocabulary": list(self.vocabulary),
                "root": self.root,
                "options": self.options.to_dict(),
            },
            ensure_ascii=False,
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> ManifestMeta:
        return cls.from_dict(json.loads(raw.decode("utf-8")))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestMeta:
        """Metadata from its JSON object (``readback.check_manifest_metadata`` checks one read from disk)."""
        return cls(
            vocabulary=list(data.get("vocabulary", [])),
            schema_version=int(data.get("schema_version", 0)),
            tool_version=str(data.get("tool_version", "")),
            root=data.get("root"),
            options=ScanOptions.from_dict(data.get("options")),
        )


def empty_columns(names: tuple[str, ...] = HEADER_COLUMNS) -> dict[str, list]:
    """A dict of empty lists, one per column, for builders that append rows."""
    return {name: [] for name in names}


def columns_to_table(columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """A schema-conforming Arrow table (no metadata) from column lists keyed by column name.

    The one place rows become a manifest table: columns the schema has but ``columns`` lacks
    are null; a name the schema does not know, or columns of different lengths, raise ValueError
    (a builder out of step with the schema must fail, not shift values into the wrong column).
    """
    schema = _manifest_schema()
    unknown = [name for name in columns if schema.get_field_index(name) < 0]
    if unknown:
        raise ValueError(f"not manifest columns: {', '.join(unknown)} (add them to MANIFEST_SCHEMA first)")
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{name}={len(values)}" for name, values in columns.items())
        raise ValueError(f"manifest columns of different lengths: {sizes}")
    n = lengths.pop() if lengths else 0
    arrays = [
        to_arrow(columns[f.name], f.type) if f.name in columns else pa.nulls(n, type=f.type) for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def conform_table(table: pa.Table) -> pa.Table:
    """``table`` with exactly the manifest columns in schema order and types, metadata dropped.

    Columns the table lacks (a manifest written before they were added) become null; columns
    the schema does not know are dropped.
    """
    schema = _manifest_schema()
    arrays = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def build_table(columns: dict[str, list] | pa.Table, meta: ManifestMeta) -> pa.Table:
    """Make a schema-conforming Arrow table from column lists (or a table), with the metadata attached.

    Columns missing from ``columns`` are filled with nulls.
    """
    table = columns if isinstance(columns, pa.Table) else columns_to_table(columns)
    return table.replace_schema_metadata({METADATA_KEY: meta.to_bytes()})


def with_findings(table: pa.Table, findings: list[dict]) -> pa.Table:
    """Attach findings (as ``Finding.to_dict()`` dicts) to the table's metadata."""
    metadata = dict(table.schema.metadata or {})
    metadata[FINDINGS_KEY] = json.dumps(findings, ensure_ascii=True).encode("ascii")
    return table.replace_schema_metadata(metadata)


def read_findings(table: pa.Table) -> list[dict]:
    """The findings stored with a manifest (an empty list for manifests written without them)."""
    raw = (table.schema.metadata or {}).get(FINDINGS_KEY)
    try:
        return check_findings(raw, "manifest")
    except ReadBackError as exc:
        raise ManifestError(str(exc)) from None


def atomic_write_bytes(path: str | os.PathLike, writer: Callable[[str], object]) -> None:
    """Call ``writer(tmp_path)`` and move the result over ``path`` in one rename (see ``outputs.atomic_write``).

    A crash or an exception leaves either the old file or the new one, never half a file; a
    target that is not a regular file is refused; permissions follow the old file or the umask.
    """
    atomic_write(path, writer)


def _write_parquet(table: pa.Table, where: Any) -> None:
    import pyarrow.parquet as pq

    # Parquet pages follow the table's chunks: one chunk per column makes the bytes a function of the
    # content alone (a scan's parts arrive in the order the workers finish).
    pq.write_table(table.combine_chunks(), where, compression="zstd")


def manifest_bytes(table: pa.Table) -> bytes:
    """The bytes ``write_manifest`` writes for ``table``: the same for the same content, however it is chunked."""
    sink = pa.BufferOutputStream()
    _write_parquet(table, sink)
    return sink.getvalue().to_pybytes()


def write_manifest(table: pa.Table, path: str | os.PathLike) -> Path:
    """Write ``table`` as parquet to ``path`` atomically (temp file + rename)."""
    if METADATA_KEY not in (table.schema.metadata or {}):
        raise ManifestError("refusing to write a manifest without dis_audit metadata")
    try:
        atomic_write_bytes(path, lambda tmp: _write_parquet(table, tmp))
    except OSError as exc:
        raise ManifestError(f"cannot write manifest {path}: {exc.strerror or exc}") from exc
    return Path(path)


@contextmanager
def _reading(path: str | os.PathLike) -> Iterator[None]:
    """Turn a failure to read the manifest at ``path`` into a ManifestError that names it."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ManifestError(f"manifest not found: {path}") from exc
    except (OSError, pa.ArrowException) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc


def read_manifest_table(path: str | os.PathLike) -> tuple[pa.Table, ManifestMeta]:
    """Read a manifest as an Arrow table plus its metadata; checks the schema version."""
    import pyarrow.parquet as pq

    with _reading(path):
        # ParquetFile reads a single file as read_table does, without read_table's dataset layer
        # (which imports pandas, 0.3 s of every --incremental scan); a folder still goes the dataset way.
        if os.path.isfile(path):
            with pq.ParquetFile(path) as parquet:  # closed now: the scan replaces this file later
                table = parquet.read()
        else:
            table = pq.read_table(path)
    meta = _meta_of((table.schema.metadata or {}).get(METADATA_KEY), path)
    if meta.schema_version != SCHEMA_VERSION:
        raise ManifestError(
            f"{path}: manifest schema version {meta.schema_version}, this dis-audit reads version {SCHEMA_VERSION}; "
            "re-run `dis-audit scan` to rewrite it"
        )
    try:
        # Every reader (report, relabel, merge, --incremental, rename, ManifestDataset) gets the documented types.
        table = check_table_columns(table, _manifest_schema(), CONTRACT_COLUMNS, str(path))
    except ReadBackError as exc:
        raise ManifestError(str(exc)) from None
    return table, meta


def read_manifest_meta(path: str | os.PathLike) -> ManifestMeta:
    """Only the metadata of a manifest (vocabulary, options): reads the footer, not the rows."""
    # Read without pyarrow where the footer is plain (``_footer``), so a scan can import pyarrow
    # later, while it lists; any other file goes to pyarrow, which says what is wrong with it.
    raw = (key_value_metadata(path) or {}).get(METADATA_KEY)
    if raw is None:
        import pyarrow.parquet as pq

        with _reading(path):
            schema = pq.read_schema(path)
        raw = (schema.metadata or {}).get(METADATA_KEY)
    return _meta_of(raw, path)


def _meta_of(raw: bytes | None, path: str | os.PathLike) -> ManifestMeta:
    """The ``ManifestMeta`` of a manifest's stored metadata; ManifestError when it is missing or not valid."""
    if raw is None:
        raise ManifestError(f"{path} is a parquet file but not a dis-audit manifest (no '{METADATA_KEY.decode()}' metadata)")
    try:
        return ManifestMeta.from_dict(check_manifest_metadata(raw, str(path)))
    except ReadBackError as exc:
        raise ManifestError(str(exc)) from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ManifestError(f"{path}: dis-audit metadata is not valid: {exc}") from exc


def read_manifest(path: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    """Read a manifest into a pandas DataFrame and return it with the ordered vocabulary.

    ``vocabulary[class_id]`` is the class name of every row whose ``class_id`` is not -1.
    """
    import pandas as pd

    table, meta = read_manifest_table(path)
    # A uint64 column with nulls (phash) would become float64 in pandas and lose its low bits;
    # the nullable UInt64 dtype keeps every hash exact.
    return table.to_pandas(types_mapper={pa.uint64(): pd.UInt64Dtype()}.get), list(meta.vocabulary)


def other_root(meta: ManifestMeta, root: str | os.PathLike) -> str | None:
    """The root a manifest was scanned from when that is not ``root`` (None when they agree or it is unknown)."""
    if not meta.root:
        return None
    if os.path.realpath(meta.root) == os.path.realpath(root):
        return None
    return meta.root


def manifest_root(path: str | os.PathLike, meta: ManifestMeta) -> Path:
    """The dataset root a manifest's relative paths resolve against.

    The scan records the absolute root; when that folder is gone (the tree was moved),
    the manifest's own folder is the next best guess, since scan writes it there by default.
    """
    if meta.root and Path(meta.root).is_dir():
        return Path(meta.root)
    return Path(path).resolve().parent
