"""The report model: one summary of a scan or a manifest, computed once; every report format is a view of it.

The terminal report, the ``--json`` output and the HTML page all read a ``ReportModel``. Its
``summary`` is the dict ``summarize`` builds (what ``ScanResult.summary`` holds and ``--json``
prints). The aggregates the views share are derived from the summary, the manifest table and
the findings, each on first use, so the terminal report never pays for what only the page shows:

* ``datasets``: one row per dataset (samples, labels, findings per severity, split, difficulty);
* ``class_counts``, ``unknown_classes``, ``absent_classes`` and ``class_difficulty``;
* ``rule_groups``: findings grouped by rule, worst severity first, with the rule's documentation;
* ``dup_groups``: the groups of the ``dup_group`` column, training ↔ evaluation leaks first;
* ``mask_kinds`` and ``fg_ratio_histogram`` of a deep manifest.

Nothing here makes markup or prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .._lazy import lazy_module
from ..arrowlists import to_arrow
from ..findings import Finding, Rule, Severity
from ..layout import DatasetDir, DatasetListing
from ..manifest import ManifestError, ManifestMeta, ScanOptions, read_findings
from ..ordering import difficulty_key, natural_key, sort_difficulties
from ..splits import dataset_role as split_of
from ..summary import ScanResult, deep_summary, listings_from_options, summarize
from ..vocab import Vocabulary, VocabularyError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")

#: Bins of the foreground-share histogram, over 0..1.
FG_RATIO_BINS = 10


# ----------------------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class DatasetRow:
    """One dataset: its samples, labels and findings (a row of ``summary["datasets"]``), split and difficulty."""

    name: str
    samples: int
    labelled: int
    unlabelled: int
    skipped_files: int
    errors: int
    warnings: int
    infos: int
    #: 'train', 'eval' or None (no role), as ``split_of`` decides.
    split: str | None
    #: The difficulty values of the dataset's samples, naturally sorted and joined with ", ".
    difficulty: str

    def count(self, severity: Severity) -> int:
        """Findings of one severity in this dataset."""
        return {Severity.ERROR: self.errors, Severity.WARNING: self.warnings, Severity.INFO: self.infos}[severity]


@dataclass(frozen=True)
class ClassCount:
    """A class with labelled samples."""

    class_id: int
    name: str
    count: int


@dataclass(frozen=True)
class UnknownClass:
    """A class field the vocabulary does not know, how often it occurs, and a near-miss if there is one."""

    name: str
    count: int
    suggestion: str | None


@dataclass(frozen=True)
class ClassDifficulty:
    """Samples per class (rows, by class id; -1 last) and difficulty (columns, easy → hard, see ``ordering``)."""

    class_ids: list[int]
    difficulties: list[str]
    cells: dict[int, dict[str, int]]
    peak: int


@dataclass(frozen=True)
class RuleGroup:
    """The findings of one rule code, with the rule's documentation (None for a code this version lacks)."""

    code: str
    severity: Severity
    rule: Rule | None
    findings: list[Finding]

    @property
    def datasets(self) -> list[str]:
        """The datasets the findings are in, naturally sorted."""
        return sorted({f.dataset for f in self.findings if f.dataset}, key=natural_key)


@dataclass(frozen=True)
class DupGroup:
    """Samples that are the same picture; ``rows`` index the table, one per dataset first."""

    id: int
    rows: list[int]
    datasets: list[str]
    #: The group spans a training and an evaluation dataset.
    leak: bool
    #: Rule codes of the related-file findings on its members (DA5xx).
    codes: list[str]


# ----------------------------------------------------------------------------- the model


@dataclass
class ReportModel:
    """What every report shows, computed once from a manifest table, its findings and its metadata."""

    table: pa.Table
    findings: list[Finding]
    vocabulary: Vocabulary
    options: ScanOptions
    #: The ``summarize`` dict (plus ``deep`` and whatever the run added: elapsed time, notes, ...).
    summary: dict[str, Any]

    @classmethod
    def from_result(cls, result: ScanResult) -> ReportModel:
        """The model of a scan or merge result: its summary as computed by the scan, nothing recomputed."""
        return cls(result.table, result.findings, result.vocabulary, result.options, result.summary)

    @classmethod
    def from_manifest(cls, table: pa.Table, meta: ManifestMeta) -> ReportModel:
        """The model of a manifest: the summary a scan would have made, rebuilt from the table and metadata.

        Raises ManifestError when the metadata contradicts the rows (a class id outside the
        vocabulary, a vocabulary with a name twice, a finding with an unknown severity).
        """
        options = meta.options
        try:
            vocab = Vocabulary(tuple(meta.vocabulary), source=str(options.classes or "manifest"))
        except VocabularyError as exc:
            raise ManifestError(f"the manifest's vocabulary is unusable: {exc}") from exc
        ids = table.column("class_id")
        top = pc.max(ids).as_py() if table.num_rows else None
        if top is not None and top >= len(vocab):
            raise ManifestError(f"class_id {top} is outside the manifest's vocabulary of {len(vocab)} classes")
        findings = findings_from_dicts(read_findings(table))
        listings = listings_from_options(options)
        # Manifests without listing metadata (older ones, tables built in memory) still get a row
        # for every dataset in the rows or the findings.
        listed = {listing.dataset.name for listing in listings}
        seen = {d for d in table.column("dataset").unique().to_pylist() if d is not None}
        seen |= {f.dataset for f in findings if f.dataset}
        listings += [DatasetListing(DatasetDir(name, "", "", None)) for name in sorted(seen - listed, key=natural_key)]
        summary = summarize(table, findings, listings, vocab, list(options.extended_classes))
        if _has_mask_stats(table) or options.deep:
            summary["deep"] = deep_summary(table)
        return cls(table, findings, vocab, options, summary)

    # --------------------------------------------------------------- rows and names

    @property
    def num_rows(self) -> int:
        """Samples (rows) in the manifest."""
        return self.table.num_rows

    @cached_property
    def eval_datasets(self) -> list[str]:
        """The ``--eval-datasets`` the scan was given (empty: roles come from the names)."""
        return list(self.options.eval_datasets or [])

    @cached_property
    def image_paths(self) -> list[str]:
        """The image path of every row."""
        return self.table.column("image_path").to_pylist()

    @cached_property
    def mask_paths(self) -> list[str | None]:
        """The mask path of every row (None: no mask)."""
        return self.table.column("mask_path").to_pylist()

    @cached_property
    def row_datasets(self) -> list[str]:
        """The dataset of every row."""
        return self.table.column("dataset").to_pylist()

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Row of an image or mask path: findings point at either, both lead to the sample."""
        rows: dict[str, int] = {}
        for i, p in enumerate(self.mask_paths):
            if p is not None:
                rows[p] = i
        for i, p in enumerate(self.image_paths):
            rows[p] = i
        return rows

    def sha1_of(self, row: int) -> str | None:
        """The image hash of a row (None before a deep scan)."""
        return self.table.column("sha1")[row].as_py()

    def class_label(self, class_id: int) -> str:
        """A class id's name, with the class −1 spelled out."""
        if class_id < 0:
            return "(no class: −1)"
        return self.vocabulary.names[class_id] if class_id < len(self.vocabulary) else f"class #{class_id}"

    @cached_property
    def has_hashes(self) -> bool:
        """The manifest comes from a deep scan (file hashes present)."""
        n = self.num_rows
        return n > 0 and self.table.column("sha1").null_count < n

    @cached_property
    def has_mask_stats(self) -> bool:
        """Mask kinds or foreground shares are present (a deep scan decoded the masks)."""
        return _has_mask_stats(self.table)

    # --------------------------------------------------------------- datasets and classes

    @cached_property
    def datasets(self) -> list[DatasetRow]:
        """``summary["datasets"]`` in its order, with each dataset's split and difficulty."""
        # Per dataset (a handful), not Table.group_by: that loads pyarrow's dataset layer and pandas.
        dataset, difficulty = self.table.column("dataset"), self.table.column("difficulty")
        difficulties: dict[str, list[str]] = defaultdict(list)
        for name in pc.unique(dataset).to_pylist():
            rows = pc.is_in(dataset, value_set=to_arrow([name], pa.string()))
            values = pc.unique(pc.drop_null(pc.filter(difficulty, rows))).to_pylist()
            difficulties[name].extend(values)
        return [
            DatasetRow(
                name=d["name"], samples=d["samples"], labelled=d["labelled"], unlabelled=d["unlabelled"],
                skipped_files=d["skipped_files"], errors=d["errors"], warnings=d["warnings"], infos=d["infos"],
                split=split_of(d["name"], self.eval_datasets),
                difficulty=", ".join(sorted(difficulties.get(d["name"], []), key=difficulty_key)),
            )
            for d in self.summary["datasets"]
        ]

    @cached_property
    def class_counts(self) -> list[ClassCount]:
        """Classes with labelled samples, largest first (ties by name), as in ``summary["class_counts"]``."""
        return [ClassCount(self.vocabulary.id_of(name), name, n) for name, n in self.summary["class_counts"].items()]

    @cached_property
    def unknown_classes(self) -> list[UnknownClass]:
        """Class fields outside the vocabulary, most frequent first."""
        suggestions = self.summary["suggestions"]
        return [UnknownClass(name, n, suggestions.get(name)) for name, n in self.summary["unknown_classes"].items()]

    @cached_property
    def absent_classes(self) -> list[str]:
        """Vocabulary classes without a labelled sample, in vocabulary order."""
        present = self.summary["class_counts"]
        return [name for name in self.vocabulary.names if name not in present]

    @cached_property
    def class_difficulty(self) -> ClassDifficulty:
        """Samples per (class id, difficulty); class rows in vocabulary order, which keeps DIS groups together."""
        grouped = self.table.group_by(["class_id", "difficulty"]).aggregate([("image_path", "count")]).to_pylist()
        cells: dict[int, dict[str, int]] = defaultdict(dict)
        for g in grouped:
            cells[int(g["class_id"])][g["difficulty"]] = int(g["image_path_count"])
        difficulties = sort_difficulties(g["difficulty"] for g in grouped)
        peak = max((n for row in cells.values() for n in row.values()), default=1)
        return ClassDifficulty(sorted(cells, key=lambda c: (c < 0, c)), difficulties, dict(cells), peak)

    # --------------------------------------------------------------- masks

    @cached_property
    def mask_kinds(self) -> list[tuple[str, int]]:
        """(mask kind, count), most frequent first; empty without a deep scan."""
        kinds = (self.summary.get("deep") or {}).get("mask_kinds", {})
        return sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))

    @cached_property
    def fg_ratio_histogram(self) -> list[int]:
        """Masks per tenth of foreground share (0-10 %, ..., 90-100 %); empty without a deep scan."""
        values = pc.drop_null(self.table.column("fg_ratio")).to_numpy(zero_copy_only=False)
        if not len(values):
            return []
        hist, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=FG_RATIO_BINS, range=(0.0, 1.0))
        return [int(n) for n in hist]

    # --------------------------------------------------------------- findings

    @cached_property
    def rule_groups(self) -> list[RuleGroup]:
        """Findings by rule code, worst severity first, then by code (the order every report uses)."""
        from ..rules import ALL_RULES

        by_code: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            by_code[f.code].append(f)
        groups = []
        for code, items in by_code.items():
            rule = ALL_RULES.get(code)
            # A code this version does not know keeps the severity its findings were stored with.
            groups.append(RuleGroup(code, rule.severity if rule else items[0].severity, rule, items))
        return sorted(groups, key=lambda g: (g.severity.rank, g.code))

    # --------------------------------------------------------------- duplicates

    @cached_property
    def dup_groups(self) -> list[DupGroup]:
        """Groups of two or more rows with one ``dup_group``: leaks first, then larger groups."""
        col = self.table.column("dup_group")
        n = self.num_rows
        if n == 0 or col.null_count == n:
            return []
        members: dict[int, list[int]] = defaultdict(list)
        for i, g in enumerate(col.to_pylist()):
            if g is not None:
                members[int(g)].append(i)
        codes_by_path: dict[str, set[str]] = defaultdict(set)
        for f in self.findings:
            if f.related:
                codes_by_path[f.path].add(f.code)
        datasets, images, masks = self.row_datasets, self.image_paths, self.mask_paths
        out = []
        for gid, rows in members.items():
            if len(rows) < 2:
                continue
            names = sorted({datasets[r] for r in rows}, key=natural_key)
            splits = {split_of(d, self.eval_datasets) for d in names}
            codes = sorted({c for r in rows for p in (images[r], masks[r]) if p for c in codes_by_path.get(p, ())})
            # One member per dataset first, so a leaked pair is visible even in a large group.
            firsts: list[int] = []
            rest: list[int] = []
            seen: set[str] = set()
            for r in sorted(rows, key=lambda r: (natural_key(datasets[r]), images[r])):
                (rest if datasets[r] in seen else firsts).append(r)
                seen.add(datasets[r])
            leak = "train" in splits and "eval" in splits
            out.append(DupGroup(gid, firsts + rest, names, leak, codes))
        out.sort(key=lambda g: (not g.leak, -len(g.rows), g.id))
        return out


# ----------------------------------------------------------------------------- helpers


def findings_from_dicts(items: Iterable[dict[str, Any]]) -> list[Finding]:
    """Findings as stored with a manifest (``Finding.to_dict`` dicts) back as ``Finding`` objects.

    Raises ManifestError for a severity this version does not know.
    """
    out = []
    for item in items:
        try:
            severity = Severity(item.get("severity", Severity.INFO.value))
        except ValueError:
            raise ManifestError(f"a stored finding has an unknown severity {item.get('severity')!r}") from None
        out.append(Finding(
            str(item.get("code", "?")), severity, str(item.get("path", "")), str(item.get("message", "")),
            item.get("fix"), item.get("dataset"), tuple(str(r) for r in item.get("related") or ()),
        ))
    return out


def _has_mask_stats(table: pa.Table) -> bool:
    n = table.num_rows
    return n > 0 and (table.column("mask_kind").null_count < n or table.column("fg_ratio").null_count < n)


__all__ = [
    "ClassCount", "ClassDifficulty", "DatasetRow", "DupGroup", "ReportModel", "RuleGroup", "ScanResult",
    "UnknownClass", "findings_from_dicts", "natural_key", "split_of",
]
