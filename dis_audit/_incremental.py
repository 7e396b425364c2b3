"""Incremental reuse: which rows of a previous manifest still describe the files on disk.

A row is reused when its image (and mask) have the same size and mtime and the row has no
findings; with the same scan fingerprint it is kept whole, otherwise its header facts are
passed to the evaluation so only the checks run again. The stat calls run in forked workers
for large trees.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ._evaluate import Task
from ._pool import PARALLEL_THRESHOLD, pool_results
from .arrowlists import ints_of, to_arrow, to_list
from .layout import PairTask
from .probe import FileInfo
from .rules import CROSS_FILE_CODES

if TYPE_CHECKING:
    import pyarrow as pa


def clean_rows(old: pa.Table) -> list[bool]:
    """Per row: no issue codes besides cross-file ones (vectorised: this runs on every incremental scan)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    issues = old.column("issues").combine_chunks()
    flat = pc.list_flatten(issues)
    parents = pc.list_parent_indices(issues)
    other = pc.invert(pc.is_in(flat, value_set=to_arrow(sorted(CROSS_FILE_CODES), pa.string())))
    dirty = np.zeros(old.num_rows, dtype=bool)
    dirty[ints_of(pc.filter(parents, other))] = True
    return (~dirty).tolist()


# Under fork, the stat workers inherit what they compare against.
_FORKED_STAT_INPUT: tuple | None = None


def _match_unchanged(bounds: tuple[int, int]) -> list[int]:
    """For pairs[start:stop]: the old row index when image and mask are unchanged on disk, else -1."""
    assert _FORKED_STAT_INPUT is not None
    root, pairs, index, mask_paths, sizes, mtimes, mask_sizes, mask_mtimes = _FORKED_STAT_INPUT
    out: list[int] = []
    append = out.append
    stat = os.stat
    prefix = f"{root}/"
    # Two stat calls a pair are the floor; the rest of the loop is kept to plain tuple, list and
    # dict operations (no attribute look-ups), since it runs for every file of an incremental scan.
    for _, image_path, mask_path, _ in pairs[bounds[0] : bounds[1]]:
        i = index.get(image_path, -1)
        if i < 0 or mask_paths[i] != mask_path:
            append(-1)
            continue
        try:
            st = stat(prefix + image_path)
            if st.st_size != sizes[i] or st.st_mtime_ns != mtimes[i]:
                i = -1
            elif mask_path is not None:
                st = stat(prefix + mask_path)
                if st.st_size != mask_sizes[i] or st.st_mtime_ns != mask_mtimes[i]:
                    i = -1
        except OSError:
            i = -1
        append(i)
    return out


def _match_unchanged_part(bounds: tuple[int, int]) -> tuple[int, list[int]]:
    return bounds[0], _match_unchanged(bounds)


def plan_reuse(
    root: Path, pairs: list[PairTask], old: pa.Table, same_fingerprint: bool, workers: int
) -> tuple[list[int], list[Task]]:
    """Split pairs into old rows to keep as they are and tasks to evaluate (with prior header info).

    Only rows without findings are reused: the manifest keeps codes, not messages, so rows
    with findings are re-read to report them in full.
    """
    def col(name: str) -> list:
        return to_list(old.column(name))

    global _FORKED_STAT_INPUT
    paths = col("image_path")
    # Cross-file codes (duplicates, class-area outliers) are recomputed on the whole table anyway,
    # so they do not make a row dirty.
    clean = clean_rows(old)
    sizes, mtimes, mask_sizes, mask_mtimes = col("file_size"), col("mtime_ns"), col("mask_file_size"), col("mask_mtime_ns")
    # A row that cannot be reused (not clean) is indexed as -1, as a path the old manifest lacks.
    _FORKED_STAT_INPUT = (
        str(root), pairs, {p: i if ok else -1 for i, (p, ok) in enumerate(zip(paths, clean))}, col("mask_path"),
        sizes, mtimes, mask_sizes, mask_mtimes,
    )
    try:
        n = len(pairs)
        if workers > 1 and n >= PARALLEL_THRESHOLD and "fork" in multiprocessing.get_all_start_methods():
            step = -(-n // (workers * 4))
            bounds = [(i, min(i + step, n)) for i in range(0, n, step)]
            # Results come back as they complete; each part is keyed by its start to restore order.
            by_start = dict(pool_results(workers, "fork", None, _match_unchanged_part, bounds))
            matched = [i for start, _ in bounds for i in by_start[start]]
        else:
            matched = _match_unchanged((0, n))
    finally:
        _FORKED_STAT_INPUT = None
    keep: list[int] = []
    tasks: list[Task] = []
    if same_fingerprint:
        for pair, i in zip(pairs, matched):
            if i < 0:
                tasks.append((pair, None, None))
            else:
                keep.append(i)
        return keep, tasks
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
