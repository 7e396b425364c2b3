"""Incremental reuse: which rows of a previous manifest still describe the files on disk.

A row is reused when its image (and mask) have the same size and mtime and the row has no
findings; with the same scan fingerprint it is kept whole, otherwise its header facts are
passed to the evaluation so only the checks run again. The stat calls run in threads
(``probe.stat_many``); the comparison is done for all pairs at once.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Sequence
from itertools import repeat
from operator import eq, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from ._evaluate import Task
from ._lazy import lazy_module
from .arrowlists import ints_filled, ints_of, to_arrow, to_list
from .layout import PairTask
from .probe import STAT_NO_PATH, FileInfo, stat_many
from .rules import CROSS_FILE_CODES

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")


def clean_rows(old: pa.Table) -> list[bool]:
    """Per row: no issue codes besides cross-file ones (vectorised: this runs on every incremental scan)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    issues = old.column("issues").combine_chunks()
    flat = pc.list_flatten(issues)
    parents = pc.list_parent_indices(issues)
    other = pc.invert(pc.is_in(flat, value_set=to_arrow(sorted(CROSS_FILE_CODES), pa.string())))
    dirty = np.zeros(old.num_rows, dtype=bool)
    dirty[ints_of(pc.filter(parents, other))] = True
    return (~dirty).tolist()


def match_rows(
    root: str, pairs: Sequence[PairTask], index: dict[str, int] | ReuseIndex, old: pa.Table, workers: int,
    stats: tuple[array, array] | None = None,
) -> np.ndarray:
    """For each pair: the old row index when image and mask are unchanged on disk, else -1.

    ``index`` maps an old row's image path to its row (negative for a row that may not be reused; or
    a ``ReuseIndex``). A row
    matches when the mask path is the same and both files have the old size and mtime. Two stat
    calls a pair are the floor; everything else is done for all pairs at once (C-level maps and
    numpy), and the stat calls run in ``workers`` threads (``probe.stat_many``). ``stats``, when given,
    holds those calls' results for every pair, made beforehand (``_prelist.stat_pairs``).
    """
    n = len(pairs)
    if n == 0 or old.num_rows == 0:
        return np.full(n, -1, dtype=np.int64)
    image_paths = list(map(itemgetter(1), pairs))
    mask_paths = list(map(itemgetter(2), pairs))
    old_masks = to_list(old.column("mask_path"))
    if isinstance(index, ReuseIndex) and image_paths == index.paths:
        # The same images as before, in the same order (an unchanged tree): no lookup by path.
        rows = np.maximum(index.rows, -1)
        same_mask = np.ones(n, dtype=bool) if mask_paths == old_masks else np.fromiter(
            map(eq, old_masks, mask_paths), dtype=bool, count=n)
    else:
        by_path = index.by_path if isinstance(index, ReuseIndex) else index
        # Negative: no reusable row (-1 a new file, -2 - row a row with findings).
        rows = np.maximum(np.fromiter(map(by_path.get, image_paths, repeat(-1, n)), dtype=np.int64, count=n), -1)
        # rows of -1 pick the last old row here; they are dropped below whatever it holds.
        same_mask = np.fromiter(map(eq, map(old_masks.__getitem__, rows.tolist()), mask_paths), dtype=bool, count=n)
    candidates = np.flatnonzero((rows >= 0) & same_mask)
    picked = candidates.tolist()
    if stats is not None:
        # (size, mtime) rows of the candidates, flattened back to stat_many's layout.
        found = np.frombuffer(stats[0], dtype=np.int64).reshape(-1, 2)[candidates].ravel()
        found_masks = np.frombuffer(stats[1], dtype=np.int64).reshape(-1, 2)[candidates].ravel()
    else:
        prefix = f"{root}/"
        found = np.frombuffer(stat_many(prefix, [image_paths[k] for k in picked], workers), dtype=np.int64)
        found_masks = np.frombuffer(stat_many(prefix, [mask_paths[k] for k in picked], workers), dtype=np.int64)
    at = rows[candidates]
    # Nulls become a value no stat gives (sizes and sentinels are >= -2), so they never match.
    never = -3
    unchanged = (found[0::2] == ints_filled(old.column("file_size"), never)[at]) & (
        found[1::2] == ints_filled(old.column("mtime_ns"), never)[at]
    )
    mask_sizes, mask_mtimes = found_masks[0::2], found_masks[1::2]
    unchanged &= (mask_sizes == STAT_NO_PATH) | (
        (mask_sizes == ints_filled(old.column("mask_file_size"), never)[at])
        & (mask_mtimes == ints_filled(old.column("mask_mtime_ns"), never)[at])
    )
    matched = np.full(n, -1, dtype=np.int64)
    matched[candidates[unchanged]] = at[unchanged]
    return matched


class ReuseIndex:
    """The rows of an old manifest by image path: ``rows[i]`` is ``i``, or ``-2 - i`` for a row that
    may not be reused (it has findings).

    Cross-file codes (duplicates, class-area outliers) are recomputed on the whole table anyway,
    so they do not make a row dirty. Needs only the old manifest: the scan builds it while the
    folders are listed (``_prelist``). The dict by path is built only when the listing differs from
    the old rows' paths (an unchanged tree is matched row by row).
    """

    def __init__(self, old: pa.Table) -> None:
        self.paths: list[str] = to_list(old.column("image_path"))
        rows = np.arange(old.num_rows, dtype=np.int64)
        self.rows: np.ndarray = np.where(clean_rows(old), rows, -2 - rows)
        self._by_path: dict[str, int] | None = None
        # Strictly increasing, as a scan writes them: a few paths are then found by bisection.
        self._sorted = all(a < b for a, b in zip(self.paths, itertools.islice(self.paths, 1, None)))

    @property
    def by_path(self) -> dict[str, int]:
        """Image path -> ``rows`` value."""
        if self._by_path is None:
            # Built by dict(zip()) from numpy's values: no Python loop over the rows.
            self._by_path = dict(zip(self.paths, self.rows.tolist()))
        return self._by_path

    def row_of(self, paths: list[str]) -> np.ndarray:
        """The old row of each path, -1 where there is none (rows with findings included)."""
        if paths == self.paths:
            return np.arange(len(paths), dtype=np.int64)
        if self._sorted and len(paths) * 64 < len(self.paths):
            out = np.full(len(paths), -1, dtype=np.int64)
            for k, path in enumerate(paths):
                at = bisect.bisect_left(self.paths, path)
                if at < len(self.paths) and self.paths[at] == path:
                    out[k] = at
            return out
        found = map(self.by_path.get, paths, repeat(-1))
        return np.fromiter((row if row >= -1 else -2 - row for row in found), dtype=np.int64, count=len(paths))


def plan_reuse(
    root: Path, pairs: list[PairTask], old: pa.Table, same_fingerprint: bool, workers: int,
    stats: tuple[array, array] | None = None, index: ReuseIndex | None = None,
) -> tuple[list[int], list[Task]]:
    """Split pairs into old rows to keep as they are and tasks to evaluate (with prior header info).

    Only rows without findings are reused: the manifest keeps codes, not messages, so rows
    with findings are re-read to report them in full. ``stats``: see ``match_rows``;
    ``index``: ``ReuseIndex(old)``, made here when not given.
    """
    def col(name: str) -> list:
        return to_list(old.column(name))

    if index is None:
        index = ReuseIndex(old)
    rows = match_rows(str(root), pairs, index, old, workers, stats)
    if same_fingerprint:
        return rows[rows >= 0].tolist(), [(pairs[k], None, None) for k in np.flatnonzero(rows < 0).tolist()]
    matched = rows.tolist()
    keep: list[int] = []
    tasks: list[Task] = []
    sizes, mtimes, mask_sizes, mask_mtimes = col("file_size"), col("mtime_ns"), col("mask_file_size"), col("mask_mtime_ns")
    fmt, mode, w, h = col("image_format"), col("image_mode"), col("width"), col("height")
    mfmt, mmode, mw, mh = col("mask_format"), col("mask_mode"), col("mask_width"), col("mask_height")
    for pair, i in zip(pairs, matched):
        if i < 0:
            tasks.append((pair, None, None))
            continue
        image = FileInfo(sizes[i], mtimes[i], fmt[i], mode[i], w[i], h[i])
        mask = FileInfo(mask_sizes[i], mask_mtimes[i], mfmt[i], mmode[i], mw[i], mh[i]) if pair.mask_path else None
        tasks.append((pair, image, mask))
    return keep, tasks


def fold_rereads(
    old: pa.Table, index: ReuseIndex, keep: list[int], parts: list[pa.Table]
) -> tuple[list[int], list[pa.Table]]:
    """Old rows that the re-read rows (``parts``) repeat value for value, moved from ``parts`` to ``keep``.

    A row with findings is re-read on every incremental scan to report its findings in full, and
    usually comes back as it was. Keeping the old row instead gives the same table (the scan sorts
    rows by image path afterwards) without copying every kept row into a new one: when each old
    row is kept, the old table is the new one (``keep`` is then every row, in order). ``index`` is
    ``ReuseIndex(old)``.
    """
    import pyarrow as pa

    new = pa.concat_tables(parts) if parts else None
    if new is None or new.num_rows == 0 or old.num_rows == 0:
        return keep, parts
    # The old row of each new one by image path (-1: a new file); image paths are unique in both.
    at = index.row_of(to_list(new.column("image_path")))
    candidates = np.flatnonzero(at >= 0)
    if len(candidates) == 0:
        return keep, parts
    positions = at[candidates]
    # Row by row as Python values: few rows (those with findings); NaN never equals itself, so a
    # float NaN keeps its row as re-read, which is only slower.
    olds = old.take(to_arrow(positions, pa.int64())).select(new.column_names).to_pylist()
    news = new.take(to_arrow(candidates, pa.int64())).to_pylist()
    same = [i for i, (a, b) in enumerate(zip(news, olds, strict=True)) if a == b]
    if not same:
        return keep, parts
    folded = np.zeros(new.num_rows, dtype=bool)
    folded[candidates[same]] = True
    keep = sorted(keep + positions[same].tolist())
    rest = new.filter(to_arrow(~folded, pa.bool_()))
    return keep, [rest] if rest.num_rows else []
