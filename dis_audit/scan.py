"""The scan orchestrator: discover -> probe (parallel) -> rules -> findings -> manifest table.

It knows no rule by name: it hands each dataset listing and each sample to every family in
the registry and collects what they emit. The steps live beside it: ``_evaluate`` (one chunk:
probe, per-sample checks, rows), ``_pool`` (chunks in worker processes), ``_incremental`` (rows
of a previous manifest that still hold), ``crossfile`` (whole-manifest checks) and ``summary``.
"""

from __future__ import annotations

import functools
import gc
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._evaluate import ChunkContext
from ._incremental import ReuseIndex, fold_rereads, plan_reuse
from ._pool import ProgressCallback, WorkerDied, cap_workers, run_tasks
from ._prelist import ListingJob, import_table_modules
from ._unchanged import ManifestOnDisk, identity_of
from ._version import __version__
from .arrowlists import to_arrow
from .crossfile import run_manifest_checks, strip_cross_file
from .dupes import DEFAULT_MAX_DISTANCE
from .executor import Executor, ExecutorError, get_executor
from .findings import Emitter, Finding, RuleSelection
from .fingerprint import scan_fingerprint
from .layout import (
    DatasetDir,
    LayoutError,
    check_dataset_names,
    dataset_matches,
    discover_datasets,
    select_datasets,
)
from .loaders import choose_profile
from .manifest import (
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
from .quality import QualityThresholds
from .rules import ALL_RULES, FAMILIES
from .shards import parse_shard, shard_of
from .splits import parse_eval_datasets
from .summary import ScanResult, deep_summary, summarize
from .vocab import Vocabulary, VocabularyError, infer_vocabulary, resolve_vocabulary

if TYPE_CHECKING:
    import pyarrow as pa


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
        separators: tuple[str, ...] = ("=", ",", ":")
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


def _difficulty_of(dataset: DatasetDir, mapping: dict[str, str]) -> str:
    """The mapped difficulty of ``dataset`` (by name, then path, then the name's last part), else its name."""
    for key in (dataset.name, dataset.rel, dataset.name.rsplit("/", 1)[-1]):
        if key in mapping:
            return mapping[key]
    return dataset.name


def _read_previous(
    path: Path | None,
) -> tuple[tuple[pa.Table, ManifestMeta, ReuseIndex, ManifestOnDisk | None] | None, str | None]:
    """The manifest ``--incremental`` reuses rows of (None if there is none), and a note when it cannot be read.

    The table comes conformed (by name, with nulls for columns an older manifest lacks), with its
    ``_incremental.ReuseIndex`` and what the file was (``_unchanged``: a rewrite of the same
    content is left out).
    """
    if path is None:
        return None, None
    identity = identity_of(path)  # before the read: a change made meanwhile shows at the write
    try:
        table, meta = read_manifest_table(path)
    except ManifestError as exc:
        return None, f"previous manifest not reused: {exc}"
    table = conform_table(table)
    return (table, meta, ReuseIndex(table), ManifestOnDisk.note(path, identity, table)), None


def _by_image_path(table: pa.Table) -> pa.Table:
    """``table`` sorted by image path, as it is when it already is (rows kept from a sorted manifest)."""
    import pyarrow.compute as pc

    paths = table.column("image_path")
    # Strictly increasing (no nulls, no repeats) is the order sort_by gives; the check costs ~1 ms.
    if len(paths) < 2 or pc.all(pc.less(paths.slice(0, len(paths) - 1), paths.slice(1)), skip_nulls=False).as_py():
        return table
    return table.sort_by("image_path")


# ----------------------------------------------------------------------------- the scan

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def _gc_paused(fn: _Fn) -> _Fn:
    """Run ``fn`` with the cyclic garbage collector off (and back in its former state afterwards).

    A scan allocates millions of small acyclic objects (paths, tuples, rows) that reference
    counting frees; the collector would only walk the growing heap again and again, and under
    fork its passes write to pages the workers would otherwise share.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return cast(_Fn, wrapper)


@_gc_paused
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
    executor: str | Executor | None = None,
    address: str | None = None,
    quality_thresholds: Mapping[str, float] | str | Sequence[str] | None = None,
    config: dict[str, Any] | None = None,
    loader: str | None = None,
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
    ``executor="ray"`` evaluates the chunks as tasks on the Ray cluster at ``address`` (or
    ``RAY_ADDRESS``; see ``dis_audit.executor``); the result is the same as a local scan's.
    ``quality_thresholds`` overrides DA6xx thresholds (``{"dark_high": 60}`` or ``"dark_high=60,..."``;
    see ``dis_audit.quality.QualityThresholds``).
    ``config`` is the effective project configuration (``config.Settings.record()``), recorded
    in the manifest metadata as ``ScanOptions.config``.
    ``loader`` names the loader profile the labels follow (``dis_audit.loaders``: ``"birefnet"``,
    ``"birefnet-fork"``, ``"dis-audit"``); None or ``"auto"`` picks it from the folder layout.
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
        profile = choose_profile(loader, [d.image_dir for d in chosen])
        shard_spec = parse_shard(shard)
        eval_names = parse_eval_datasets(eval_datasets)
        # Checked against every dataset found (not only the chosen ones), so one configuration
        # serves scans of a few datasets; a typo is refused instead of quietly changing roles.
        check_dataset_names("--eval-datasets", sorted(eval_names or ()), found)
        if eval_names:  # recorded by dataset name, the one key the leakage rules and reports compare
            eval_names = frozenset(d.name for d in found if any(dataset_matches(n, d) for n in eval_names))
        check_dataset_names("--difficulty-map", list(difficulty), found)
        if max_pixels is not None and max_pixels < 1:
            raise ValueError(f"--max-pixels must be at least 1, not {max_pixels}")
        if near_dup_distance is not None and not 0 <= near_dup_distance <= 16:
            raise ValueError(f"near-duplicate distance must be 0..16 bits, not {near_dup_distance}")
        thresholds = QualityThresholds.parse(quality_thresholds)
    except (LayoutError, VocabularyError, ValueError) as exc:  # LoaderError is a ValueError
        raise ScanError(str(exc)) from exc
    if deep and max_pixels is None:
        from .deep import default_max_pixels

        max_pixels = default_max_pixels()
    distance = DEFAULT_MAX_DISTANCE if near_dup_distance is None else near_dup_distance

    workers, workers_note = cap_workers(workers)
    previous_path = Path(incremental) if incremental is not None and Path(incremental).exists() else None
    # The stat calls of --incremental come with the listing (in the child, when there is one).
    stat_threads = workers if previous_path is not None and shard_spec is None else 0
    with ListingJob(root, chosen, stat_threads) as listing_job:
        # While a child lists and pairs the folders (``_prelist``), this process imports pyarrow and
        # reads the previous manifest; without a child, the same steps run one after the other.
        import_table_modules()
        previous, reuse_note = _read_previous(previous_path)
        listings, stats = listing_job.result(progress)
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
        if extend_vocab:
            # A near-miss ('airplane') is a typo to fix, not a new class.
            vocab = vocab.extended(c for c in fields if c and c not in vocab and vocab.suggest(c) is None)
    # Including classes appended before, when the vocabulary is a manifest's extended one (vocab_choice).
    extended = list(vocab.appended_names)

    ctx = ChunkContext(
        root=str(root),
        vocab=vocab,
        selection=selection,
        has_mask_dir={ls.dataset.name: ls.dataset.mask_dir is not None for ls in listings},
        difficulty={ls.dataset.name: _difficulty_of(ls.dataset, difficulty) for ls in listings},
        deep=deep,
        max_pixels=max_pixels or 0,
        thresholds=thresholds,
        loader=profile,
        folders={ls.dataset.name: (ls.dataset.image_dir, ls.dataset.mask_dir) for ls in listings},
    )
    fingerprint = scan_fingerprint(
        tool_version=__version__, vocabulary=vocab.names, select=selection.select, ignore=selection.ignore,
        difficulty=ctx.difficulty, deep=deep, max_pixels=max_pixels or 0, thresholds=thresholds.changed(),
    )

    old_table = on_disk = None
    if previous is not None:
        old_table, old_meta, old_index, on_disk = previous
        # Another loader profile labels the same files differently: re-run the checks.
        same = old_meta.options.fingerprint == fingerprint and old_meta.options.loader == profile.name
    try:
        if old_table is not None:
            keep, tasks = plan_reuse(root, pairs, old_table, same, workers, stats, old_index)
        else:
            keep, tasks = [], [(pair, None, None) for pair in pairs]
        remote = None if executor in (None, "local") else get_executor(executor, workers, address).map_unordered
        parts, sample_findings = run_tasks(tasks, ctx, workers, progress, remote)
    except (WorkerDied, ExecutorError) as exc:
        raise ScanError(str(exc)) from exc
    reused = len(keep)
    if old_table is not None:
        keep, parts = fold_rereads(old_table, old_index, keep, parts)

    options = ScanOptions(
        image_dir=image_dir, mask_dir=mask_dir,
        datasets=datasets if isinstance(datasets, (str, type(None))) else tuple(datasets),
        classes=vocab.source, extend_vocab=extend_vocab, difficulty_map=ctx.difficulty,
        select=tuple(selection.select), ignore=tuple(selection.ignore), fingerprint=fingerprint,
        extended_classes=tuple(extended), deep=deep, max_pixels=max_pixels if deep else None,
        eval_datasets=tuple(sorted(eval_names)) if eval_names else None, near_dup_distance=distance,
        shard=f"{shard_spec[0]}/{shard_spec[1]}" if shard_spec else None, config=config,
        quality_thresholds=thresholds.changed() if deep else {},
        loader=profile.name,
        # What merge needs to rebuild the per-dataset summary of a sharded scan.
        listings=tuple(
            ListingRecord(name=ls.dataset.name, rel=ls.dataset.rel, image_dir=ls.dataset.image_dir,
                          mask_dir=ls.dataset.mask_dir, clutter=ls.clutter)
            for ls in listings
        ),
    )
    meta = ManifestMeta(vocabulary=list(vocab.names), tool_version=__version__, root=str(root.resolve()), options=options)
    import pyarrow as pa

    table = build_table(pa.concat_tables(parts) if parts else columns_to_table({}), meta)
    if keep and old_table is not None:
        # A re-scan of an unchanged tree keeps every old row in its order: no copy then.
        every_row = len(keep) == old_table.num_rows and keep == list(range(len(keep)))
        if every_row and len(keep) > reused and not parts:
            # Every re-read row came back as it was (``fold_rereads``): the old table as it is.
            table = old_table.replace_schema_metadata(table.schema.metadata)
        else:
            kept = old_table if every_row else old_table.take(to_arrow(keep, pa.int64()))
            table = pa.concat_tables([kept.replace_schema_metadata(table.schema.metadata), table])
    table = strip_cross_file(_by_image_path(table))
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
    summary["reused_rows"] = reused
    summary["probed_samples"] = sum(1 for _, prior, _ in tasks if prior is None)
    notes = [note for note in (workers_note, reuse_note) if note]
    if notes:
        summary["note"] = "; ".join(notes)
    summary["elapsed_s"] = round(time.perf_counter() - started, 3)
    return ScanResult(root=root, table=table, findings=findings, vocabulary=vocab, summary=summary, options=options,
                      _on_disk=on_disk)
