"""The cache index: parquet files keyed by source path, training size and recipe.

One row per entry: the manifest's image and mask paths, the size, the format and settings
(recipe, JPEG quality), the size and mtime of both source files when the entry was built, and
the entry's name (a hash of all of these, so an entry for changed sources never shares a name
with the old one). ``index.parquet`` is written by whole builds, ``index.shard-i-of-N.parquet``
by ``--shard i/N`` builds, so shards running at once never write the same file; readers take
the union and, per (image, size, settings), the most recently built row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..manifest import atomic_write_bytes
from ._entry import FORMATS, RECIPE

INDEX_SCHEMA = pa.schema(
    [
        pa.field("image_path", pa.string(), nullable=False),
        pa.field("mask_path", pa.string(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("settings", pa.string(), nullable=False),
        pa.field("image_size", pa.int64(), nullable=False),
        pa.field("image_mtime_ns", pa.int64(), nullable=False),
        pa.field("mask_size", pa.int64(), nullable=False),
        pa.field("mask_mtime_ns", pa.int64(), nullable=False),
        pa.field("entry", pa.string(), nullable=False),
        pa.field("built_ns", pa.int64(), nullable=False),
    ]
)
INDEX_NAME = "index.parquet"
ENTRIES = "entries"


class CacheError(Exception):
    """A cache cannot be planned, built or read; the message says why."""


@dataclass(frozen=True)
class CacheSettings:
    """What an entry is made with: size (w, h), format and JPEG quality."""

    width: int
    height: int
    format: str = "jpeg"
    quality: int = 95

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise CacheError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.width < 1 or self.height < 1:
            raise CacheError(f"size must be positive, got {self.width},{self.height}")
        if not 1 <= self.quality <= 100:
            raise CacheError(f"JPEG quality must be 1..100, got {self.quality}")

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def settings(self) -> str:
        """The recipe string stored in the index: entries match only under identical settings."""
        if self.format != "jpeg":
            return f"{RECIPE};format={self.format}"
        return f"{RECIPE};format=jpeg;q={self.quality};mask=msk"

    @property
    def legacy_settings(self) -> str | None:
        """The settings of the same entries as built before the ``.msk`` mask (a PNG mask); None for raw."""
        return f"{RECIPE};format=jpeg;q={self.quality}" if self.format == "jpeg" else None


def entry_name(
    image_path: str, mask_path: str, settings: CacheSettings, image_stat: tuple[int, int], mask_stat: tuple[int, int]
) -> str:
    """A stable name for the entry of these sources (path, size, mtime) at these settings."""
    key = "\0".join(
        [image_path, mask_path, str(settings.width), str(settings.height), settings.settings,
         *(str(v) for v in (*image_stat, *mask_stat))]
    )
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def entry_base(cache_dir: Path, entry: str) -> Path:
    """Path of an entry without suffix; two hex digits of fan-out keep folders small."""
    return cache_dir / ENTRIES / entry[:2] / entry


def shard_index_name(shard: tuple[int, int] | None) -> str:
    return INDEX_NAME if shard is None else f"index.shard-{shard[0]}-of-{shard[1]}.parquet"


def index_files(cache_dir: Path) -> list[Path]:
    return sorted(p for p in cache_dir.glob("index*.parquet") if p.is_file())


def read_index(cache_dir: Path) -> pa.Table:
    """All index rows of ``cache_dir`` (every part), the newest row per (image, size, settings)."""
    import pyarrow.parquet as pq

    parts = []
    for path in index_files(cache_dir):
        try:
            parts.append(pq.read_table(path, schema=INDEX_SCHEMA))
        except (OSError, pa.ArrowException) as exc:
            raise CacheError(f"cannot read cache index {path}: {exc}") from exc
    if not parts:
        return INDEX_SCHEMA.empty_table()
    return newest_per_key(pa.concat_tables(parts))


def newest_per_key(table: pa.Table) -> pa.Table:
    """Keep, per (image_path, width, height, settings), the row built last."""
    if table.num_rows == 0:
        return table
    order = table.sort_by([("built_ns", "descending")])
    seen: set[tuple] = set()
    keep = []
    cols = [order[c].to_pylist() for c in ("image_path", "width", "height", "settings")]
    for i, key in enumerate(zip(*cols)):
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return order.take(pa.array(keep, pa.int64()))


def write_index(cache_dir: Path, name: str, rows: Iterable[pa.Table]) -> Path:
    """Write the index part ``name`` atomically from the given row tables."""
    import pyarrow.parquet as pq

    table = pa.concat_tables([t.select(INDEX_SCHEMA.names).cast(INDEX_SCHEMA) for t in rows] or [INDEX_SCHEMA.empty_table()])
    path = cache_dir / name
    try:
        atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    except OSError as exc:
        raise CacheError(f"cannot write cache index {path}: {exc.strerror or exc}") from exc
    return path
