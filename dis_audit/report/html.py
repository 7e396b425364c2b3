"""The self-contained visual HTML report of a manifest.

One file, nothing fetched: inline CSS (``report.css``, shipped with the package), previews as
``data:`` JPEG URIs, bar charts as CSS bars, no JavaScript at all (so it reads the same with
scripts off and cannot throw), and a Content-Security-Policy that forbids every network
request, so a stray reference shows up as a console error in the browser test instead of a
silent fetch.

The manifest is the only input. It becomes a ``ReportModel`` (the same summary the terminal
and JSON reports show); ``sections`` draws each part of the page from it, ``previews`` makes
the pictures, and this module assembles the page. Everything from the data goes through
``markup.esc``.

Scale: previews are capped per rule and in total, text lists are capped per rule, and the
class tables are capped, so a 100k-row manifest gives a page of a few MB; previews are made
in a process pool.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa

from .._version import __version__
from ..manifest import (
    METADATA_KEY,
    ManifestError,
    ManifestMeta,
    atomic_write_bytes,
    manifest_root,
    read_manifest_table,
)
from . import sections
from .markup import esc
from .model import ReportModel, ScanResult, split_of
from .previews import PageLimits, Previews
from .thumbs import THUMB_SIZE

#: Defaults chosen so the worst case (every rule firing, every group shown) stays near 2-3 MB.
MAX_THUMBS_PER_RULE = 6
MAX_THUMBS = 240
MAX_GROUPS = 30
MAX_GROUP_MEMBERS = 4
MAX_LISTED = 100
MAX_CLASSES = 300


class ReportError(Exception):
    """The report cannot be made or written; the message says which file and why."""


@dataclass
class HtmlReport:
    """What ``render_html`` wrote: where, how big, how many previews, and how long it took."""

    path: Path | None
    size_bytes: int
    rows: int
    findings: int
    thumbnails: int
    thumbnail_s: float
    elapsed_s: float


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The page's CSS, from the package data file ``report.css``."""
    return resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


#: What a page can be made from: a manifest path, an Arrow table with dis_audit metadata, or a scan result.
Source: TypeAlias = "str | os.PathLike | pa.Table | ScanResult"


def _load(source: Source, root: str | os.PathLike | None) -> tuple[ReportModel, ManifestMeta, Path, str]:
    """(model, meta, dataset root, label of the source) from a manifest path, an Arrow table or a scan result."""
    if isinstance(source, ScanResult):
        # The scan's own summary: nothing is recomputed from its table.
        meta = _table_meta(source.table)
        base = Path(root) if root is not None else Path(source.root)
        return ReportModel.from_result(source), meta, base, ""
    if isinstance(source, pa.Table):
        meta = _table_meta(source)
        base = Path(root) if root is not None else Path(meta.root or ".")
        return ReportModel.from_manifest(source, meta), meta, base, ""
    path = Path(source)
    if path.is_dir():
        raise ManifestError(f"manifest path is a folder: {path}")
    table, meta = read_manifest_table(path)
    base = Path(root) if root is not None else manifest_root(path, meta)
    return ReportModel.from_manifest(table, meta), meta, base, str(path)


def _table_meta(table: pa.Table) -> ManifestMeta:
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ReportError("the table has no dis_audit metadata; build it with manifest.build_table")
    return ManifestMeta.from_bytes(raw)


def _page(
    model: ReportModel, meta: ManifestMeta, root: Path, source_label: str, limits: PageLimits,
    workers: int | None, title: str | None,
) -> tuple[str, Previews]:
    """The whole page, and the previews it holds."""
    previews = Previews(model, root, limits, workers)
    # Previews in priority order: rule examples (errors first), then duplicate groups (leaks first).
    cards = previews.plan_cards(model.rule_groups)
    group_keys = previews.plan_dup_groups(model.dup_groups)
    previews.make()
    masks = sections.masks(model)
    # What needs fixing first: the summary (with the short per-dataset table), findings and
    # duplicates; then the class picture, which can be long (219 classes) and is folded when it is.
    body = [
        sections.summary(model),
        sections.datasets(model),
        sections.findings(model, previews, cards, limits),
        sections.duplicates(model, previews, group_keys, limits),
        sections.classes(model, limits),
        sections.matrix(model, limits),
        masks,
    ]
    nav = [("summary", "Summary"), ("datasets", "Datasets"), ("findings", "Findings"),
           ("duplicates", "Duplicates and leakage"), ("classes", "Classes"), ("matrix", "Class × difficulty")]
    if masks:
        nav.append(("masks", "Mask quality"))
    title = title or f"dis-audit report: {meta.root or source_label or 'dataset'}"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    skipped = f" {previews.skipped:,} further previews left out (limit {limits.thumbs:,})." if previews.skipped else ""
    nav_items = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in nav)
    header = (
        f"<header><h1>{esc(title)}</h1><p class=\"muted\">"
        + (f"Manifest {esc(source_label)}" if source_label else "No manifest file (built from an in-memory table)")
        + f" · root {esc(root)} · "
        f"{model.num_rows:,} rows · written by dis-audit {esc(meta.tool_version or '?')}, report by {esc(__version__)} "
        f"· {generated}. Previews: the image, then the image with its mask tinted magenta and outlined in yellow.{esc(skipped)}</p>"
        f'<nav aria-label="Sections"><ul>{nav_items}</ul></nav>'
        "</header>"
    )
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        # No network, no scripts: everything the page shows is in this file.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>\n{stylesheet()}</style></head><body>{header}<main>{''.join(body)}</main>"
        "<footer><p class=\"muted\">Generated by dis-audit. Rules: <code>dis-audit rules CODE</code>.</p></footer>"
        "</body></html>\n"
    )
    return page, previews


def build_html(
    source: Source,
    *,
    root: str | os.PathLike | None = None,
    max_thumbs_per_rule: int = MAX_THUMBS_PER_RULE,
    max_thumbs: int = MAX_THUMBS,
    max_groups: int = MAX_GROUPS,
    max_group_members: int = MAX_GROUP_MEMBERS,
    max_listed: int = MAX_LISTED,
    max_classes: int = MAX_CLASSES,
    thumb_size: int = THUMB_SIZE,
    workers: int | None = None,
    title: str | None = None,
    manifest_name: str | os.PathLike | None = None,
) -> tuple[str, HtmlReport]:
    """Make the report page for a manifest (a parquet path, or an Arrow table with dis_audit metadata).

    A ``ScanResult`` (from ``scan`` or ``merge_manifests``) works too: its summary is used as it
    is, so a scan that also writes the page counts once.

    ``root`` overrides where relative paths resolve (default: the root the scan recorded, or
    the manifest's folder). ``manifest_name`` is the manifest file the header names when the
    source is a table or a scan result (``scan --html`` passes the manifest it wrote); a path
    source names itself. Returns the page and its statistics (``path`` None). Raises
    ManifestError for an unreadable manifest and ReportError for an unusable table; bad image
    files never raise, they become placeholders.
    """
    started = time.perf_counter()
    model, meta, base, label = _load(source, root)
    label = str(manifest_name) if manifest_name is not None else label
    limits = PageLimits.clamped(
        thumbs_per_rule=max_thumbs_per_rule, thumbs=max_thumbs, groups=max_groups, group_members=max_group_members,
        listed=max_listed, classes=max_classes, thumb_size=thumb_size,
    )
    page, previews = _page(model, meta, base, label, limits, workers, title)
    stats = HtmlReport(
        path=None,
        size_bytes=len(page.encode("utf-8")),
        rows=model.num_rows,
        findings=len(model.findings),
        thumbnails=previews.made,
        thumbnail_s=round(previews.elapsed_s, 3),
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    return page, stats


def render_html(
    source: Source,
    out_path: str | os.PathLike,
    **options: Any,
) -> HtmlReport:
    """Write the report for ``source`` to ``out_path`` atomically; options as for ``build_html``.

    Raises ManifestError (manifest missing or unreadable) or ReportError (output not writable).
    """
    started = time.perf_counter()
    out = Path(out_path)
    if out.is_dir():
        raise ReportError(f"HTML output path is a folder: {out}")
    page, stats = build_html(source, **options)
    data = page.encode("utf-8")
    try:
        atomic_write_bytes(out, lambda tmp: Path(tmp).write_bytes(data))
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc.strerror or exc}") from exc
    stats.path = out
    stats.size_bytes = len(data)
    stats.elapsed_s = round(time.perf_counter() - started, 3)
    return stats


__all__ = ["HtmlReport", "ReportError", "build_html", "render_html", "split_of", "stylesheet"]
