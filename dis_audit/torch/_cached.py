"""``ManifestDataset(cache=DIR)``: which samples have a fresh cache entry, and reading it.

The index rows for the Dataset's size are aligned to its samples once, into numpy arrays and
packed strings (nothing per sample that forked workers would copy). Freshness is decided per
item from the source files themselves: an entry is used only while both files still have the
size and mtime they had when it was built, so an edited image is never served from the cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dis_audit.cache import (
    CacheError,
    entry_base,
    read_encoded_image,
    read_entry,
    read_entry_mask,
    read_index,
)

from ._packed import PackedStrings


class CacheLookup:
    """Per-sample cache entries of one size, aligned to the Dataset's rows."""

    def __init__(self, cache_dir: str | os.PathLike, image_paths: pa.ChunkedArray, mask_paths: pa.ChunkedArray,
                 size: tuple[int, int]) -> None:
        self.cache_dir = Path(cache_dir)
        if not self.cache_dir.is_dir():
            raise CacheError(f"cache folder not found: {self.cache_dir} (build it with `dis-audit cache`)")
        index = read_index(self.cache_dir)
        if index.num_rows == 0:
            raise CacheError(f"{self.cache_dir} holds no cache index (build it with `dis-audit cache`)")
        index = index.filter(pc.and_(pc.equal(index["width"], size[0]), pc.equal(index["height"], size[1])))
        self.sizes_missing = index.num_rows == 0
        if self.sizes_missing:  # every sample falls back; nothing to align
            self.present = np.zeros(len(image_paths), dtype=bool)
            self._raw, self._stats = self.present, np.zeros((0, 4), dtype=np.int64)
            self._entries = PackedStrings.from_strings([])
            return
        # Raw entries first (fastest to read), then the most recently built.
        index = index.append_column("raw", pc.equal(index["format"], "raw"))
        index = index.sort_by([("raw", "descending"), ("built_ns", "descending")])
        first = pc.index_in(image_paths, value_set=index["image_path"])  # the first match = preferred row
        pos = pc.fill_null(first, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        has = pos >= 0
        taken = index.take(pa.array(np.where(has, pos, 0)))
        same_mask = pc.fill_null(pc.equal(taken["mask_path"].combine_chunks(), mask_paths.combine_chunks()), False)
        has &= same_mask.to_numpy(zero_copy_only=False)
        self.present = has
        self._raw = taken["raw"].to_numpy(zero_copy_only=False)
        self._stats = np.stack(
            [taken[c].to_numpy() for c in ("image_size", "image_mtime_ns", "mask_size", "mask_mtime_ns")], axis=1
        )
        self._entries = PackedStrings.from_arrow(taken["entry"])

    def fresh(self, index: int, image: Path, mask: Path) -> tuple[Path, bool] | None:
        """``(entry base, is_raw)`` when sample ``index`` has an entry built from these very files."""
        if not self.present[index]:
            return None
        try:
            si, sm = os.stat(image), os.stat(mask)
        except OSError:
            return None
        want = self._stats[index]
        if (si.st_size, si.st_mtime_ns, sm.st_size, sm.st_mtime_ns) != tuple(want.tolist()):
            return None
        name = self._entries[index]
        assert name is not None
        return entry_base(self.cache_dir, name), bool(self._raw[index])

    @staticmethod
    def read(base: Path, raw: bool) -> tuple[np.ndarray, np.ndarray]:
        """Image uint8 C×H×W and mask uint8 H×W of an entry."""
        return read_entry(base, "raw" if raw else "jpeg")

    @staticmethod
    def encoded(base: Path) -> tuple[bytes, np.ndarray]:
        """A ``jpeg`` entry's encoded image (for GPU decoding) and its mask."""
        return read_encoded_image(base), read_entry_mask(base, "jpeg")
