"""Merging part manifests into one result.

``scan --shard i/N`` scans the samples whose path hashes to shard ``i`` (0-based) of ``N`` and
writes a part manifest without cross-file checks; ``merge_manifests`` concatenates the parts,
checks that they fit together (same options, every shard exactly once, no sample twice), and
runs the cross-file checks (duplicates, leakage, mask statistics, vocabulary summary) on the
whole, so the result equals a single scan of the tree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from .crossfile import run_manifest_checks, strip_cross_file
from .findings import Finding, RuleSelection, Severity
from .fingerprint import fingerprint_with_vocabulary, fingerprint_without_vocabulary
from .manifest import (
    METADATA_KEY,
    ManifestError,
    ManifestMeta,
    conform_table,
    read_findings,
    read_manifest_table,
)
from .rules import ALL_RULES, CROSS_FILE_CODES
from .shards import parse_shard
from .splits import parse_eval_datasets
from .summary import ScanResult, deep_summary, listings_from_options, summarize
from .vocab import Vocabulary

if TYPE_CHECKING:
    import pyarrow as pa


# ----------------------------------------------------------------------------- merging

def _merged_vocabulary(metas: list[ManifestMeta], table: pa.Table) -> tuple[list[str], list[str]]:
    """The merged vocabulary and the classes it extends the base with (parts may have inferred or
    extended their own)."""
    vocabs = [list(m.vocabulary) for m in metas]
    if all(v == vocabs[0] for v in vocabs):
        return vocabs[0], list(metas[0].options.extended_classes)
    sources = {str(m.options.classes) for m in metas}
    if sources == {"infer"}:
        return sorted({name for v in vocabs for name in v}), []
    bases = {tuple(v[: len(v) - len(m.options.extended_classes)]) for v, m in zip(vocabs, metas)}
    if len(bases) != 1:
        raise ManifestError("the parts were scanned with different class vocabularies; scan them with the same --classes")
    base = list(next(iter(bases)))
    extra = {name for m in metas for name in m.options.extended_classes}
    # Order the new classes by where they first appear, as a single scan meets them.
    first_seen: dict[str, str] = {}
    for path, name in zip(table.column("image_path").to_pylist(), table.column("class_name").to_pylist()):
        if name in extra and (name not in first_seen or path < first_seen[name]):
            first_seen[name] = path
    added = sorted(extra, key=lambda n: (first_seen.get(n, "\uffff"), n))
    return base + added, added


def _check_eval_names(wanted: frozenset[str], datasets: set[str]) -> None:
    """ManifestError for an ``--eval-datasets`` name that is no dataset of the parts (a typo would flip roles)."""
    from .hints import did_you_mean

    known = datasets | {d.rsplit("/", 1)[-1] for d in datasets}
    unknown = sorted(n for n in wanted if n not in known)
    if unknown:
        what = "; ".join(f"{n!r}{did_you_mean(n, known)}" for n in unknown)
        raise ManifestError(f"--eval-datasets: no dataset named {what}; found: {', '.join(sorted(datasets)) or 'none'}")


def merge_manifests(paths: Sequence[str | os.PathLike], *, eval_datasets: Sequence[str] | str | None = None) -> ScanResult:
    """Combine part manifests (from ``scan --shard``, or whole manifests of one tree) into one result.

    Raises ManifestError when a part cannot be read, the parts were scanned with different
    options, a shard is missing or given twice, or one sample appears in two parts.
    """
    import pyarrow as pa

    if not paths:
        raise ManifestError("no part manifests given")
    tables, metas, part_findings = [], [], []
    for path in paths:
        table, meta = read_manifest_table(path)
        tables.append(table)
        metas.append(meta)
        part_findings.append(read_findings(table))
    # Vocabularies may differ (--classes infer, --extend-vocab see each shard's classes); they are
    # reconciled below. Everything else that decides a row must match.
    prints = {fingerprint_without_vocabulary(m.options.fingerprint) for m in metas}
    if len(prints) != 1:
        raise ManifestError(
            "the parts were scanned with different options (vocabulary, rule selection, --deep, --max-pixels or "
            "difficulty map); re-scan them with the same ones"
        )
    shards = [m.options.shard for m in metas]
    if any(s is not None for s in shards):
        if any(s is None for s in shards):
            raise ManifestError("some parts are shards and some are whole scans; merge shards of one scan only")
        parsed = [spec for s in shards if (spec := parse_shard(s)) is not None]
        counts = {n for _, n in parsed}
        if len(counts) != 1:
            raise ManifestError(f"the parts come from different shard counts: {', '.join(map(str, sorted(counts)))}")
        count = counts.pop()
        seen = [i for i, _ in parsed]
        twice = sorted({i for i in seen if seen.count(i) > 1})
        missing = sorted(set(range(count)) - set(seen))
        if twice:
            raise ManifestError(f"shard {', '.join(f'{i}/{count}' for i in twice)} given more than once")
        if missing:
            raise ManifestError(f"shard {', '.join(f'{i}/{count}' for i in missing)} missing; merge needs all {count}")

    table = pa.concat_tables([conform_table(t) for t in tables]).sort_by("image_path")
    paths_col = table.column("image_path").to_pylist()
    dupes = sorted({a for a, b in pairwise(paths_col) if a == b})
    if dupes:
        raise ManifestError(f"{len(dupes)} sample(s) appear in more than one part, e.g. {dupes[0]}")
    table = strip_cross_file(table)

    names, extended = _merged_vocabulary(metas, table)
    if names != list(metas[0].vocabulary):
        index = {name: i for i, name in enumerate(names)}
        ids = [
            index.get(name, -1) if cid >= 0 else -1
            for name, cid in zip(table.column("class_name").to_pylist(), table.column("class_id").to_pylist())
        ]
        i = table.column_names.index("class_id")
        table = table.set_column(i, table.schema.field("class_id"), pa.array(ids, type=pa.int32()))
    # The parts agree on everything but the vocabulary (checked above): the first one speaks for all.
    options = metas[0].options.updated(
        shard=None, merged_from=len(paths), extended_classes=tuple(extended),
        fingerprint=fingerprint_with_vocabulary(metas[0].options.fingerprint, names),
    )
    if eval_datasets is not None:
        parsed_eval = parse_eval_datasets(eval_datasets)
        _check_eval_names(parsed_eval or frozenset(), set(table.column("dataset").unique().to_pylist()))
        options = options.updated(eval_datasets=tuple(sorted(parsed_eval)) if parsed_eval else None)
    listings, seen_names = [], set()
    for meta in metas:
        for listing in listings_from_options(meta.options):
            if listing.dataset.name not in seen_names:
                seen_names.add(listing.dataset.name)
                listings.append(listing)
    selection = RuleSelection(options.select or ("DA",), options.ignore)

    findings: list[Finding] = []
    seen_keys: set[tuple[str, str, str]] = set()
    for items in part_findings:
        for item in items:
            key = (item["code"], item["path"], item["message"])
            # Dataset-level findings (orphans, clutter) come from every shard: keep one of each.
            if item["code"] in CROSS_FILE_CODES or key in seen_keys:
                continue
            seen_keys.add(key)
            findings.append(Finding(
                item["code"], Severity(item["severity"]), item["path"], item["message"], item.get("fix"),
                item.get("dataset"), tuple(item.get("related") or ()),
            ))
    meta = ManifestMeta(vocabulary=names, tool_version=metas[0].tool_version, root=metas[0].root, options=options)
    table = table.replace_schema_metadata({METADATA_KEY: meta.to_bytes()})
    table, cross = run_manifest_checks(table, selection, options)
    findings.extend(cross)
    findings.sort(key=lambda f: (f.path, f.code))
    vocab = Vocabulary(tuple(names), source=str(options.classes or "merged"))
    summary = summarize(table, findings, listings, vocab, extended)
    if options.deep:
        summary["deep"] = deep_summary(table)
    summary["merged_parts"] = len(paths)
    summary["elapsed_s"] = 0.0
    unknown = [c for c in {f.code for f in findings} if c not in ALL_RULES]
    if unknown:
        summary["note"] = f"findings with codes this dis-audit does not know: {', '.join(sorted(unknown))}"
    root = Path(metas[0].root) if metas[0].root else Path(paths[0]).resolve().parent
    return ScanResult(root=root, table=table, findings=findings, vocabulary=vocab, summary=summary, options=options)
