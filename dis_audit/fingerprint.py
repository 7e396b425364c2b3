"""The scan fingerprint: what, besides a file's bytes, decides its manifest row.

``scan --incremental`` reuses old rows whole only when the fingerprint matches, and ``merge``
requires the parts to agree on it (the vocabulary aside: shards may infer or extend their own).
It is stored in the manifest options as a JSON list; ``_LAYOUT`` below is the one place that
says which field sits where, so every other reader and writer goes by field name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

#: The order of the fields in the stored JSON list. Manifests on disk depend on it: never reorder.
_LAYOUT: tuple[str, ...] = ("tool_version", "vocabulary", "select", "ignore", "difficulty")
#: A deep scan appends ``["deep", max_pixels]`` (``["deep", max_pixels, {threshold: value}]`` when DA6xx
#: thresholds differ from their defaults); a header-only fingerprint has no such item, so manifests
#: written before --deep existed keep being reused.
_DEEP_TAG = "deep"


@dataclass(frozen=True)
class ScanFingerprint:
    """The named fields of a fingerprint; ``str()`` is the stored form."""

    tool_version: str
    #: ``None`` only in a fingerprint compared with the vocabulary left out.
    vocabulary: tuple[str, ...] | None
    select: tuple[str, ...]
    ignore: tuple[str, ...]
    #: ``(dataset, difficulty)`` pairs, sorted.
    difficulty: tuple[tuple[str, str], ...]
    deep: bool = False
    max_pixels: int = 0
    #: ``(name, value)`` pairs of the DA6xx thresholds set away from their defaults, sorted.
    thresholds: tuple[tuple[str, float], ...] = ()

    def __str__(self) -> str:
        fields = {
            "tool_version": self.tool_version,
            "vocabulary": None if self.vocabulary is None else list(self.vocabulary),
            "select": list(self.select),
            "ignore": list(self.ignore),
            "difficulty": [list(pair) for pair in self.difficulty],
        }
        items: list[object] = [fields[name] for name in _LAYOUT]
        if self.deep:
            items.append([_DEEP_TAG, self.max_pixels, dict(self.thresholds)] if self.thresholds
                         else [_DEEP_TAG, self.max_pixels])
        return json.dumps(items)

    @classmethod
    def parse(cls, text: str | None) -> ScanFingerprint | None:
        """The fingerprint stored as ``text``, or ``None`` when it is missing or not one this version writes."""
        if text is None:
            return None
        try:
            items = json.loads(text)
            if not isinstance(items, list) or len(items) not in (len(_LAYOUT), len(_LAYOUT) + 1):
                return None
            fields = dict(zip(_LAYOUT, items))
            deep, max_pixels = False, 0
            thresholds: dict[str, float] = {}
            if len(items) > len(_LAYOUT):
                tag, max_pixels, *rest = items[len(_LAYOUT)]
                if tag != _DEEP_TAG or len(rest) > 1:
                    return None
                thresholds = rest[0] if rest else {}
                deep = True
            vocabulary = fields["vocabulary"]
            return cls(
                tool_version=str(fields["tool_version"]),
                vocabulary=None if vocabulary is None else tuple(vocabulary),
                select=tuple(fields["select"]),
                ignore=tuple(fields["ignore"]),
                difficulty=tuple((str(k), str(v)) for k, v in fields["difficulty"]),
                deep=deep,
                max_pixels=int(max_pixels),
                thresholds=tuple(sorted((str(k), float(v)) for k, v in thresholds.items())),
            )
        except (ValueError, TypeError, AttributeError):
            return None

    def without_vocabulary(self) -> ScanFingerprint:
        return replace(self, vocabulary=None)

    def with_vocabulary(self, names: Iterable[str]) -> ScanFingerprint:
        return replace(self, vocabulary=tuple(names))


def scan_fingerprint(
    *,
    tool_version: str,
    vocabulary: Iterable[str],
    select: Iterable[str],
    ignore: Iterable[str],
    difficulty: Mapping[str, str],
    deep: bool = False,
    max_pixels: int = 0,
    thresholds: Mapping[str, float] | None = None,
) -> str:
    """The stored fingerprint of a scan with these settings (``difficulty``: dataset -> difficulty)."""
    return str(
        ScanFingerprint(
            tool_version=tool_version,
            vocabulary=tuple(vocabulary),
            select=tuple(select),
            ignore=tuple(ignore),
            difficulty=tuple(sorted(difficulty.items())),
            deep=deep,
            max_pixels=max_pixels if deep else 0,
            thresholds=tuple(sorted((thresholds or {}).items())) if deep else (),
        )
    )


def fingerprint_without_vocabulary(text: str | None) -> ScanFingerprint | str | None:
    """A value to compare two stored fingerprints by with the vocabulary left out.

    A fingerprint this version cannot read compares as its raw text (equal only to itself).
    """
    parsed = ScanFingerprint.parse(text)
    return parsed.without_vocabulary() if parsed is not None else text


def fingerprint_with_vocabulary(text: str | None, names: Iterable[str]) -> str | None:
    """The stored fingerprint ``text`` with its vocabulary replaced by ``names`` (unreadable text is kept)."""
    parsed = ScanFingerprint.parse(text)
    return str(parsed.with_vocabulary(names)) if parsed is not None else text
