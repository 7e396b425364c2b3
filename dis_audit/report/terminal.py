"""The rich terminal report: per-dataset table, class counts, then findings grouped by rule."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table

from ..findings import Severity
from ..paths import terminal_text
from .model import ReportModel

if TYPE_CHECKING:
    from ..classdist import ClassDistribution
    from ..rename import RenamePlan
    from .model import ScanResult



def escape(value: object) -> str:
    """Data (names, paths, messages) made safe to print: control characters as ``\\xNN``, rich markup inert."""
    return _markup_escape(terminal_text(value))


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


#: Off a terminal (a log, a pipe, CI) lines are this wide: nothing is cut or wrapped, paths stay whole.
UNLIMITED_WIDTH = 1_000_000


def text_console(stderr: bool = False) -> Console:
    """A console for the text report: the terminal's width on a terminal, unlimited (no wrapping) off one."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=UNLIMITED_WIDTH, soft_wrap=True)


def render_scan(result: ScanResult, console: Console, max_examples: int = 10, top_classes: int = 5) -> None:
    """Print the whole report for one scan."""
    render_model(ReportModel.from_result(result), str(result.root), console, max_examples, top_classes)


def render_model(
    model: ReportModel, root: str, console: Console, max_examples: int = 10, top_classes: int = 5
) -> None:
    """Print the report of a model: datasets, classes, the deep-scan summary, findings by rule, totals."""
    s = model.summary
    table = Table(title=f"dis-audit scan of {escape(root)}", title_justify="left")
    for col in ("dataset", "samples", "labelled", "-1", "skipped", "errors", "warnings", "info"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for ds in model.datasets:
        table.add_row(
            escape(ds.name), str(ds.samples), str(ds.labelled),
            f"[red]{ds.unlabelled}[/]" if ds.unlabelled else "0", str(ds.skipped_files),
            *(_count(ds.count(sev), sev) for sev in Severity),
        )
    console.print(table)

    counts = model.class_counts
    console.print(
        f"classes: {len(counts)} of {s['vocabulary_size']} in the {escape(s['vocabulary_source'])} vocabulary are present"
    )
    if counts:
        top = ", ".join(f"{escape(c.name)} {c.count}" for c in counts[:top_classes])
        console.print(f"  most samples:  {top}")
        if len(counts) > top_classes:
            # Only classes the first line did not name: on a small dataset the two lists never repeat a class.
            rest = counts[top_classes:]
            bottom = ", ".join(f"{escape(c.name)} {c.count}" for c in rest[-top_classes:])
            console.print(f"  fewest samples: {bottom}")
    unknown = model.unknown_classes
    if unknown:
        listed = ", ".join(
            f"{escape(u.name)} {u.count}" + (f" (→ {escape(u.suggestion)}?)" if u.suggestion else "")
            for u in unknown[:20]
        )
        more = len(unknown) - 20
        console.print(f"[red]not in the vocabulary[/]: {listed}" + (f" … and {more} more" if more > 0 else ""))
    if s.get("extended_classes"):
        console.print(f"vocabulary extended at the end with: {escape(', '.join(s['extended_classes']))}")
    deep = s.get("deep")
    if deep:
        kinds = ", ".join(f"{escape(str(k))} {v}" for k, v in model.mask_kinds)
        console.print(f"masks (deep scan): {kinds or 'none decoded'}")
        console.print(
            f"duplicate groups: {deep.get('dup_groups', 0)} ({deep.get('rows_in_dup_groups', 0)} samples in them)"
        )

    for group in model.rule_groups:
        rule, sev, items = group.rule, group.severity, group.findings
        console.print()
        console.print(
            f"[{_STYLE[sev]}]{group.code}[/] {rule.name if rule else ''} [{_STYLE[sev]}]({sev.value})[/] × {len(items)}"
        )
        if rule:
            console.print(f"  [dim]{escape(rule.summary)} Fix: {escape(rule.fix)}[/]")
        for f in items[:max_examples]:
            console.print(f"  {escape(f.path)}: {escape(f.message)}")
        if len(items) > max_examples:
            console.print(f"  … and {len(items) - max_examples} more (all of them with --json)")

    fs = s["findings"]
    console.print()
    console.print(
        f"{s['samples']} samples, {s['labelled']} labelled, {s['unlabelled']} with class -1; "
        f"{_count(fs['error'], Severity.ERROR)} errors, {_count(fs['warning'], Severity.WARNING)} warnings, "
        f"{_count(fs['info'], Severity.INFO)} info"
        + (f"; {s['reused_rows']} rows reused" if s.get("reused_rows") else "")
        + (f" ({s['elapsed_s']:.2f} s)" if "elapsed_s" in s else "")
    )
    if s.get("note"):
        console.print(f"[yellow]note[/]: {escape(s['note'])}")


def _count(n: int, severity: Severity) -> str:
    return f"[{_STYLE[severity]}]{n}[/]" if n else "0"


def render_plan(plan: RenamePlan, console: Console, max_rows: int = 20) -> None:
    """A rich table of the first ``max_rows`` moves of a rename plan, then the counts and the unresolved files."""
    moves = [e for e in plan.entries if e.status == "rename"]
    s = plan.summary()
    if moves:
        table = Table("dataset", "old", "new", "class", "source", title="rename plan", title_justify="left")
        for e in moves[:max_rows]:
            table.add_row(*(escape(v) for v in (e.dataset, e.old, (e.new or "").rsplit("/", 1)[-1], e.class_name or "",
                                                 e.source or "")))
        console.print(table)
        if len(moves) > max_rows:
            console.print(f"... and {len(moves) - max_rows} more file(s) (--plan-out FILE writes the full plan)")
    console.print(
        f"{s['pairs_to_rename']} sample(s) / {s['files_to_rename']} file(s) to rename, "
        f"{s['unchanged_files']} file(s) already conform, {s['unresolved_pairs']} sample(s) without a class, "
        f"{s['refused_pairs']} with a refused class"
    )
    if plan.extended:
        console.print(f"vocabulary extended at the end with: {escape(', '.join(plan.extended))}")
    for source, unmatched in s["unmatched_map_keys"].items():
        shown = ", ".join(unmatched["keys"][:max_rows])
        more = f" ... and {unmatched['count'] - max_rows} more" if unmatched["count"] > max_rows else ""
        console.print(f"[yellow]{escape(source)}[/]: {unmatched['count']} key(s) match no file: {escape(shown)}{more}")
    bad = [e for e in plan.entries if e.status != "rename" and e.kind == "image"]
    for e in bad[:max_rows]:
        console.print(f"  [yellow]{e.status}[/]: {escape(e.old)}: {escape(e.note)}")
    if len(bad) > max_rows:
        console.print(f"  ... and {len(bad) - max_rows} more")
    if plan.problems:
        console.print(f"[red]plan refused[/] ({len(plan.problems)} problem(s)); nothing was changed:")
        for p in plan.problems[:max_rows]:
            console.print(f"  {escape(p)}")


def render_classes(dist: ClassDistribution, console: Console, rows: int = 10) -> None:
    """The class distribution at a glance: the ``rows`` largest and smallest classes, per difficulty, and the tail."""
    counts, diffs = dist.counts, dist.difficulties
    per_difficulty = len(diffs) > 1
    table = Table(title=f"classes in {escape(dist.source)}", title_justify="left")
    for col in ("rank", "id", "class", "samples", "share", *(diffs if per_difficulty else ())):
        table.add_column(escape(col), justify="left" if col == "class" else "right")
    total = dist.labelled or 1
    ranked = list(enumerate(counts, 1))
    shown: list[tuple[int, tuple[int, int]] | None] = list(ranked)
    if rows and len(ranked) > 2 * rows:
        shown = [*ranked[:rows], None, *ranked[-rows:]]
    for item in shown:
        if item is None:
            table.add_row("…", "", f"… {len(counts) - 2 * rows} more classes", "", "", *("" for _ in diffs if per_difficulty))
            continue
        rank, (cid, n) = item
        cells = [str(dist.by_difficulty.get(cid, {}).get(d, 0)) for d in diffs] if per_difficulty else []
        table.add_row(str(rank), str(cid), escape(dist.name(cid)), str(n), f"{n / total:.1%}", *cells)
    if dist.unlabelled:
        cells = [str(dist.by_difficulty.get(-1, {}).get(d, 0)) for d in diffs] if per_difficulty else []
        table.add_row("", "-1", "[red](no class: -1)[/]", str(dist.unlabelled), "", *cells)
    console.print(table)
    st = dist.stats
    console.print(
        f"{st.classes} of {len(dist.vocabulary)} vocabulary classes present, {dist.labelled:,} labelled samples, "
        f"{dist.unlabelled:,} with class -1"
    )
    if st.classes:
        console.print(
            f"long tail: imbalance ratio {st.imbalance_ratio:.1f} (largest/smallest), Gini {st.gini:.3f}, "
            f"median {st.median:g} samples; the largest 20 % of classes hold {st.head_share:.1%}, "
            f"the smallest 50 % hold {st.tail_share:.1%}; {st.classes_for_half} class(es) hold half the samples; "
            f"{st.singletons} class(es) have one sample"
        )
    absent = dist.absent
    if absent:
        listed = ", ".join(escape(a) for a in absent[:10]) + (f" … and {len(absent) - 10} more" if len(absent) > 10 else "")
        console.print(f"absent ({len(absent)}): {listed}")
