"""Leaving a manifest in place when a scan would write it again with the same content.

``scan --incremental`` of an unchanged tree ends with the manifest it started from: the same
rows, the same metadata, the same findings. Encoding it again (zstd, ~0.1 s for 50,000 rows,
a tenth of such a scan) only to rename an identical file over the old one gains nothing.

``ManifestOnDisk`` notes what the scan read: the file's identity and times (taken *before*
the read, so any later change shows), its footer's serialized Arrow schema, which holds every
field (names, types, nullability, list item names) and the key-value metadata in order, its
writer and its codecs, and the rows as read. ``holds(table, path)`` answers whether writing
``table`` to ``path`` would give that file's content again: the same file, unchanged since,
written by this pyarrow with the manifest's codec, with the same schema and metadata and equal
rows. Then ``ScanResult.write_manifest`` leaves it. Any doubt (another file, a newer mtime, a
symlink, an older writer, a different column) means the plain atomic write.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

#: The footer key under which the parquet writer stores the Arrow schema (base64 IPC bytes).
ARROW_SCHEMA_KEY = b"ARROW:schema"
#: The codec ``manifest._write_parquet`` writes every column with.
MANIFEST_CODEC = "ZSTD"

_Identity = tuple[int, int, int, int, int, int]


def identity_of(path: str | os.PathLike) -> _Identity | None:
    """Device, inode, size, mtime and ctime (ns) and mode of a regular file (not a symlink); None otherwise."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


@dataclass(frozen=True)
class ManifestOnDisk:
    """A manifest file as a scan read it: enough to tell whether writing a table would reproduce it."""

    path: Path
    identity: _Identity
    #: The footer's serialized Arrow schema, fields and key-value metadata in one.
    arrow_schema: bytes
    #: Written by this pyarrow, every column with the manifest's codec.
    same_writer: bool
    #: The rows as read, in the manifest schema (``manifest.conform_table``).
    rows: pa.Table

    @classmethod
    def note(cls, path: str | os.PathLike, identity: _Identity | None, rows: pa.Table) -> ManifestOnDisk | None:
        """What ``path`` holds, given its ``identity_of`` taken before ``rows`` were read from it (None: no note)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if identity is None:
            return None
        try:
            footer = pq.read_metadata(path)
        except (OSError, pa.ArrowException):
            return None
        schema = (footer.metadata or {}).get(ARROW_SCHEMA_KEY)
        if schema is None or footer.num_rows != rows.num_rows:
            return None
        codecs = {
            footer.row_group(g).column(c).compression
            for g in range(footer.num_row_groups)
            for c in range(footer.num_columns)
        }
        same_writer = footer.created_by == f"parquet-cpp-arrow version {pa.__version__}" and codecs <= {MANIFEST_CODEC}
        return cls(Path(path), identity, schema, same_writer, rows)

    def holds(self, table: pa.Table, path: str | os.PathLike) -> bool:
        """Whether writing ``table`` (metadata and findings attached) to ``path`` would give this file's content."""
        if not self.same_writer or identity_of(path) != self.identity:
            return False
        # The file's identity (device, inode) is the noted one's: the same file under any name.
        serialized = base64.b64encode(table.schema.serialize().to_pybytes())
        return serialized == self.arrow_schema and table.equals(self.rows)
