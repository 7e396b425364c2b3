"""Evaluating one chunk of samples: probe headers (or decode in full), run the per-sample checks, build rows.

Runs in the scan's worker processes (see ``_pool``) or in the main process for small scans.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from .findings import Emitter, Finding, RuleSelection
from .layout import PairTask
from .loaders import BIREFNET, LoaderProfile
from .manifest import columns_to_table
from .naming import SEPARATOR, ParsedName, split_path
from .probe import FileInfo, probe_files
from .quality import QualityThresholds
from .rules import FAMILIES, CheckFamily, Sample
from .rules.clean import CleanKey, clean_key, shortcut_applies
from .rules.labels import label_row
from .rules.quality import judged_fit
from .vocab import Vocabulary

if TYPE_CHECKING:
    import pyarrow as pa

    from .deep import DeepInfo

DEFAULT_THRESHOLDS = QualityThresholds()
#: A task: a pair with its prior image and mask header info (from a reused manifest row) or None.
Task = tuple[PairTask, FileInfo | None, FileInfo | None]


@dataclass(frozen=True)
class ChunkContext:
    """What every chunk of one scan shares (sent once to each worker)."""

    root: str
    vocab: Vocabulary
    selection: RuleSelection
    has_mask_dir: dict[str, bool]
    difficulty: dict[str, str]
    deep: bool = False
    max_pixels: int = 0
    #: The DA6xx thresholds (``--quality-threshold``).
    thresholds: QualityThresholds = DEFAULT_THRESHOLDS
    loader: LoaderProfile = BIREFNET
    #: dataset -> (image folder, mask folder or None), relative to the root.
    folders: dict[str, tuple[str, str | None]] | None = None


#: The header columns of a row, in the order ``evaluate_chunk`` builds its tuples: a value out of
#: step lands in a neighbouring column (tests/test_evaluate_rows.py checks each against the files).
_HEADER_COLUMNS = (
    "image_path", "mask_path", "dataset", "difficulty", "class_name", "class_id", "label_status", "class_field",
    "issues", "width", "height", "file_size", "mtime_ns", "image_format", "image_mode",
    "mask_width", "mask_height", "mask_format", "mask_mode", "mask_file_size", "mask_mtime_ns",
)
_DEEP_COLUMNS = ("sha1", "phash", "fg_ratio", "mask_kind", "mask_edge_score")
_NO_MASK = (None, None, None, None, None, None)


def _edge_score(deep: DeepInfo | None, thresholds: QualityThresholds) -> float | None:
    """The ``mask_edge_score`` column: the fit's edge score where DA608/DA609 judge it (``judged_fit``)."""
    fit = judged_fit(deep.quality, deep.fit, thresholds) if deep is not None else None
    return round(fit.score, 3) if fit is not None else None


def _sample_checks() -> list[Callable[[Sample, Emitter], None]]:
    """The ``check_sample`` of each family that has one (the base hook does nothing: no call per sample)."""
    return [family.check_sample for family in FAMILIES if type(family).check_sample is not CheckFamily.check_sample]


#: Keys a worker remembers at most: a dataset has a few per class (DIS5K: ~700 in all), but names
#: whose first fields differ for every file (a counter as the group index) would make one a pair.
MAX_VERDICTS = 8192
#: A clean verdict: the row's dataset, difficulty, class_name, class_id, label_status, class_field.
_Verdict = tuple[str, str, "str | None", int, str, "str | None"]
#: The verdicts of the scan whose context this process last evaluated a chunk of (its chunks share
#: one context object): a key is judged once per worker process, not once per chunk.
_VERDICTS: tuple[weakref.ref[ChunkContext] | None, dict[CleanKey, _Verdict]] = (None, {})


def _verdicts(ctx: ChunkContext) -> dict[CleanKey, _Verdict] | None:
    """The clean verdicts so far for ``ctx``'s scan, or None where the shortcut does not apply."""
    global _VERDICTS
    if not shortcut_applies(FAMILIES, ctx.deep):
        return None
    ref, verdicts = _VERDICTS
    if ref is None or ref() is not ctx:
        verdicts = {}
        _VERDICTS = (weakref.ref(ctx), verdicts)
    return verdicts


def evaluate_chunk(tasks: Iterable[Task], ctx: ChunkContext) -> tuple[dict[str, list], list[Finding]]:
    """Probe (unless prior info is given) and check each pair; return manifest columns and findings.

    Columns are returned by name; ``manifest.columns_to_table`` checks them against the schema.
    """
    # A header scan spends tens of microseconds per pair here, so the per-sample loop does only
    # per-sample work: what depends on the dataset alone, or on the class field and label
    # status alone (a handful of values per scan), is looked up once and reused.
    rows: list[tuple] = []
    deep_rows: list[tuple] = []
    findings: list[Finding] = []
    vocab, root = ctx.vocab, ctx.root
    emitter = Emitter(ctx.selection)
    checks = _sample_checks()
    folders = ctx.folders or {}
    per_dataset: dict[str, tuple[bool, str, str, str | None]] = {}
    labels: dict[tuple[str | None, str | None], tuple[str | None, int, str]] = {}
    deep_scan, thresholds, loader = ctx.deep, ctx.thresholds, ctx.loader
    if deep_scan:
        from .deep import decode_pair
    deep = None
    tasks = tasks if isinstance(tasks, list) else list(tasks)
    # Every header of the chunk in two calls (images, masks) instead of one call a file.
    prefix = f"{root}/"
    probed_images = probe_files(prefix, [None if prior else pair[1] for pair, prior, _ in tasks])
    probed_masks = probe_files(prefix, [None if prior else pair[2] for pair, _, prior in tasks])
    # Verdicts of the checks by ``rules.clean`` key: a well-formed pair whose key was judged clean
    # before gets that row's label without running the checks again (same row, no findings).
    clean = _verdicts(ctx)
    for ((dataset, image_path, mask_path, nested), prior_image, prior_mask), probed_image, probed_mask in zip(
        tasks, probed_images, probed_masks, strict=True
    ):
        image = cast(FileInfo, prior_image or probed_image)
        mask = None if mask_path is None else prior_mask or probed_mask
        stem, image_ext = split_path(image_path)
        fields = stem.split(SEPARATOR)  # naming.parse_name's split; the ParsedName is made only for the checks
        key = None
        if clean is not None:
            key = clean_key(dataset, nested, image_path, image_ext, mask_path, fields, image, mask, loader)
            known = clean.get(key) if key is not None else None
            if known is not None:
                # The checks passed a pair of this key: a well-formed pair, so both sizes are the image's.
                assert mask is not None
                rows.append((
                    image_path, mask_path, *known, [],
                    image.width, image.height, image.size, image.mtime_ns, image.format, image.mode,
                    mask.width, mask.height, mask.format, mask.mode, mask.size, mask.mtime_ns,
                ))
                continue
        shared = per_dataset.get(dataset)
        if shared is None:
            shared = per_dataset[dataset] = (
                ctx.has_mask_dir.get(dataset, True), ctx.difficulty.get(dataset, dataset),
                *folders.get(dataset, ("", None)),
            )
        has_mask_dir, difficulty, image_dir, mask_dir = shared
        name = ParsedName(stem, tuple(fields))  # parse_name(stem), without splitting the stem again
        mask_ext = "" if mask_path is None else split_path(mask_path)[1]
        if deep_scan:
            deep = decode_pair(root, image_path, mask_path, image, mask, ctx.max_pixels)
        sample = Sample(
            dataset, image_path, mask_path, nested, has_mask_dir, name, image, mask, vocab,
            image_ext, mask_ext, deep, thresholds, loader, image_dir, mask_dir,
        )
        emitter.reset()
        emitter.dataset = dataset
        for check in checks:
            check(sample, emitter)
        if emitter.findings:
            findings.extend(emitter.findings)

        # The label: the class the name gives, unless a naming check refused it (then class -1).
        class_field = name.class_field
        key_label = (class_field, emitter.label_status)
        label = labels.get(key_label)
        if label is None:
            label = labels[key_label] = label_row(class_field, vocab, emitter.label_status)
        codes = emitter.codes
        if key is not None and clean is not None and not codes and emitter.label_status is None and (
            len(clean) < MAX_VERDICTS
        ):
            clean[key] = (dataset, difficulty, *label, class_field)
        rows.append((
            image_path, mask_path, dataset, difficulty, *label, class_field,
            sorted(set(codes)) if codes else [],
            image.width, image.height, image.size, image.mtime_ns, image.format, image.mode,
            *((mask.width, mask.height, mask.format, mask.mode, mask.size, mask.mtime_ns) if mask else _NO_MASK),
        ))
        if deep_scan:
            deep_rows.append((
                deep.image.sha1 if deep and deep.image else None,
                deep.phash if deep else None,
                deep.fg_ratio if deep else None,
                deep.mask_kind if deep else None,
                _edge_score(deep, thresholds),
            ))
    # One tuple a row, turned into columns at the end: fewer Python operations than an append
    # per column per row.
    cols = _transpose(_HEADER_COLUMNS, rows)
    if deep_scan:
        cols.update(_transpose(_DEEP_COLUMNS, deep_rows))
    return cols, findings


def _transpose(names: tuple[str, ...], rows: list[tuple]) -> dict[str, list]:
    """Columns (lists by name) of ``rows``; no columns for no rows (the table builder fills nulls)."""
    if not rows:
        return {}
    return {name: list(values) for name, values in zip(names, zip(*rows), strict=True)}


def evaluate_to_table(tasks: Sequence[Task], ctx: ChunkContext) -> tuple[pa.Table, list[Finding]]:
    """``evaluate_chunk`` with the columns as an Arrow table."""
    # Arrow columns are a fraction of the size of Python lists of str and int: building them in
    # the worker keeps a million-file scan's main process small, and they pickle as flat buffers.
    cols, findings = evaluate_chunk(tasks, ctx)
    return columns_to_table(cols), findings
