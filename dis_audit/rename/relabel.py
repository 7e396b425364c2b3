"""Rewriting a manifest's labels: after a rename (``remap_manifest``) or instead of one (``relabel_manifest``).

Both label rows with the functions scan uses (``rules.naming.check_name`` and
``rules.labels.label_row``), so a relabelled or remapped row says what a re-scan would.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..classes_from import ClassResolver, ClassSourceError, MapSource, SampleRef, parse_class_from
from ..findings import Emitter, RuleSelection
from ..layout import LayoutError, discover_datasets
from ..manifest import (
    LABEL_OK,
    METADATA_KEY,
    ManifestError,
    ManifestMeta,
    read_findings,
    read_manifest_table,
    with_findings,
    write_manifest,
)
from ..naming import parse_name, split_path, split_stem
from ..rules import ALL_RULES
from ..rules.labels import label_row
from ..rules.naming import check_name
from ..vocab import Vocabulary
from .plan import RenameError


def _selection(meta: ManifestMeta) -> RuleSelection:
    """The ``--select``/``--ignore`` the manifest was scanned with."""
    options = meta.options
    return RuleSelection.parse(options.select or None, options.ignore or None, ALL_RULES)


def _non_naming(codes: Iterable[str] | None) -> list[str]:
    """The codes a new name or class leaves standing: all but the naming family's."""
    return [c for c in codes or () if not c.startswith("DA1")]


def _replace_columns(table: pa.Table, cols: dict[str, list], meta: ManifestMeta, findings: list[dict] | None) -> pa.Table:
    """``table`` with ``cols`` replaced, ``meta`` as its metadata and (unless None) ``findings``, sorted by path."""
    for name, values in cols.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
    metadata = dict(table.schema.metadata or {})
    metadata[METADATA_KEY] = meta.to_bytes()
    table = table.replace_schema_metadata(metadata)
    if findings is not None:
        table = with_findings(table, findings)
    return table.sort_by("image_path")


def remap_manifest(table: pa.Table, mapping: dict[str, str], extra_classes: Sequence[str] = ()) -> pa.Table:
    """Move manifest rows to new paths and recompute their naming labels from the new names.

    ``mapping``: old relative path -> new (images and masks). For every moved row the
    naming rules (DA1xx) run again on the new name, so class fields, ids, ``label_status``
    and ``issues`` say what a re-scan would; other rules' codes are kept. Findings stored
    with the manifest follow their files. New classes are appended to the vocabulary.
    """
    meta = ManifestMeta.from_bytes(table.schema.metadata[METADATA_KEY])
    extra = [c for c in extra_classes if c not in meta.vocabulary]
    vocab = Vocabulary(tuple(meta.vocabulary), source="manifest")
    targets = {parse_name(split_path(n)[0]).class_field for n in mapping.values()}
    # Classes the new names carry must be in the manifest's vocabulary, appended at the end.
    extra += [c for c in targets if c and c not in vocab and c not in extra and vocab.suggest(c) is None]
    if extra:
        vocab = vocab.extended(extra)
        meta.vocabulary = list(vocab.names)
    names = ("image_path", "mask_path", "dataset", "class_name", "class_id", "label_status", "issues", "class_field")
    cols = {n: table.column(n).to_pylist() for n in names}
    emitter = Emitter(_selection(meta))
    new_findings: list[dict] = []
    for i, old in enumerate(cols["image_path"]):
        new = mapping.get(old)
        if new is None:
            continue
        mask = cols["mask_path"][i]
        mask = mapping.get(mask, mask) if mask is not None else None
        cols["image_path"][i], cols["mask_path"][i] = new, mask
        emitter.reset()
        emitter.dataset = cols["dataset"][i]
        name = check_name(emitter, new, vocab, mask_ext=split_path(mask)[1] if mask else "")
        new_findings.extend(f.to_dict() for f in emitter.findings)
        kept = _non_naming(cols["issues"][i])
        label = label_row(name.class_field, vocab, emitter.label_status, kept)
        cols["issues"][i] = sorted(set(kept) | set(emitter.codes))
        cols["class_field"][i] = name.class_field
        cols["class_name"][i], cols["class_id"][i], cols["label_status"][i] = label
    findings = []
    for f in read_findings(table):
        if f.get("path") in mapping:
            if f.get("code", "").startswith("DA1"):
                continue  # recomputed above from the new name
            f = dict(f, path=mapping[f["path"]])
        if f.get("related"):
            f = dict(f, related=[mapping.get(p, p) for p in f["related"]])
        findings.append(f)
    findings.extend(new_findings)
    findings.sort(key=lambda f: (f.get("path", ""), f.get("code", "")))
    del cols["dataset"]
    return _replace_columns(table, cols, meta, findings)


@dataclass
class RelabelResult:
    """What ``relabel_manifest`` changed."""

    manifest: Path
    rows: int
    relabelled: int
    unresolved: list[dict[str, str]]
    blocked: int  # rows with a class but still -1 for a non-naming reason (missing mask, ...)
    extended: list[str]
    by_source: dict[str, int]
    #: Per ``map:FILE`` source: the keys that matched no row.
    unmatched_keys: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": str(self.manifest), "rows": self.rows, "relabelled": self.relabelled,
            "unresolved_rows": len(self.unresolved), "unresolved": self.unresolved, "blocked_rows": self.blocked,
            "extended_classes": self.extended, "by_source": self.by_source,
            "unmatched_map_keys": {k: {"count": len(v), "keys": v[:50]} for k, v in self.unmatched_keys.items() if v},
        }


def relabel_manifest(
    manifest: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    class_from: Sequence[str] | None = None,
    extend_vocab: bool = False,
    dry_run: bool = False,
) -> RelabelResult:
    """Resolve each row's class like rename does and write it into the manifest only (files untouched).

    Ids are positions in the manifest's vocabulary (extended at the end under
    ``extend_vocab``). A later ``scan`` recomputes labels from the names again, so use
    ``rename`` for a permanent fix.
    """
    try:
        table, meta = read_manifest_table(manifest)
    except ManifestError as exc:
        raise RenameError(str(exc)) from exc
    root = Path(root) if root is not None else Path(manifest).resolve().parent
    try:
        sources = parse_class_from(class_from)
    except ClassSourceError as exc:  # an UnsafePathError (map key leaving ROOT) is not one: it goes up as is
        raise RenameError(str(exc)) from exc
    vocab = Vocabulary(tuple(meta.vocabulary), source="manifest")
    # Which folder holds each dataset's images, for the 'folder' source.
    image_dirs: dict[str, str] = {}
    try:
        image_dirs = {d.name: d.image_dir for d in discover_datasets(root)}
    except LayoutError:
        pass
    resolver = ClassResolver(sources, vocab, extend_vocab)
    maps = [s for s in sources if isinstance(s, MapSource)]
    paths, masks, dsets = (table.column(n).to_pylist() for n in ("image_path", "mask_path", "dataset"))
    results = []
    for path, mask, ds in zip(paths, masks, dsets):
        filename = path.rsplit("/", 1)[-1]
        stem = split_stem(filename)[0]
        folder = ""
        img_dir = image_dirs.get(ds)
        if img_dir and path.startswith(img_dir + "/"):
            inner = path[len(img_dir) + 1:]
            folder = inner.rsplit("/", 1)[0] if "/" in inner else ""
        ref = SampleRef(stem, path, mask, ds, folder)
        results.append(resolver.resolve(ref))
        for source in maps:
            source.mark(ref)
    vocab = resolver.final_vocabulary()
    extended = list(vocab.names[len(meta.vocabulary):])
    meta.vocabulary = list(vocab.names)
    cols = {n: table.column(n).to_pylist() for n in ("class_name", "class_id", "label_status")}
    issues = table.column("issues").to_pylist()
    relabelled = blocked = 0
    unresolved = []
    by_source: Counter[str] = Counter()
    for i, res in enumerate(results):
        if not res.ok:
            if cols["class_id"][i] < 0:
                unresolved.append({"path": paths[i], "reason": res.reason or ""})
            continue
        # A naming code no longer applies (the class now comes from a source); any other keeps the label away.
        kept = cols["label_status"][i]
        if kept.startswith("DA1") or kept == LABEL_OK:
            kept = None
        label = label_row(res.class_name, vocab, kept, _non_naming(issues[i]))
        if (cols["class_name"][i], cols["class_id"][i], cols["label_status"][i]) != label:
            relabelled += 1
            by_source[res.source or ""] += 1
        cols["class_name"][i], cols["class_id"][i], cols["label_status"][i] = label
        if label.class_id < 0:
            blocked += 1
    meta.options = meta.options.updated(relabel={"class_from": [s.name for s in sources], "extend_vocab": extend_vocab})
    out = _replace_columns(table, cols, meta, None)
    if not dry_run:
        try:
            write_manifest(out, manifest)
        except ManifestError as exc:
            raise RenameError(str(exc)) from exc
    return RelabelResult(Path(manifest), len(paths), relabelled, unresolved, blocked, extended, dict(by_source),
                         {s.name: s.unmatched_keys() for s in maps})
