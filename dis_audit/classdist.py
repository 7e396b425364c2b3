"""The class distribution of a manifest: counts per class and per difficulty, and long-tail statistics.

``class_distribution(manifest)`` reads a manifest (a path, or a table with its metadata) and
returns a ``ClassDistribution``; ``dis-audit classes`` prints it, exports the vocabulary as a
class file (``--export``) and draws it (``--plot``, see ``report/classplot.py``).

Only labelled rows count (``class_id`` ≥ 0: the samples a training run learns a class from);
rows with class −1 are counted apart. The statistics are over the classes *present*; vocabulary
classes without a sample are listed as absent, since a ratio or a Gini over zeros says nothing.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .manifest import ManifestError, ManifestMeta, atomic_write_bytes, read_manifest_table
from .ordering import sort_difficulties

__all__ = ["ClassDistribution", "LongTail", "class_distribution", "long_tail"]

#: The head is the most frequent fifth of the present classes, the tail the least frequent half.
HEAD_FRACTION = 0.2
TAIL_FRACTION = 0.5


@dataclass(frozen=True)
class LongTail:
    """How skewed the class counts are (over the present classes)."""

    #: Classes with at least one labelled sample.
    classes: int
    #: Samples of the largest class / samples of the smallest (1.0: balanced; 0.0 without classes).
    imbalance_ratio: float
    #: Gini coefficient of the counts: 0 all classes equal, towards 1 when one class holds nearly all.
    gini: float
    #: Share of the samples held by the most frequent ``HEAD_FRACTION`` of the classes (at least one class).
    head_share: float
    #: Share of the samples held by the least frequent ``TAIL_FRACTION`` of the classes.
    tail_share: float
    #: The fewest classes that together hold half of the samples.
    classes_for_half: int
    #: Classes with exactly one sample.
    singletons: int
    median: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def long_tail(counts: list[int]) -> LongTail:
    """The statistics of per-class sample counts (zeros are dropped: an absent class has no share)."""
    values = sorted((int(c) for c in counts if c > 0), reverse=True)
    n, total = len(values), sum(values)
    if not n:
        return LongTail(0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0.0)
    ascending = values[::-1]
    # Gini from the sorted counts: sum_i (2i - n - 1) x_i / (n * sum x), i = 1..n ascending.
    gini = sum((2 * i - n - 1) * x for i, x in enumerate(ascending, 1)) / (n * total) if n > 1 else 0.0
    head = max(1, math.ceil(n * HEAD_FRACTION))
    tail = math.floor(n * TAIL_FRACTION)
    running, for_half = 0, 0
    for for_half, x in enumerate(values, 1):  # noqa: B007 (the count is the answer)
        running += x
        if 2 * running >= total:
            break
    mid = n // 2
    median = float(ascending[mid]) if n % 2 else (ascending[mid - 1] + ascending[mid]) / 2
    return LongTail(
        classes=n, imbalance_ratio=values[0] / values[-1], gini=round(gini, 6),
        head_share=sum(values[:head]) / total, tail_share=sum(ascending[:tail]) / total,
        classes_for_half=for_half, singletons=sum(1 for x in values if x == 1), median=median,
    )


@dataclass(frozen=True)
class ClassDistribution:
    """Labelled samples per class, overall and per difficulty, with the vocabulary they index."""

    #: The ordered vocabulary (``vocabulary[class_id]``).
    vocabulary: list[str]
    #: Samples per class id, for the classes present, largest first (ties in vocabulary order).
    counts: list[tuple[int, int]]
    #: Difficulty values, easiest first (see ``ordering.difficulty_key``).
    difficulties: list[str]
    #: class id -> difficulty -> samples (class −1 included).
    by_difficulty: dict[int, dict[str, int]]
    #: Rows with class −1.
    unlabelled: int
    #: Where the manifest came from (a path, or "in-memory manifest").
    source: str = ""
    stats: LongTail = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stats", long_tail([n for _, n in self.counts]))

    @property
    def labelled(self) -> int:
        """Rows with a class."""
        return sum(n for _, n in self.counts)

    @property
    def absent(self) -> list[str]:
        """Vocabulary classes without a labelled sample, in vocabulary order."""
        present = {cid for cid, _ in self.counts}
        return [name for cid, name in enumerate(self.vocabulary) if cid not in present]

    def name(self, class_id: int) -> str:
        """A class id's name ("(no class: -1)" for −1)."""
        return self.vocabulary[class_id] if 0 <= class_id < len(self.vocabulary) else "(no class: -1)"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: counts by name (largest first), per difficulty, statistics, absent classes."""
        return {
            "source": self.source,
            "vocabulary_size": len(self.vocabulary),
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "difficulties": self.difficulties,
            "classes": [
                {"class_id": cid, "name": self.name(cid), "count": n,
                 "by_difficulty": {d: self.by_difficulty.get(cid, {}).get(d, 0) for d in self.difficulties}}
                for cid, n in self.counts
            ],
            "unlabelled_by_difficulty": {d: self.by_difficulty.get(-1, {}).get(d, 0) for d in self.difficulties},
            "absent": self.absent,
            "long_tail": self.stats.to_dict(),
        }

    def export_vocabulary(self, path: str | os.PathLike, present_only: bool = False) -> Path:
        """Write the vocabulary as a class file (one name a line, order = id; ``--classes FILE`` reads it).

        ``present_only`` keeps only classes with samples (their ids then change: a new head).
        Written atomically; raises ManifestError when the folder cannot be written.
        """
        names = [self.name(cid) for cid, _ in sorted(self.counts)] if present_only else list(self.vocabulary)
        header = f"# {len(names)} classes from {self.source or 'a dis-audit manifest'}; line order = class id\n"
        data = (header + "".join(f"{n}\n" for n in names)).encode("utf-8", "surrogateescape")
        out = Path(path)
        if out.is_dir():
            raise ManifestError(f"class file path is a folder: {out}")
        try:
            atomic_write_bytes(out, lambda tmp: Path(tmp).write_bytes(data))
        except OSError as exc:
            raise ManifestError(f"cannot write {out}: {exc.strerror or exc}") from exc
        return out


def class_distribution(
    manifest: str | os.PathLike | tuple[pa.Table, ManifestMeta], source: str | None = None
) -> ClassDistribution:
    """The class distribution of a manifest file, or of a ``(table, meta)`` pair already read.

    Raises ManifestError for a file that is not a readable manifest, or a class id outside its vocabulary.
    """
    if isinstance(manifest, tuple):
        table, meta = manifest
        label = source or "in-memory manifest"
    else:
        table, meta = read_manifest_table(manifest)
        label = source or str(manifest)
    vocabulary = list(meta.vocabulary)
    grouped = table.group_by(["class_id", "difficulty"]).aggregate([("image_path", "count")]).to_pylist()
    by_difficulty: dict[int, dict[str, int]] = defaultdict(dict)
    totals: dict[int, int] = defaultdict(int)
    for g in grouped:
        cid, n = int(g["class_id"]), int(g["image_path_count"])
        if cid >= len(vocabulary):
            raise ManifestError(f"class_id {cid} is outside the manifest's vocabulary of {len(vocabulary)} classes")
        key = g["difficulty"] if g["difficulty"] is not None else "(none)"
        by_difficulty[cid][key] = by_difficulty[cid].get(key, 0) + n
        totals[cid] += n
    unlabelled = sum(n for cid, n in totals.items() if cid < 0)
    counts = sorted(((cid, n) for cid, n in totals.items() if cid >= 0), key=lambda cn: (-cn[1], cn[0]))
    # Any negative id is "no class" (the contract uses -1 only); fold them into one row.
    merged: dict[str, int] = defaultdict(int)
    for cid in [c for c in by_difficulty if c < 0]:
        for d, n in by_difficulty.pop(cid).items():
            merged[d] += n
    if merged:
        by_difficulty[-1] = dict(merged)
    difficulties = sort_difficulties(d for row in by_difficulty.values() for d in row)
    return ClassDistribution(vocabulary, counts, difficulties, dict(by_difficulty), unlabelled, label)
