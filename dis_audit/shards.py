"""Shards of a scan: ``--shard i/N`` parsing and the stable assignment of a sample to a shard.

``scan --shard i/N`` scans the samples whose image path hashes to shard ``i`` (0-based) of ``N``;
``merge`` checks that the parts cover every shard exactly once.
"""

from __future__ import annotations

import hashlib
import re

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A --shard value is not ``i/N`` with 0 <= i < N."""


def parse_shard(spec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"2/8"`` -> ``(2, 8)``; shard indexes are 0-based (Slurm array and Kubernetes job indexes)."""
    if spec is None:
        return None
    if isinstance(spec, tuple):
        index, count = spec
    else:
        match = _SHARD.match(spec)
        if not match:
            raise ShardError(f"--shard {spec!r} is not INDEX/COUNT (e.g. 0/8)")
        index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ShardError(f"--shard {index}/{count}: the shard count must be at least 1")
    if not 0 <= index < count:
        raise ShardError(f"--shard {index}/{count}: the index is 0-based, from 0 to {count - 1}")
    return index, count


def shard_of(image_path: str, count: int) -> int:
    """The shard (0..count-1) a sample belongs to: a hash of its image path, stable across runs and machines."""
    digest = hashlib.blake2b(image_path.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count
