"""The options a manifest was made with: ``ScanOptions`` and its per-dataset ``ListingRecord``.

Stored as a JSON object in the manifest's metadata (``manifest.ManifestMeta``); kept apart from the
manifest's table code, and free of pyarrow, so everything that only needs the options imports little.
``dis_audit.manifest`` re-exports both names, where they have always been imported from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["ListingRecord", "ScanOptions"]


@dataclass(frozen=True)
class ListingRecord:
    """One scanned dataset as the options record it, so ``merge`` can rebuild the per-dataset summary."""

    name: str
    rel: str = ""
    image_dir: str = ""
    mask_dir: str | None = None
    #: Files in the dataset's folders that are neither images nor masks.
    clutter: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rel": self.rel, "image_dir": self.image_dir, "mask_dir": self.mask_dir,
                "clutter": self.clutter}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListingRecord:
        mask_dir = data.get("mask_dir")
        return cls(
            name=str(data.get("name", "")), rel=str(data.get("rel") or ""), image_dir=str(data.get("image_dir") or ""),
            mask_dir=None if mask_dir is None else str(mask_dir), clutter=int(data.get("clutter") or 0),
        )


@dataclass(frozen=True)
class ScanOptions:
    """The options a manifest was made with (written by scan and merge, read by merge, rules and reports).

    Stored as a JSON object in the metadata; ``to_dict``/``from_dict`` keep that object as earlier
    versions wrote it. Keys this version does not know are kept in ``extra`` and written back.
    """

    image_dir: str | None = None
    mask_dir: str | None = None
    #: ``--datasets`` as given: a comma-separated string or a list of names.
    datasets: str | tuple[str, ...] | None = None
    #: The vocabulary's source (``"dis5k"``, ``"infer"``, a file name, ...).
    classes: str | None = None
    extend_vocab: bool = False
    #: dataset -> difficulty, for every scanned dataset.
    difficulty_map: dict[str, str] = field(default_factory=dict)
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    #: See ``dis_audit.fingerprint``.
    fingerprint: str | None = None
    #: Classes ``--extend-vocab`` appended to the base vocabulary.
    extended_classes: tuple[str, ...] = ()
    deep: bool = False
    max_pixels: int | None = None
    eval_datasets: tuple[str, ...] | None = None
    near_dup_distance: int | None = None
    #: ``"i/N"`` for a part manifest of ``scan --shard``.
    shard: str | None = None
    listings: tuple[ListingRecord, ...] | None = None
    #: How many parts ``merge`` combined (merged manifests only; they carry no ``shard``).
    merged_from: int | None = None
    #: What ``relabel`` applied (relabelled manifests only).
    relabel: dict[str, Any] | None = None
    #: DA6xx thresholds that differ from their defaults (``--quality-threshold``); written only when set.
    quality_thresholds: dict[str, float] = field(default_factory=dict)
    #: The effective project configuration (``config.Settings.record()``): the file used and every
    #: setting not left at its default, command-line flags included. None when made without the CLI.
    config: dict[str, Any] | None = None
    #: The loader profile the labels follow (``scan --loader``; see ``dis_audit.loaders``).
    loader: str | None = None
    #: Keys this version does not know (a newer dis-audit wrote them), kept as read.
    extra: dict[str, Any] = field(default_factory=dict)
    #: The keys read from disk; ``None`` for options made in memory, which write every key a scan
    #: writes. Written keys are these plus every option that is set, so a manifest keeps its shape.
    present: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def updated(self, **changes: Any) -> ScanOptions:
        """A copy with the given fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored in the manifest metadata."""
        values: dict[str, Any] = {
            "image_dir": self.image_dir, "mask_dir": self.mask_dir,
            "datasets": list(self.datasets) if isinstance(self.datasets, tuple) else self.datasets,
            "classes": self.classes, "extend_vocab": self.extend_vocab, "difficulty_map": dict(self.difficulty_map),
            "select": list(self.select), "ignore": list(self.ignore), "fingerprint": self.fingerprint,
            "extended_classes": list(self.extended_classes), "deep": self.deep, "max_pixels": self.max_pixels,
            "eval_datasets": None if self.eval_datasets is None else list(self.eval_datasets),
            "near_dup_distance": self.near_dup_distance, "shard": self.shard,
            "listings": None if self.listings is None else [item.to_dict() for item in self.listings],
            "merged_from": self.merged_from, "relabel": self.relabel, "config": self.config,
            "quality_thresholds": dict(self.quality_thresholds), "loader": self.loader,
        }
        keys = set(_SCAN_KEYS if self.present is None else self.present)
        keys |= {name for name, value in values.items() if value != _DEFAULT_VALUES[name]}
        if self.merged_from is not None and self.shard is None:
            keys.discard("shard")  # a merged manifest is a whole scan, not a shard
        out = {key: value for key, value in self.extra.items() if key not in values}
        out.update((name, value) for name, value in values.items() if name in keys)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ScanOptions:
        """Options as stored; missing keys take their defaults, unknown ones go to ``extra``."""
        data = data if isinstance(data, Mapping) else {}
        get = data.get
        datasets = get("datasets")
        listings = get("listings")
        eval_datasets = get("eval_datasets")
        relabel = get("relabel")
        return cls(
            image_dir=_str_or_none(get("image_dir")),
            mask_dir=_str_or_none(get("mask_dir")),
            datasets=datasets if datasets is None or isinstance(datasets, str) else tuple(datasets),
            classes=_str_or_none(get("classes")),
            extend_vocab=bool(get("extend_vocab", False)),
            difficulty_map={str(k): str(v) for k, v in (get("difficulty_map") or {}).items()},
            select=tuple(get("select") or ()),
            ignore=tuple(get("ignore") or ()),
            fingerprint=_str_or_none(get("fingerprint")),
            extended_classes=tuple(get("extended_classes") or ()),
            deep=bool(get("deep", False)),
            max_pixels=_int_or_none(get("max_pixels")),
            eval_datasets=None if eval_datasets is None else tuple(eval_datasets),
            near_dup_distance=_int_or_none(get("near_dup_distance")),
            shard=_str_or_none(get("shard")),
            listings=None if listings is None else tuple(ListingRecord.from_dict(item) for item in listings),
            merged_from=_int_or_none(get("merged_from")),
            relabel=dict(relabel) if isinstance(relabel, Mapping) else None,
            quality_thresholds={str(k): float(v) for k, v in (get("quality_thresholds") or {}).items()},
            config=dict(config) if isinstance(config := get("config"), Mapping) else None,
            loader=_str_or_none(get("loader")),
            extra={key: value for key, value in data.items() if key not in _DEFAULT_VALUES},
            present=frozenset(key for key in data if key in _DEFAULT_VALUES),
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


#: Every stored option key with its value when unset (as ``to_dict`` writes it).
_DEFAULT_VALUES: dict[str, Any] = {
    "image_dir": None, "mask_dir": None, "datasets": None, "classes": None, "extend_vocab": False,
    "difficulty_map": {}, "select": [], "ignore": [], "fingerprint": None, "extended_classes": [], "deep": False,
    "max_pixels": None, "eval_datasets": None, "near_dup_distance": None, "shard": None, "listings": None,
    "merged_from": None, "relabel": None, "quality_thresholds": {}, "config": None, "loader": None,
}
#: The keys a scan always writes, set or not.
_SCAN_KEYS: frozenset[str] = frozenset(_DEFAULT_VALUES) - {"merged_from", "relabel", "quality_thresholds", "config", "loader"}
