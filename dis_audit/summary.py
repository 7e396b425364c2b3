"""What a scan or a merge reports: the ``ScanResult`` and the summary counts computed from a manifest table."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._unchanged import ManifestOnDisk
from .arrowlists import ints_of, to_arrow
from .findings import Finding, Severity
from .layout import DatasetDir, DatasetListing
from .manifest import ScanOptions
from .vocab import Vocabulary

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def listings_from_options(options: ScanOptions) -> list[DatasetListing]:
    """The scanned datasets as the options record them (what the per-dataset summary needs)."""
    return [
        DatasetListing(
            dataset=DatasetDir(name=item.name, rel=item.rel, image_dir=item.image_dir, mask_dir=item.mask_dir),
            clutter=item.clutter,
        )
        for item in options.listings or ()
    ]


@dataclass
class ScanResult:
    """What a scan found: the manifest table, every finding, the vocabulary and a summary."""

    root: Path
    table: pa.Table
    findings: list[Finding]
    vocabulary: Vocabulary
    summary: dict[str, Any]
    options: ScanOptions = field(default_factory=ScanOptions)
    #: The manifest an incremental scan started from, as read (``_unchanged``); the scan sets it.
    _on_disk: ManifestOnDisk | None = field(default=None, repr=False, compare=False)

    @property
    def rows(self) -> pd.DataFrame:
        """The manifest rows as a pandas DataFrame."""
        return self.table.to_pandas()

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def write_manifest(self, path: str | os.PathLike | None = None) -> Path:
        """Write the manifest atomically (default: ``manifest.parquet`` in the root), findings included."""
        from .manifest import with_findings, write_manifest

        table = with_findings(self.table, [f.to_dict() for f in self.findings])
        target = Path(path) if path else self.root / "manifest.parquet"
        if self._on_disk is not None and self._on_disk.holds(table, target):
            return target  # the file already holds this content (an unchanged tree's --incremental)
        return write_manifest(table, target)


def summarize(
    table: pa.Table, findings: list[Finding], listings: list[DatasetListing], vocab: Vocabulary, extended: list[str]
) -> dict[str, Any]:
    """Counts for the report: per dataset, per class, per rule, and classes outside the vocabulary."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Vectorised counts: a million-row table never becomes a million Python strings here.
    def counts(column: pa.ChunkedArray) -> dict[Any, int]:
        return {item["values"]: int(item["counts"]) for item in pc.value_counts(column).to_pylist()}

    # From numpy: a Python 0 in a compute call would become a pa.scalar, which imports pandas.
    labelled_mask = to_arrow(ints_of(table.column("class_id")) >= 0, pa.bool_())
    per_ds_samples = counts(table.column("dataset"))
    per_ds_labelled = counts(pc.filter(table.column("dataset"), labelled_mask))
    fields = pc.drop_null(table.column("class_field"))
    outside = pc.filter(fields, pc.invert(pc.is_in(fields, value_set=to_arrow(list(vocab.names), pa.string()))))
    unknown = counts(outside)
    sev_by_ds: dict[str, Counter] = {}
    for f in findings:
        sev_by_ds.setdefault(f.dataset or "", Counter())[f.severity.value] += 1
    ds_rows = []
    for listing in listings:
        name = listing.dataset.name
        sev = sev_by_ds.get(name, Counter())
        ds_rows.append({
            "name": name,
            "path": listing.dataset.rel or ".",
            "image_dir": listing.dataset.image_dir,
            "mask_dir": listing.dataset.mask_dir,
            "samples": per_ds_samples.get(name, 0),
            "labelled": per_ds_labelled.get(name, 0),
            "unlabelled": per_ds_samples.get(name, 0) - per_ds_labelled.get(name, 0),
            "skipped_files": listing.clutter,
            "errors": sev.get("error", 0), "warnings": sev.get("warning", 0), "infos": sev.get("info", 0),
        })
    by_id = counts(pc.filter(table.column("class_id"), labelled_mask))
    class_counts = dict(sorted(((vocab.names[i], n) for i, n in by_id.items()), key=lambda kv: (-kv[1], kv[0])))
    severity = Counter(f.severity.value for f in findings)
    n = table.num_rows
    labelled = int(pc.sum(labelled_mask).as_py() or 0)
    return {
        "samples": n,
        "labelled": labelled,
        "unlabelled": n - labelled,
        "skipped_files": sum(listing.clutter for listing in listings),
        "datasets": ds_rows,
        "findings": {level.value: severity.get(level.value, 0) for level in Severity},
        "by_rule": dict(sorted(Counter(f.code for f in findings).items())),
        "class_counts": class_counts,
        "unknown_classes": dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))),
        "suggestions": {c: s for c in unknown if (s := vocab.suggest(c))},
        "vocabulary_source": vocab.source,
        "vocabulary_size": len(vocab),
        "extended_classes": extended,
    }


def deep_summary(table: pa.Table) -> dict[str, Any]:
    """Mask kinds, per-class foreground-area statistics and duplicate counts of a deep manifest."""
    import pyarrow.compute as pc

    kinds = {
        item["values"]: int(item["counts"])
        for item in pc.value_counts(table.column("mask_kind")).to_pylist() if item["values"] is not None
    }
    df = table.select(["class_name", "fg_ratio", "mask_kind", "dup_group"]).to_pandas()
    shaped = df[df["fg_ratio"].notna() & df["class_name"].notna() & ~df["mask_kind"].isin(["empty", "full"])]
    per_class: dict[str, dict[str, float]] = {}
    for name, series in shaped.groupby("class_name")["fg_ratio"]:
        per_class[str(name)] = {
            "n": int(series.size), "mean": round(float(series.mean()), 4),
            "std": round(float(series.std(ddof=0)), 4),
            "min": round(float(series.min()), 4), "max": round(float(series.max()), 4),
        }
    groups = df["dup_group"].dropna()
    return {
        "mask_kinds": dict(sorted(kinds.items())),
        "fg_ratio_by_class": per_class,
        "dup_groups": int(groups.nunique()),
        "rows_in_dup_groups": int(groups.size),
    }
