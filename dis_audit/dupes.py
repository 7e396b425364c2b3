"""Exact and near-duplicate groups over a whole manifest, without comparing every pair.

Two images belong to one group when their file bytes are identical (same ``sha1``) or their
64-bit perceptual hashes differ in at most ``max_distance`` bits; groups are the connected
components of those links (so a chain A~B~C is one group even when A and C are further apart).

Near pairs are found by multi-index hashing: each hash is cut into four 16-bit blocks. If two
hashes differ in at most ``d`` bits, then (pigeonhole) some block differs in at most
``d // 4`` bits, so probing every block's bucket and its neighbours within that radius finds
every pair within ``d`` and only compares hashes that share a nearly equal block. All of it is
numpy over whole arrays; the Python loops run over the 4 blocks and the few probe masks, never
over images.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

from ._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")


#: Default largest pHash Hamming distance (of 64 bits) that still counts as a near duplicate.
#: Re-encoding at another JPEG quality or resizing moves a DCT hash by 0-4 bits; unrelated photos
#: differ by about 32 bits, and fewer than one pair in a million of them comes within 6.
DEFAULT_MAX_DISTANCE = 6
BLOCKS = 4
BLOCK_BITS = 64 // BLOCKS
_BLOCK_MASK = (1 << BLOCK_BITS) - 1


def _flip_masks(radius: int) -> np.ndarray:
    """Every 16-bit value with at most ``radius`` bits set (the probes of one block)."""
    masks = [0]
    for r in range(1, radius + 1):
        for bits in combinations(range(BLOCK_BITS), r):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def near_pairs(hashes: np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, of ``hashes`` (uint64) within ``max_distance`` bits.

    Pairs may repeat (found through several blocks); callers that build groups do not mind.
    Cost grows with the probes per block (17 up to distance 7, 137 up to 11) and with how full
    the buckets are, not with the square of the number of hashes.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    if n < 2 or max_distance < 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    probes = _flip_masks(max_distance // BLOCKS)
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    for block in range(BLOCKS):
        keys = ((hashes >> np.uint64(block * BLOCK_BITS)) & np.uint64(_BLOCK_MASK)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        for flip in probes:
            query = keys ^ flip
            lo = np.searchsorted(sorted_keys, query, side="left")
            hi = np.searchsorted(sorted_keys, query, side="right")
            counts = hi - lo
            total = int(counts.sum())
            if total == 0:
                continue
            # Expand each query's bucket range [lo, hi) into candidate pairs, vectorised.
            left = np.repeat(np.arange(n, dtype=np.int64), counts)
            starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            right = order[starts + np.arange(total, dtype=np.int64)]
            keep = left < right
            left, right = left[keep], right[keep]
            dist = np.bitwise_count(hashes[left] ^ hashes[right])
            close = dist <= max_distance
            found_i.append(left[close])
            found_j.append(right[close])
    if not found_i:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(found_i), np.concatenate(found_j)


def components(n: int, edges_i: np.ndarray, edges_j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes: the smallest node index in its component."""
    parent = np.arange(n, dtype=np.int64)
    edges_i = np.asarray(edges_i, dtype=np.int64)
    edges_j = np.asarray(edges_j, dtype=np.int64)
    while True:
        # Pointer jumping until every node points at its root.
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        ri, rj = parent[edges_i], parent[edges_j]
        differ = ri != rj
        if not differ.any():
            return parent
        ri, rj = ri[differ], rj[differ]
        edges_i, edges_j = edges_i[differ], edges_j[differ]
        # Hook the larger root under the smaller one; roots only ever decrease, so no cycles.
        np.minimum.at(parent, np.maximum(ri, rj), np.minimum(ri, rj))


def group_rows(
    sha1: Sequence[str | None], phash: Sequence[int | None], max_distance: int = DEFAULT_MAX_DISTANCE
) -> np.ndarray:
    """Duplicate group id per row (int32, -1 for a row without duplicates).

    Ids are numbered 0, 1, ... in the order of each group's first row, so a manifest sorted by
    ``image_path`` gets the same ids however it was produced (single scan or merged shards).
    """
    n = len(sha1)
    edges_i: list[np.ndarray] = []
    edges_j: list[np.ndarray] = []

    def link_equal(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Link rows with equal values to the first row holding that value; returns that first row per row."""
        _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        firsts = rows[first][inverse]
        edges_i.append(rows)
        edges_j.append(firsts)
        return first

    sha_rows = np.array([i for i, s in enumerate(sha1) if s is not None], dtype=np.int64)
    if len(sha_rows):
        link_equal(np.array([sha1[i] for i in sha_rows]), sha_rows)
    hash_rows = np.array([i for i, h in enumerate(phash) if h is not None], dtype=np.int64)
    if len(hash_rows):
        values = np.array([phash[i] for i in hash_rows], dtype=np.uint64)
        first = link_equal(values, hash_rows)
        uniq = values[first]
        # Near pairs among the distinct hashes only: many copies of one picture cost nothing extra.
        ni, nj = near_pairs(uniq, max_distance)
        edges_i.append(hash_rows[first][ni])
        edges_j.append(hash_rows[first][nj])
    if not edges_i or n == 0:
        return np.full(n, -1, dtype=np.int32)
    roots = components(n, np.concatenate(edges_i), np.concatenate(edges_j))
    sizes = np.bincount(roots, minlength=n)
    grouped = sizes[roots] > 1
    out = np.full(n, -1, dtype=np.int32)
    # Roots are the smallest row of each component, so sorting roots orders groups by first row.
    group_roots = np.unique(roots[grouped])
    out[grouped] = np.searchsorted(group_roots, roots[grouped]).astype(np.int32)
    return out


def with_dup_groups(table: pa.Table, max_distance: int = DEFAULT_MAX_DISTANCE) -> pa.Table:
    """``table`` with its ``dup_group`` column computed from ``sha1`` and ``phash`` (null for unique rows)."""
    import pyarrow as pa

    if table.column("sha1").null_count == table.num_rows and table.column("phash").null_count == table.num_rows:
        return table
    groups = group_rows(table.column("sha1").to_pylist(), table.column("phash").to_pylist(), max_distance)
    column = pa.array(groups, type=pa.int32(), mask=groups < 0)
    index = table.column_names.index("dup_group")
    return table.set_column(index, table.schema.field("dup_group"), column)
