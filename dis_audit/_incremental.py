"""Incremental reuse: which rows of a previous manifest still describe the files on disk.

A row is reused when its image (and mask) have the same size and mtime and the row has no
findings; with the same scan fingerprint it is kept whole, otherwise its header facts are
passed to the evaluation so only the checks run again. The stat calls run in threads
(``probe.stat_many``); the comparison is done for all pairs at once.
"""

from __future__ import annotations

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
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")

if TYPE_CHECKING:
    import pyarrow as pa


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


def match_unchanged(
    root: str, pairs: Sequence[PairTask], index: dict[str, int], old: pa.Table, workers: int,
    stats: tuple[array, array] | None = None,
) -> list[int]:
    """For each pair: the old row index when image and mask are unchanged on disk, else -1.

    ``index`` maps an old row's image path to its row (-1 for a row that may not be reused). A row
    matches when the mask path is the same and both files have the old size and mtime. Two stat
    calls a pair are the floor; everything else is done for all pairs at once (C-level maps and
    numpy), and the stat calls run in ``workers`` threads (``probe.stat_many``). ``stats``, when given,
    holds those calls' results for every pair, made beforehand (``_prelist.stat_pairs``).
    """
    n = len(pairs)
    if n == 0 or old.num_rows == 0:
        return [-1] * n
    image_paths = list(map(itemgetter(1), pairs))
    mask_paths = list(map(itemgetter(2), pairs))
    rows = np.fromiter(map(index.get, image_paths, repeat(-1, n)), dtype=np.int64, count=n)
    old_masks = to_list(old.column("mask_path"))
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
    return matched.tolist()


def reuse_index(old: pa.Table) -> dict[str, int]:
    """Image path -> row of ``old``, or -1 for a row that may not be reused (it has findings).

    Cross-file codes (duplicates, class-area outliers) are recomputed on the whole table anyway,
    so they do not make a row dirty. Needs only the old manifest: the scan builds it while the
    folders are listed (``_prelist``).
    """
    clean = clean_rows(old)
    return {p: i if ok else -1 for i, (p, ok) in enumerate(zip(to_list(old.column("image_path")), clean))}


def plan_reuse(
    root: Path, pairs: list[PairTask], old: pa.Table, same_fingerprint: bool, workers: int,
    stats: tuple[array, array] | None = None, index: dict[str, int] | None = None,
) -> tuple[list[int], list[Task]]:
    """Split pairs into old rows to keep as they are and tasks to evaluate (with prior header info).

    Only rows without findings are reused: the manifest keeps codes, not messages, so rows
    with findings are re-read to report them in full. ``stats``: see ``match_unchanged``;
    ``index``: ``reuse_index(old)``, made here when not given.
    """
    def col(name: str) -> list:
        return to_list(old.column(name))

    if index is None:
        index = reuse_index(old)
    matched = match_unchanged(str(root), pairs, index, old, workers, stats)
    keep: list[int] = []
    tasks: list[Task] = []
    if same_fingerprint:
        for pair, i in zip(pairs, matched):
            if i < 0:
                tasks.append((pair, None, None))
            else:
                keep.append(i)
        return keep, tasks
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
