"""The scan orchestrator: discover -> probe (parallel) -> rules -> findings -> manifest table.

It knows no rule by name: it hands each dataset listing and each sample to every family in
the registry and collects what they emit.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .findings import Emitter, Finding, RuleSelection, Severity
from .dupes import DEFAULT_MAX_DISTANCE, parse_eval_datasets
from .layout import DatasetListing, LayoutError, PairTask, discover_datasets, list_dataset, select_datasets
from .manifest import (
    COLUMNS, HEADER_COLUMNS, LABEL_OK, ManifestError, ManifestMeta, build_table, empty_columns, read_manifest_table,
)
from .merge import deep_summary, parse_shard, run_manifest_checks, shard_of, strip_cross_file
from .naming import parse_name, split_stem
from .probe import FileInfo, probe_file
from .rules import ALL_RULES, CROSS_FILE_CODES, FAMILIES, Sample
from .vocab import Vocabulary, VocabularyError, infer_vocabulary, resolve_vocabulary

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: ``progress(stage, done, total)``; stages: "list", "probe" (or "decode" with --deep).
ProgressCallback = Callable[[str, int, int], None]
CHUNK = 1024
# Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 4000
# A full decode costs milliseconds per pair, not microseconds: small chunks keep the workers
# evenly loaded and the progress bar moving, and a pool pays off almost at once.
DEEP_CHUNK = 16
DEEP_PARALLEL_THRESHOLD = 32
#: Columns a deep scan fills per sample (``dup_group`` comes from the whole manifest).
SAMPLE_DEEP_COLUMNS: tuple[str, ...] = ("sha1", "phash", "fg_ratio", "mask_kind")


class ScanError(Exception):
    """The scan cannot run (bad root, bad option, unreadable class file); the message says why."""


def parse_difficulty_map(spec: str | dict[str, str] | None) -> dict[str, str]:
    """``"DIS-TE1=easy,DIS-TE4=hard"``, a dict, or a file of ``dataset=difficulty`` / ``dataset,difficulty`` lines."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k): str(v) for k, v in spec.items()}
    text = spec
    if "=" not in spec and Path(spec).is_file():
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScanError(f"cannot read difficulty map {spec}: {exc}") from exc
    out: dict[str, str] = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        sep = "=" if "=" in item else (":" if ":" in item else None)
        if sep is None:
            raise ScanError(f"difficulty map entry {item!r} is not DATASET=DIFFICULTY")
        key, value = (part.strip() for part in item.split(sep, 1))
        if not key or not value:
            raise ScanError(f"difficulty map entry {item!r} is not DATASET=DIFFICULTY")
        out[key] = value
    return out


@dataclass
class ScanResult:
    """What a scan found: the manifest table, every finding, the vocabulary and a summary."""

    root: Path
    table: pa.Table
    findings: list[Finding]
    vocabulary: Vocabulary
    summary: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)

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
        return write_manifest(table, Path(path) if path else self.root / "manifest.parquet")


# ----------------------------------------------------------------------------- workers

@dataclass(frozen=True)
class _Context:
    root: str
    vocab: Vocabulary
    selection: RuleSelection
    has_mask_dir: dict[str, bool]
    difficulty: dict[str, str]
    deep: bool = False
    max_pixels: int = 0


_WORKER_CONTEXT: _Context | None = None

# A task: (pair, prior image info or None, prior mask info or None)
_Task = tuple[PairTask, FileInfo | None, FileInfo | None]


def _init_worker(ctx: _Context) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = ctx


def _evaluate_chunk_in_worker(tasks: Sequence[_Task]) -> tuple[dict[str, list], list[Finding]]:
    assert _WORKER_CONTEXT is not None
    return evaluate_chunk(tasks, _WORKER_CONTEXT)


def evaluate_chunk(tasks: Iterable[_Task], ctx: _Context) -> tuple[dict[str, list], list[Finding]]:
    """Probe (unless prior info is given) and check each pair; return manifest columns and findings."""
    cols = empty_columns(HEADER_COLUMNS + SAMPLE_DEEP_COLUMNS if ctx.deep else HEADER_COLUMNS)
    findings: list[Finding] = []
    vocab, root = ctx.vocab, ctx.root
    emitter = Emitter(ctx.selection)
    append = {name: col.append for name, col in cols.items()}
    for pair, prior_image, prior_mask in tasks:
        image = prior_image or probe_file(os.path.join(root, pair.image_path))
        mask = None
        if pair.mask_path is not None:
            mask = prior_mask or probe_file(os.path.join(root, pair.mask_path))
        stem = split_stem(pair.image_path.rsplit("/", 1)[-1])[0]
        name = parse_name(stem)
        deep = None
        if ctx.deep:
            from .deep import decode_pair

            deep = decode_pair(root, pair.image_path, pair.mask_path, image, mask, ctx.max_pixels)
        sample = Sample(
            pair.dataset, pair.image_path, pair.mask_path, pair.nested,
            ctx.has_mask_dir.get(pair.dataset, True), name, image, mask, vocab, deep,
        )
        emitter.reset()
        emitter.dataset = pair.dataset
        for family in FAMILIES:
            family.check_sample(sample, emitter)
        findings.extend(emitter.findings)
        class_field = name.class_field
        class_id = vocab.id_of(class_field)
        status = emitter.label_status or LABEL_OK
        if status != LABEL_OK:
            class_id = -1
        append["image_path"](pair.image_path)
        append["mask_path"](pair.mask_path)
        append["dataset"](pair.dataset)
        append["difficulty"](ctx.difficulty.get(pair.dataset, pair.dataset))
        append["class_name"](class_field if class_field in vocab else None)
        append["class_id"](class_id)
        append["label_status"](status)
        append["width"](image.width)
        append["height"](image.height)
        append["mask_width"](mask.width if mask else None)
        append["mask_height"](mask.height if mask else None)
        append["file_size"](image.size)
        append["mtime_ns"](image.mtime_ns)
        append["issues"](sorted(set(emitter.codes)))
        append["class_field"](class_field)
        append["image_format"](image.format)
        append["image_mode"](image.mode)
        append["mask_format"](mask.format if mask else None)
        append["mask_mode"](mask.mode if mask else None)
        append["mask_file_size"](mask.size if mask else None)
        append["mask_mtime_ns"](mask.mtime_ns if mask else None)
        if ctx.deep:
            append["sha1"](deep.image.sha1 if deep.image else None)
            append["phash"](deep.phash)
            append["fg_ratio"](deep.fg_ratio)
            append["mask_kind"](deep.mask_kind)
    return cols, findings


def _run_tasks(
    tasks: list[_Task], ctx: _Context, workers: int, progress: ProgressCallback | None
) -> tuple[dict[str, list], list[Finding]]:
    cols = empty_columns(HEADER_COLUMNS + SAMPLE_DEEP_COLUMNS if ctx.deep else HEADER_COLUMNS)
    findings: list[Finding] = []
    total = len(tasks)
    size, threshold, stage = (DEEP_CHUNK, DEEP_PARALLEL_THRESHOLD, "decode") if ctx.deep else (CHUNK, PARALLEL_THRESHOLD, "probe")
    chunks = [tasks[i : i + size] for i in range(0, total, size)]

    def merge(part: tuple[dict[str, list], list[Finding]], done: int) -> int:
        part_cols, part_findings = part
        for name, values in part_cols.items():
            cols[name].extend(values)
        findings.extend(part_findings)
        done += len(part_cols["image_path"])
        if progress:
            progress(stage, done, total)
        return done

    done = 0
    if progress:
        progress(stage, 0, total)
    if workers <= 1 or total < threshold:
        for chunk in chunks:
            done = merge(evaluate_chunk(chunk, ctx), done)
        return cols, findings
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers, initializer=_init_worker, initargs=(ctx,)) as pool:
        for part in pool.imap_unordered(_evaluate_chunk_in_worker, chunks):
            done = merge(part, done)
    return cols, findings


# ----------------------------------------------------------------------------- incremental reuse

def _fingerprint(
    vocab: Vocabulary, selection: RuleSelection, difficulty: dict[str, str], deep: bool = False, max_pixels: int = 0
) -> str:
    """What, besides a file's bytes, decides its row; rows are reused whole only when it matches."""
    items: list[Any] = [
        __version__, list(vocab.names), list(selection.select), list(selection.ignore), sorted(difficulty.items())
    ]
    if deep:  # a header-only fingerprint stays as it was, so older manifests keep being reused
        items.append(["deep", max_pixels])
    return json.dumps(items)


def _clean_rows(old: pa.Table) -> list[bool]:
    """Per row: no issue codes besides cross-file ones (vectorised: this runs on every incremental scan)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    issues = old.column("issues").combine_chunks()
    flat = pc.list_flatten(issues)
    parents = pc.list_parent_indices(issues).to_numpy()
    other = pc.invert(pc.is_in(flat, value_set=pa.array(sorted(CROSS_FILE_CODES), pa.string())))
    dirty = np.zeros(old.num_rows, dtype=bool)
    dirty[parents[other.to_numpy(zero_copy_only=False)]] = True
    return (~dirty).tolist()


def _plan_reuse(
    root: Path, pairs: list[PairTask], old: pa.Table, same_fingerprint: bool
) -> tuple[list[int], list[_Task]]:
    """Split pairs into old rows to keep as they are and tasks to evaluate (with prior header info)."""
    def col(name: str) -> list:
        # to_pylist, not to_numpy: an int64 column with nulls (mask_mtime_ns when a mask is missing)
        # would come back as float64 and lose the low digits of every nanosecond mtime.
        return old.column(name).to_pylist()

    paths, sizes, mtimes = col("image_path"), col("file_size"), col("mtime_ns")
    mask_paths, mask_sizes, mask_mtimes = col("mask_path"), col("mask_file_size"), col("mask_mtime_ns")
    # Cross-file codes (duplicates, class-area outliers) are recomputed on the whole table anyway,
    # so they do not make a row dirty.
    clean = _clean_rows(old)
    fmt, mode, w, h = col("image_format"), col("image_mode"), col("width"), col("height")
    mfmt, mmode, mw, mh = col("mask_format"), col("mask_mode"), col("mask_width"), col("mask_height")
    index = {p: i for i, p in enumerate(paths)}
    keep: list[int] = []
    tasks: list[_Task] = []
    root_s = str(root)
    for pair in pairs:
        i = index.get(pair.image_path)
        if i is None or not clean[i] or mask_paths[i] != pair.mask_path:
            tasks.append((pair, None, None))
            continue
        try:
            st = os.stat(os.path.join(root_s, pair.image_path))
            unchanged = st.st_size == sizes[i] and st.st_mtime_ns == mtimes[i]
            if unchanged and pair.mask_path is not None:
                mst = os.stat(os.path.join(root_s, pair.mask_path))
                unchanged = mst.st_size == mask_sizes[i] and mst.st_mtime_ns == mask_mtimes[i]
        except OSError:
            unchanged = False
        if not unchanged:
            tasks.append((pair, None, None))
        elif same_fingerprint:
            keep.append(i)
        else:
            image = FileInfo(sizes[i], mtimes[i], fmt[i], mode[i], w[i], h[i])
            mask = FileInfo(mask_sizes[i], mask_mtimes[i], mfmt[i], mmode[i], mw[i], mh[i]) if pair.mask_path else None
            tasks.append((pair, image, mask))
    return keep, tasks


# ----------------------------------------------------------------------------- the scan

def scan(
    root: str | os.PathLike,
    *,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    datasets: str | Sequence[str] | None = None,
    classes: str | os.PathLike | Vocabulary | Sequence[str] | None = "dis5k",
    extend_vocab: bool = False,
    difficulty_map: str | dict[str, str] | None = None,
    select: str | Sequence[str] | None = None,
    ignore: str | Sequence[str] | None = None,
    workers: int | None = None,
    incremental: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    deep: bool = False,
    max_pixels: int | None = None,
    eval_datasets: str | Sequence[str] | None = None,
    near_dup_distance: int | None = None,
    shard: str | tuple[int, int] | None = None,
) -> ScanResult:
    """Scan a dataset root: pair every sample, check names, headers and masks, build the manifest.

    ``root`` holds dataset folders (each with an image and a mask folder) or is one.
    ``classes`` is ``"dis5k"`` (default), ``"infer"``, a class-list file, a Vocabulary or a
    list of names. ``incremental`` names an existing manifest whose rows are reused for files
    whose size and mtime are unchanged. Raises ScanError for problems that stop the scan;
    problems in the data become findings.

    ``deep`` decodes every image and mask in full (hashes, mask statistics, duplicate groups;
    see ``dis_audit.deep``), refusing files over ``max_pixels`` (default: Pillow's limit).
    ``eval_datasets`` names the evaluation datasets for the leakage check (default: by name),
    ``near_dup_distance`` the largest pHash distance of a near duplicate. ``shard="i/N"`` scans
    only the samples of shard i (0-based) and leaves the cross-file checks to ``merge``.
    """
    started = time.perf_counter()
    root = Path(root)
    try:
        selection = RuleSelection.parse(select, ignore, ALL_RULES)
        vocab = resolve_vocabulary(classes)
        difficulty = parse_difficulty_map(difficulty_map)
        found = discover_datasets(root, image_dir, mask_dir)
        if not found:
            raise LayoutError(
                f"no dataset found under {root}: expected folders with an image/mask pair "
                "(im/gt, jpgs/masks, Imgs/GT, image/mask, images/masks, *-Image/*-Mask); "
                "use --image-dir/--mask-dir for other names"
            )
        chosen = select_datasets(found, datasets)
        shard_spec = parse_shard(shard)
        eval_names = parse_eval_datasets(eval_datasets)
        if max_pixels is not None and max_pixels < 1:
            raise ValueError(f"--max-pixels must be at least 1, not {max_pixels}")
        if near_dup_distance is not None and not 0 <= near_dup_distance <= 16:
            raise ValueError(f"near-duplicate distance must be 0..16 bits, not {near_dup_distance}")
    except (LayoutError, VocabularyError, ValueError) as exc:
        raise ScanError(str(exc)) from exc
    if deep and max_pixels is None:
        from .deep import default_max_pixels

        max_pixels = default_max_pixels()
    distance = DEFAULT_MAX_DISTANCE if near_dup_distance is None else near_dup_distance

    listings: list[DatasetListing] = []
    for i, ds in enumerate(chosen):
        listings.append(list_dataset(root, ds))
        if progress:
            progress("list", i + 1, len(chosen))
    dataset_findings: list[Finding] = []
    for listing in listings:
        emitter = Emitter(selection, dataset=listing.dataset.name)
        for family in FAMILIES:
            family.check_dataset(listing, emitter)
        dataset_findings.extend(emitter.findings)
    pairs = [pair for listing in listings for pair in listing.pairs]
    if shard_spec is not None:
        pairs = [pair for pair in pairs if shard_of(pair.image_path, shard_spec[1]) == shard_spec[0]]

    if vocab is None or extend_vocab:
        fields = Counter(parse_name(split_stem(p.image_path.rsplit("/", 1)[-1])[0]).class_field for p in pairs)
        if vocab is None:
            vocab = infer_vocabulary(fields)
        base = vocab
        if extend_vocab:
            # A near-miss ('airplane') is a typo to fix, not a new class.
            vocab = vocab.extended(c for c in fields if c and c not in vocab and vocab.suggest(c) is None)
        extended = list(vocab.names[len(base) :])
    else:
        extended = []

    ctx = _Context(
        root=str(root),
        vocab=vocab,
        selection=selection,
        has_mask_dir={l.dataset.name: l.dataset.mask_dir is not None for l in listings},
        difficulty={l.dataset.name: difficulty.get(l.dataset.name, difficulty.get(l.dataset.rel, l.dataset.name)) for l in listings},
        deep=deep,
        max_pixels=max_pixels or 0,
    )
    fingerprint = _fingerprint(vocab, selection, ctx.difficulty, deep, max_pixels or 0)

    old_table = None
    reuse_note = None
    if incremental is not None and Path(incremental).exists():
        try:
            old_table, old_meta = read_manifest_table(incremental)
            same = old_meta.options.get("fingerprint") == fingerprint
        except ManifestError as exc:
            reuse_note = f"previous manifest not reused: {exc}"
            old_table = None
    if old_table is not None:
        keep, tasks = _plan_reuse(root, pairs, old_table, same)
    else:
        keep, tasks = [], [(pair, None, None) for pair in pairs]

    workers = max(1, workers or os.cpu_count() or 1)
    cols, sample_findings = _run_tasks(tasks, ctx, workers, progress)

    options = {
        "image_dir": image_dir, "mask_dir": mask_dir,
        "datasets": datasets if isinstance(datasets, (str, type(None))) else list(datasets),
        "classes": vocab.source, "extend_vocab": extend_vocab, "difficulty_map": ctx.difficulty,
        "select": list(selection.select), "ignore": list(selection.ignore), "fingerprint": fingerprint,
        "extended_classes": extended, "deep": deep, "max_pixels": max_pixels if deep else None,
        "eval_datasets": sorted(eval_names) if eval_names else None, "near_dup_distance": distance,
        "shard": f"{shard_spec[0]}/{shard_spec[1]}" if shard_spec else None,
        # What merge needs to rebuild the per-dataset summary of a sharded scan.
        "listings": [
            {"name": l.dataset.name, "rel": l.dataset.rel, "image_dir": l.dataset.image_dir,
             "mask_dir": l.dataset.mask_dir, "clutter": l.clutter}
            for l in listings
        ],
    }
    meta = ManifestMeta(vocabulary=list(vocab.names), tool_version=__version__, root=str(root.resolve()), options=options)
    table = build_table(cols, meta)
    if keep:
        import pyarrow as pa

        kept = old_table.select(list(COLUMNS)).take(keep).cast(table.schema)
        table = pa.concat_tables([kept, table])
    table = strip_cross_file(table.sort_by("image_path"))
    cross_findings: list[Finding] = []
    if shard_spec is None:  # a shard sees part of the data: cross-file checks wait for `merge`
        table, cross_findings = run_manifest_checks(table, selection, options)

    findings = dataset_findings + sample_findings + cross_findings
    findings.sort(key=lambda f: (f.path, f.code))
    summary = summarize(table, findings, listings, vocab, extended)
    if deep:
        summary["deep"] = deep_summary(table)
    if shard_spec is not None:
        summary["shard"] = options["shard"]
    summary["reused_rows"] = len(keep)
    summary["probed_samples"] = sum(1 for _, prior, _ in tasks if prior is None)
    if reuse_note:
        summary["note"] = reuse_note
    summary["elapsed_s"] = round(time.perf_counter() - started, 3)
    return ScanResult(root=root, table=table, findings=findings, vocabulary=vocab, summary=summary, options=options)


def summarize(
    table: pa.Table, findings: list[Finding], listings: list[DatasetListing], vocab: Vocabulary, extended: list[str]
) -> dict[str, Any]:
    """Counts for the report: per dataset, per class, per rule, and classes outside the vocabulary."""
    import pyarrow.compute as pc

    datasets = table.column("dataset").to_pylist()
    class_ids = table.column("class_id").to_numpy()
    class_fields = table.column("class_field").to_pylist()
    per_ds_samples = Counter(datasets)
    per_ds_labelled = Counter(d for d, c in zip(datasets, class_ids) if c >= 0)
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
    counts = pc.value_counts(pc.filter(table.column("class_id"), pc.greater_equal(table.column("class_id"), 0)))
    class_counts = {vocab.names[int(item["values"])]: int(item["counts"]) for item in counts.to_pylist()}
    class_counts = dict(sorted(class_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    unknown = Counter(c for c in class_fields if c is not None and c not in vocab)
    severity = Counter(f.severity.value for f in findings)
    n = table.num_rows
    labelled = int((class_ids >= 0).sum()) if n else 0
    return {
        "samples": n,
        "labelled": labelled,
        "unlabelled": n - labelled,
        "skipped_files": sum(l.clutter for l in listings),
        "datasets": ds_rows,
        "findings": {"error": severity.get("error", 0), "warning": severity.get("warning", 0), "info": severity.get("info", 0)},
        "by_rule": dict(sorted(Counter(f.code for f in findings).items())),
        "class_counts": class_counts,
        "unknown_classes": dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))),
        "suggestions": {c: s for c in unknown if (s := vocab.suggest(c))},
        "vocabulary_source": vocab.source,
        "vocabulary_size": len(vocab),
        "extended_classes": extended,
    }
