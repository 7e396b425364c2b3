"""The scan orchestrator: discover -> probe (parallel) -> rules -> findings -> manifest table.

It knows no rule by name: it hands each dataset listing and each sample to every family in
the registry and collects what they emit.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .crossfile import run_manifest_checks, strip_cross_file
from .dupes import DEFAULT_MAX_DISTANCE, parse_eval_datasets
from .findings import Emitter, Finding, RuleSelection
from .fingerprint import scan_fingerprint
from .layout import (
    DatasetDir,
    DatasetListing,
    LayoutError,
    PairTask,
    discover_datasets,
    index_folder,
    pair_dataset,
    select_datasets,
)
from .manifest import (
    LABEL_OK,
    ListingRecord,
    ManifestError,
    ManifestMeta,
    ScanOptions,
    build_table,
    columns_to_table,
    conform_table,
    read_manifest_table,
)
from .naming import parse_name, split_path
from .probe import FileInfo, probe_file
from .rules import ALL_RULES, CROSS_FILE_CODES, FAMILIES, Sample
from .shards import parse_shard, shard_of
from .summary import ScanResult, deep_summary, summarize
from .vocab import Vocabulary, VocabularyError, infer_vocabulary, resolve_vocabulary

if TYPE_CHECKING:
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


class ScanError(Exception):
    """The scan cannot run (bad root, bad option, unreadable class file); the message says why."""


def parse_difficulty_map(spec: str | dict[str, str] | None) -> dict[str, str]:
    """``"DIS-TE1=easy,DIS-TE4=hard"``, a dict, or a file of ``dataset=difficulty`` / ``dataset,difficulty`` lines."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k): str(v) for k, v in spec.items()}
    if "=" not in spec and Path(spec).is_file():
        try:
            # A file: one mapping a line, DATASET=DIFFICULTY or DATASET,DIFFICULTY (CSV-like).
            items = Path(spec).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ScanError(f"cannot read difficulty map {spec}: {exc}") from exc
        separators = ("=", ",", ":")
    else:
        items = spec.split(",")
        separators = ("=", ":")
    out: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        sep = next((c for c in separators if c in item), None)
        if sep is None:
            raise ScanError(f"difficulty map entry {item!r} is not DATASET=DIFFICULTY")
        key, value = (part.strip() for part in item.split(sep, 1))
        if not key or not value:
            raise ScanError(f"difficulty map entry {item!r} is not DATASET=DIFFICULTY")
        out[key] = value
    return out


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
# Under fork, workers inherit the task list and take index ranges: nothing is pickled on the way in.
_FORKED_TASKS: list | None = None

# A task: (pair, prior image info or None, prior mask info or None)
_Task = tuple[PairTask, FileInfo | None, FileInfo | None]


def _init_worker(ctx: _Context) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = ctx


def evaluate_chunk(tasks: Iterable[_Task], ctx: _Context) -> tuple[dict[str, list], list[Finding]]:
    """Probe (unless prior info is given) and check each pair; return manifest columns and findings.

    Columns are filled by name; ``manifest.columns_to_table`` checks them against the schema.
    """
    # Appends by column name, measured nearly as fast as the positional tuples they replace.
    cols: defaultdict[str, list] = defaultdict(list)
    findings: list[Finding] = []
    vocab, root = ctx.vocab, ctx.root
    emitter = Emitter(ctx.selection)
    checks = [family.check_sample for family in FAMILIES]
    has_mask_dir, difficulty = ctx.has_mask_dir, ctx.difficulty
    if ctx.deep:
        from .deep import decode_pair
    deep = None
    for (dataset, image_path, mask_path, nested), prior_image, prior_mask in tasks:
        image = prior_image or probe_file(f"{root}/{image_path}")
        stem, image_ext = split_path(image_path)
        name = parse_name(stem)
        if mask_path is None:
            mask, mask_ext = None, ""
        else:
            mask = prior_mask or probe_file(f"{root}/{mask_path}")
            mask_ext = split_path(mask_path)[1]
        if ctx.deep:
            deep = decode_pair(root, image_path, mask_path, image, mask, ctx.max_pixels)
        sample = Sample(
            dataset, image_path, mask_path, nested, has_mask_dir.get(dataset, True), name, image, mask, vocab,
            image_ext, mask_ext, deep,
        )
        emitter.reset()
        emitter.dataset = dataset
        for check in checks:
            check(sample, emitter)
        if emitter.findings:
            findings.extend(emitter.findings)

        # The label: the class the name gives, unless a naming check refused it (then class -1).
        class_field = name.class_field
        status = emitter.label_status or LABEL_OK
        class_id = vocab.id_of(class_field) if status == LABEL_OK else -1
        class_name = class_field if class_field in vocab else None

        cols["image_path"].append(image_path)
        cols["mask_path"].append(mask_path)
        cols["dataset"].append(dataset)
        cols["difficulty"].append(difficulty.get(dataset, dataset))
        cols["class_name"].append(class_name)
        cols["class_id"].append(class_id)
        cols["label_status"].append(status)
        cols["class_field"].append(class_field)
        cols["issues"].append(sorted(set(emitter.codes)))
        cols["width"].append(image.width)
        cols["height"].append(image.height)
        cols["file_size"].append(image.size)
        cols["mtime_ns"].append(image.mtime_ns)
        cols["image_format"].append(image.format)
        cols["image_mode"].append(image.mode)
        cols["mask_width"].append(mask.width if mask else None)
        cols["mask_height"].append(mask.height if mask else None)
        cols["mask_format"].append(mask.format if mask else None)
        cols["mask_mode"].append(mask.mode if mask else None)
        cols["mask_file_size"].append(mask.size if mask else None)
        cols["mask_mtime_ns"].append(mask.mtime_ns if mask else None)
        if ctx.deep:
            cols["sha1"].append(deep.image.sha1 if deep and deep.image else None)
            cols["phash"].append(deep.phash if deep else None)
            cols["fg_ratio"].append(deep.fg_ratio if deep else None)
            cols["mask_kind"].append(deep.mask_kind if deep else None)
    return dict(cols), findings


def _evaluate_to_table(tasks: Sequence[_Task], ctx: _Context) -> tuple[pa.Table, list[Finding]]:
    # Arrow columns are a fraction of the size of Python lists of str and int: building them in
    # the worker keeps a million-file scan's main process small, and they pickle as flat buffers.
    cols, findings = evaluate_chunk(tasks, ctx)
    return columns_to_table(cols), findings


def _evaluate_chunk_in_worker(tasks: Sequence[_Task]) -> tuple[pa.Table, list[Finding]]:
    assert _WORKER_CONTEXT is not None
    return _evaluate_to_table(tasks, _WORKER_CONTEXT)


def _evaluate_range_in_worker(bounds: tuple[int, int]) -> tuple[pa.Table, list[Finding]]:
    assert _WORKER_CONTEXT is not None and _FORKED_TASKS is not None
    return _evaluate_to_table(_FORKED_TASKS[bounds[0] : bounds[1]], _WORKER_CONTEXT)


def _run_tasks(
    tasks: list[_Task], ctx: _Context, workers: int, progress: ProgressCallback | None
) -> tuple[list[pa.Table], list[Finding]]:
    """Evaluate every task, in worker processes when there are many; Arrow tables per chunk, and findings."""
    parts: list[pa.Table] = []
    findings: list[Finding] = []
    total = len(tasks)
    size, threshold, stage = (DEEP_CHUNK, DEEP_PARALLEL_THRESHOLD, "decode") if ctx.deep else (CHUNK, PARALLEL_THRESHOLD, "probe")

    def merge(part: tuple[pa.Table, list[Finding]], done: int) -> int:
        table, part_findings = part
        parts.append(table)
        findings.extend(part_findings)
        done += table.num_rows
        if progress:
            progress(stage, done, total)
        return done

    done = 0
    if progress:
        progress(stage, 0, total)
    if workers <= 1 or total < threshold:
        for i in range(0, total, size):
            done = merge(_evaluate_to_table(tasks[i : i + size], ctx), done)
        return parts, findings
    # pyarrow imports pandas on its first array build; doing it once here, before the fork, spares
    # every worker the import (and a fork never catches a half-done import of another thread).
    import pandas  # noqa: F401

    global _FORKED_TASKS, _WORKER_CONTEXT
    # A process pool that notices a dead worker (out of memory, a decoder crash) and says so,
    # where multiprocessing.Pool would wait for it forever.
    if "fork" in multiprocessing.get_all_start_methods():
        _FORKED_TASKS, _WORKER_CONTEXT = tasks, ctx
        try:
            jobs = [(i, min(i + size, total)) for i in range(0, total, size)]
            for part in _pool_results(workers, "fork", None, _evaluate_range_in_worker, jobs):
                done = merge(part, done)
        finally:
            _FORKED_TASKS, _WORKER_CONTEXT = None, None
        return parts, findings
    chunks = [tasks[i : i + size] for i in range(0, total, size)]
    for part in _pool_results(workers, "spawn", ctx, _evaluate_chunk_in_worker, chunks):
        done = merge(part, done)
    return parts, findings


def _pool_results(workers: int, method: str, ctx: _Context | None, fn: Callable, jobs: list) -> Iterable:
    """Results of ``fn`` over ``jobs`` in worker processes, as they complete."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    initializer, initargs = (_init_worker, (ctx,)) if ctx is not None else (None, ())
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(method), initializer=initializer, initargs=initargs
    ) as pool:
        futures = [pool.submit(fn, job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool as exc:
            for future in futures:
                future.cancel()
            raise ScanError(
                "a worker process died while reading files (out of memory, or a crash in an image decoder); "
                "rerun with --workers 1 to see which file"
            ) from exc


# ----------------------------------------------------------------------------- listing

def _list_datasets(root: Path, datasets: list[DatasetDir], progress: ProgressCallback | None) -> list[DatasetListing]:
    """Index every image and mask folder, then pair each dataset.

    Serial on purpose: listing in worker processes was measured slower (0.57-0.66 s against
    0.46-0.53 s for 100k files), since sending the folder indexes back costs more than listing.
    """
    listings = []
    for i, ds in enumerate(datasets):
        images = index_folder(root, ds.image_dir)
        masks = index_folder(root, ds.mask_dir) if ds.mask_dir else None
        listings.append(pair_dataset(ds, images, masks))
        if progress:
            progress("list", i + 1, len(datasets))
    return listings


# ----------------------------------------------------------------------------- incremental reuse

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


# Under fork, the stat workers inherit what they compare against.
_FORKED_STAT_INPUT: tuple | None = None


def _match_unchanged(bounds: tuple[int, int]) -> list[int]:
    """For pairs[start:stop]: the old row index when image and mask are unchanged on disk, else -1."""
    assert _FORKED_STAT_INPUT is not None
    root, pairs, index, clean, mask_paths, sizes, mtimes, mask_sizes, mask_mtimes = _FORKED_STAT_INPUT
    out: list[int] = []
    stat = os.stat
    for pair in pairs[bounds[0] : bounds[1]]:
        i = index.get(pair.image_path, -1)
        if i < 0 or not clean[i] or mask_paths[i] != pair.mask_path:
            out.append(-1)
            continue
        try:
            st = stat(f"{root}/{pair.image_path}")
            if st.st_size != sizes[i] or st.st_mtime_ns != mtimes[i]:
                i = -1
            elif pair.mask_path is not None:
                st = stat(f"{root}/{pair.mask_path}")
                if st.st_size != mask_sizes[i] or st.st_mtime_ns != mask_mtimes[i]:
                    i = -1
        except OSError:
            i = -1
        out.append(i)
    return out


def _match_unchanged_part(bounds: tuple[int, int]) -> tuple[int, list[int]]:
    return bounds[0], _match_unchanged(bounds)


def _plan_reuse(
    root: Path, pairs: list[PairTask], old: pa.Table, same_fingerprint: bool, workers: int
) -> tuple[list[int], list[_Task]]:
    """Split pairs into old rows to keep as they are and tasks to evaluate (with prior header info).

    Only rows without findings are reused: the manifest keeps codes, not messages, so rows
    with findings are re-read to report them in full.
    """
    import pyarrow as pa

    def col(name: str) -> list:
        column = old.column(name)
        if pa.types.is_integer(column.type):
            # Nulls would turn the whole column into float64 and lose nanosecond mtimes.
            return [None if v == -1 else v for v in column.fill_null(-1).to_numpy().tolist()]
        return column.to_numpy(zero_copy_only=False).tolist()

    global _FORKED_STAT_INPUT
    paths = col("image_path")
    # Cross-file codes (duplicates, class-area outliers) are recomputed on the whole table anyway,
    # so they do not make a row dirty.
    clean = _clean_rows(old)
    sizes, mtimes, mask_sizes, mask_mtimes = col("file_size"), col("mtime_ns"), col("mask_file_size"), col("mask_mtime_ns")
    _FORKED_STAT_INPUT = (
        str(root), pairs, {p: i for i, p in enumerate(paths)}, clean, col("mask_path"),
        sizes, mtimes, mask_sizes, mask_mtimes,
    )
    try:
        n = len(pairs)
        if workers > 1 and n >= PARALLEL_THRESHOLD and "fork" in multiprocessing.get_all_start_methods():
            step = -(-n // (workers * 4))
            bounds = [(i, min(i + step, n)) for i in range(0, n, step)]
            # Results come back as they complete; each part is keyed by its start to restore order.
            by_start = dict(_pool_results(workers, "fork", None, _match_unchanged_part, bounds))
            matched = [i for start, _ in bounds for i in by_start[start]]
        else:
            matched = _match_unchanged((0, n))
    finally:
        _FORKED_STAT_INPUT = None
    keep: list[int] = []
    tasks: list[_Task] = []
    if same_fingerprint:
        for pair, i in zip(pairs, matched):
            if i < 0:
                tasks.append((pair, None, None))
            else:
                keep.append(i)
        return keep, tasks
    fmt, mode, w, h = col("image_format"), col("image_mode"), col("width"), col("height")
    mfmt, mmode, mw, mh = col("mask_format"), col("mask_mode"), col("mask_width"), col("mask_height")
    for pair, i in zip(pairs, matched):
        if i < 0:
            tasks.append((pair, None, None))
            continue
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

    workers = max(1, workers or os.cpu_count() or 1)
    listings = _list_datasets(root, chosen, progress)
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
        fields = Counter(parse_name(split_path(p.image_path)[0]).class_field for p in pairs)
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
    fingerprint = scan_fingerprint(
        tool_version=__version__, vocabulary=vocab.names, select=selection.select, ignore=selection.ignore,
        difficulty=ctx.difficulty, deep=deep, max_pixels=max_pixels or 0,
    )

    old_table = None
    reuse_note = None
    if incremental is not None and Path(incremental).exists():
        try:
            old_table, old_meta = read_manifest_table(incremental)
            same = old_meta.options.fingerprint == fingerprint
        except ManifestError as exc:
            reuse_note = f"previous manifest not reused: {exc}"
            old_table = None
    if old_table is not None:
        keep, tasks = _plan_reuse(root, pairs, old_table, same, workers)
    else:
        keep, tasks = [], [(pair, None, None) for pair in pairs]
    parts, sample_findings = _run_tasks(tasks, ctx, workers, progress)

    options = ScanOptions(
        image_dir=image_dir, mask_dir=mask_dir,
        datasets=datasets if isinstance(datasets, (str, type(None))) else tuple(datasets),
        classes=vocab.source, extend_vocab=extend_vocab, difficulty_map=ctx.difficulty,
        select=tuple(selection.select), ignore=tuple(selection.ignore), fingerprint=fingerprint,
        extended_classes=tuple(extended), deep=deep, max_pixels=max_pixels if deep else None,
        eval_datasets=tuple(sorted(eval_names)) if eval_names else None, near_dup_distance=distance,
        shard=f"{shard_spec[0]}/{shard_spec[1]}" if shard_spec else None,
        # What merge needs to rebuild the per-dataset summary of a sharded scan.
        listings=tuple(
            ListingRecord(name=l.dataset.name, rel=l.dataset.rel, image_dir=l.dataset.image_dir,
                          mask_dir=l.dataset.mask_dir, clutter=l.clutter)
            for l in listings
        ),
    )
    meta = ManifestMeta(vocabulary=list(vocab.names), tool_version=__version__, root=str(root.resolve()), options=options)
    import pyarrow as pa

    table = build_table(pa.concat_tables(parts) if parts else columns_to_table({}), meta)
    if keep:
        kept = conform_table(old_table).take(keep).replace_schema_metadata(table.schema.metadata)
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
        summary["shard"] = options.shard
    summary["reused_rows"] = len(keep)
    summary["probed_samples"] = sum(1 for _, prior, _ in tasks if prior is None)
    if reuse_note:
        summary["note"] = reuse_note
    summary["elapsed_s"] = round(time.perf_counter() - started, 3)
    return ScanResult(root=root, table=table, findings=findings, vocabulary=vocab, summary=summary, options=options)
