"""Commands that read manifests: `report`, `classes`, `merge`, and `rules`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    OutputFormat,
    app,
    capped_workers,
    fail,
    output_format_of,
    render_result,
    warn_other_root,
    write_html,
)


@app.command(epilog="Example: dis-audit report data/DIS5K/manifest.parquet --html report.html")
def report(
    manifest: Annotated[Path, typer.Argument(help="A manifest written by `dis-audit scan`.")],
    html: Annotated[Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")] = None,
    root: Annotated[Path | None, typer.Option(help="Dataset root for previews (default: the scan's root).")] = None,
    max_thumbs_per_rule: Annotated[int, typer.Option(min=0, help="Findings with a preview per rule.")] = 6,
    max_thumbs: Annotated[int, typer.Option(min=0, help="Previews in the whole page (keeps it a few MB).")] = 240,
    thumb_size: Annotated[int, typer.Option(min=16, max=512, help="Longest side of a preview panel, px.")] = 128,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes for previews (default: all cores).")] = None,
) -> None:
    """Turn a manifest into a report: today the self-contained HTML page (--html)."""
    if html is None:
        fail("nothing to write: give --html PATH")
    if root is not None and not root.is_dir():
        fail(f"--root {root} is not a folder")
    workers = capped_workers(workers)
    if root is not None:
        warn_other_root([manifest], root)
    result = write_html(
        manifest, html, root=root, max_thumbs_per_rule=max_thumbs_per_rule, max_thumbs=max_thumbs,
        thumb_size=thumb_size, workers=workers,
    )
    typer.echo(
        f"html report: {result.path} ({result.size_bytes / 1e6:.2f} MB, {result.rows:,} rows, "
        f"{result.findings:,} findings, {result.thumbnails:,} previews, {result.elapsed_s:.2f} s)"
    )


@app.command()
def classes(
    manifest: Annotated[Path, typer.Argument(help="A manifest written by `dis-audit scan`.")],
    export: Annotated[Path | None, typer.Option("--export", help="Write the vocabulary as a class file (one name a line, order = id).")] = None,
    present_only: Annotated[bool, typer.Option("--present-only", help="With --export: only classes with samples (ids change).")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the distribution to FILE.svg or FILE.png.")] = None,
    rows: Annotated[int, typer.Option(min=0, help="Largest and smallest classes shown (0: all).")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Class distribution at a glance: samples per class and difficulty, long-tail statistics, export, plot.

    Example: dis-audit classes data/DIS5K/manifest.parquet --plot classes.svg --export classes.txt
    """
    import json

    from ..classdist import class_distribution
    from ..manifest import ManifestError
    from ..report.classplot import write_plot
    from ..report.terminal import render_classes, text_console

    try:
        dist = class_distribution(manifest)
        exported = dist.export_vocabulary(export, present_only=present_only) if export else None
        plotted = write_plot(dist, plot) if plot else None
    except ManifestError as exc:
        fail(str(exc))
    if json_out:
        typer.echo(json.dumps(dist.to_dict(), indent=2, ensure_ascii=True))
        return
    console = text_console()
    render_classes(dist, console, rows=rows)
    if exported:
        console.print(f"class file: {exported}")
    if plotted:
        console.print(f"plot: {plotted}")


@app.command(epilog="Example: dis-audit merge parts/manifest.shard-*.parquet -o manifest.parquet")
def merge(
    parts: Annotated[list[Path], typer.Argument(help="Part manifests (from `scan --shard i/N`), all of one scan.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the merged manifest.")] = Path("manifest.parquet"),
    eval_datasets: Annotated[str | None, typer.Option(help="Evaluation datasets for the leakage check (default: as scanned).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (= --output-format json).")] = False,
    output_format: OutputFormat = None,
    max_examples: Annotated[int, typer.Option(min=0, help="Findings shown per rule in the report.")] = 10,
) -> None:
    """Combine part manifests into one and run the cross-file checks (duplicates, leakage, mask statistics) on the whole."""
    from ..manifest import ManifestError
    from ..merge import merge_manifests

    fmt = output_format_of(output_format, json_out)
    if output.is_dir():
        fail(f"output path is a folder: {output}")
    warn_other_root(parts, None)
    try:
        result = merge_manifests(parts, eval_datasets=eval_datasets)
        written = result.write_manifest(output)
    except ManifestError as exc:
        fail(str(exc))
    render_result(result, written, fmt, max_examples)


@app.command(epilog="Example: dis-audit rules size-mismatch")
def rules(
    code: Annotated[str | None, typer.Argument(help="A rule code or name for its full entry.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the full reference as Markdown.")] = False,
) -> None:
    """List every rule, or explain one: what it checks, why it matters, how to fix it."""
    from rich.console import Console
    from rich.table import Table

    from ..findings import find_rule, rules_markdown
    from ..rules import ALL_RULES

    if markdown:
        typer.echo(rules_markdown(ALL_RULES.values()), nl=False)
        return
    console = Console()
    if code:
        rule = find_rule(code, ALL_RULES)
        if rule is None:
            from ..hints import did_you_mean

            fail(f"no rule {code!r}{did_you_mean(code, [*ALL_RULES, *(r.name for r in ALL_RULES.values())])}; "
                 "`dis-audit rules` lists them")
        console.print(f"[bold]{rule.code} {rule.name}[/] ({rule.severity.value})\n{rule.summary}\n")
        console.print(f"[bold]Why it matters[/]: {rule.why}\n[bold]Fix[/]: {rule.fix}")
        return
    table = Table("code", "name", "severity", "what")
    for rule in ALL_RULES.values():
        table.add_row(rule.code, rule.name, rule.severity.value, rule.summary)
    console.print(table)

