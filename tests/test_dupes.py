"""Duplicate grouping: multi-index hashing equals brute force, components, group ids, dataset roles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dis_audit.dupes import components, group_rows, near_pairs


def brute_pairs(hashes: np.ndarray, d: int) -> set[tuple[int, int]]:
    dist = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    i, j = np.nonzero(np.triu(dist <= d, 1))
    return set(zip(i.tolist(), j.tolist()))


def planted_hashes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, n, dtype=np.uint64) ^ (rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63))
    near = []
    for i in rng.integers(0, n, n // 5):
        value = int(base[i])
        for bit in rng.choice(64, int(rng.integers(0, 12)), replace=False):
            value ^= 1 << int(bit)
        near.append(value)
    return np.concatenate([base, np.array(near, dtype=np.uint64)])


@pytest.mark.parametrize("distance", [0, 3, 4, 6, 7, 8, 11])
def test_near_pairs_equal_brute_force(distance):
    hashes = planted_hashes(600, distance)
    i, j = near_pairs(hashes, distance)
    assert set(zip(i.tolist(), j.tolist())) == brute_pairs(hashes, distance)
    assert (i < j).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=40), st.integers(min_value=0, max_value=9))
def test_near_pairs_property(values, distance):
    hashes = np.array(values, dtype=np.uint64)
    i, j = near_pairs(hashes, distance)
    assert set(zip(i.tolist(), j.tolist())) == brute_pairs(hashes, distance)


def test_components_match_union_find():
    rng = np.random.default_rng(3)
    n = 500
    ei, ej = rng.integers(0, n, 300), rng.integers(0, n, 300)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(ei.tolist(), ej.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    expected = [find(x) for x in range(n)]
    labels = components(n, ei, ej)
    # Same partition, and each label is the smallest member.
    assert labels.tolist() == [min(k for k in range(n) if expected[k] == expected[x]) for x in range(n)]


def test_group_rows_exact_near_and_unique():
    h = 0x0123456789ABCDEF
    sha = ["a", "b", "a", None, "c", "d"]
    ph = [h, h ^ 0b111, None, h ^ (0xFFFF << 20), 0xFFFF0000FFFF0000, None]
    groups = group_rows(sha, ph, max_distance=6)
    # rows 0,1 near, row 2 exact copy of 0 by bytes (no hash: undecodable), row 3 is 16 bits away.
    assert groups.tolist() == [0, 0, 0, -1, -1, -1]
    assert group_rows(sha, ph, max_distance=16).tolist() == [0, 0, 0, 0, -1, -1]


def test_group_ids_follow_first_row():
    a, b, c = 0x0F0F0F0F0F0F0F0F, 0xF0F0F0F0F0F0F0F0, 0x00000000FFFFFFFF  # 32 or 64 bits apart
    ph = [a, b, a ^ 1, b, c]
    assert group_rows([None] * 5, ph).tolist() == [0, 1, 0, 1, -1]


def test_many_identical_hashes_do_not_blow_up():
    groups = group_rows([None] * 20000, [0] * 20000)
    assert (groups == 0).all()
