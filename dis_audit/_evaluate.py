"""Evaluating one chunk of samples: probe headers (or decode in full), run the per-sample checks, build rows.

Runs in the scan's worker processes (see ``_pool``) or in the main process for small scans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .findings import Emitter, Finding, RuleSelection
from .layout import PairTask
from .loaders import BIREFNET, LoaderProfile
from .manifest import columns_to_table
from .naming import parse_name, split_path
from .probe import FileInfo, probe_file
from .quality import QualityThresholds
from .rules import FAMILIES, Sample
from .rules.labels import label_row
from .vocab import Vocabulary

if TYPE_CHECKING:
    import pyarrow as pa

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


def evaluate_chunk(tasks: Iterable[Task], ctx: ChunkContext) -> tuple[dict[str, list], list[Finding]]:
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
    folders = ctx.folders or {}
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
            image_ext, mask_ext, deep, ctx.thresholds, ctx.loader, *folders.get(dataset, ("", None)),
        )
        emitter.reset()
        emitter.dataset = dataset
        for check in checks:
            check(sample, emitter)
        if emitter.findings:
            findings.extend(emitter.findings)

        # The label: the class the name gives, unless a naming check refused it (then class -1).
        class_field = name.class_field
        class_name, class_id, status = label_row(class_field, vocab, emitter.label_status)

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
            cols["mask_edge_score"].append(round(deep.fit.score, 3) if deep and deep.fit else None)
    return dict(cols), findings


def evaluate_to_table(tasks: Sequence[Task], ctx: ChunkContext) -> tuple[pa.Table, list[Finding]]:
    """``evaluate_chunk`` with the columns as an Arrow table."""
    # Arrow columns are a fraction of the size of Python lists of str and int: building them in
    # the worker keeps a million-file scan's main process small, and they pickle as flat buffers.
    cols, findings = evaluate_chunk(tasks, ctx)
    return columns_to_table(cols), findings
