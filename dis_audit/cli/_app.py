"""The shared pieces of the ``dis-audit`` command line: the typer app, errors, progress, option types.

Each command module (``scan``, ``manifests``, ``rename``, ``cache``) registers its commands on ``app``.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    no_args_is_help=True,
    help="Audit, relabel and train on BiRefNet / DIS5K-style segmentation datasets.",
    epilog="Example: dis-audit scan data/DIS5K --deep --html report.html",
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"dis-audit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Audit, relabel and train on BiRefNet / DIS5K-style segmentation datasets."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error on stderr and exit (no traceback)."""
    from ..paths import terminal_text

    typer.echo(f"dis-audit: error: {terminal_text(message)}", err=True)
    raise typer.Exit(code)


@contextmanager
def progress_bar(enabled: bool):
    """A rich progress bar on stderr when it is a terminal; yields a ``progress(stage, done, total)`` callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


Root = Annotated[Path, typer.Argument(help="Dataset root: a folder of dataset folders, or one dataset folder.")]
OutputFormat = Annotated[str | None, typer.Option(
    "--output-format", help="text (default), json, github (workflow annotations), sarif (2.1.0) or junit (XML).")]


def output_format_of(output_format: str | None, json_out: bool) -> str:
    """The effective ``--output-format`` (``--json`` is its alias for json); exit 2 for an unknown or a clash."""
    from ..report.formats import OUTPUT_FORMATS

    fmt = (output_format or ("json" if json_out else "text")).lower()
    if fmt not in OUTPUT_FORMATS:
        fail(f"unknown --output-format {output_format!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    if json_out and fmt != "json":
        fail(f"--json and --output-format {fmt} contradict each other")
    return fmt


ConfigFile = Annotated[Path | None, typer.Option(
    "--config", help="Configuration file (default: dis-audit.toml, or \\[tool.dis-audit] in pyproject.toml, "
    "from ROOT upward).")]
Isolated = Annotated[bool, typer.Option("--isolated", help="Ignore every configuration file.")]


def settings_for(root: Path | None, config: Path | None, isolated: bool, **flags):
    """The configuration merged with the flags given (None = not given); exit 2 on a bad file."""
    from ..config import ConfigError, resolve_settings

    try:
        return resolve_settings(root, config, isolated=isolated, **flags)
    except ConfigError as exc:
        fail(str(exc))


def vocabulary_for(settings, manifest: Path | None):
    """(``classes`` argument, extend) for scan and rename: the manifest's vocabulary sticks (``vocab_choice``)."""
    from ..vocab import VocabularyError
    from ..vocab_choice import choose_from_settings

    try:
        classes, extend, note = choose_from_settings(settings, manifest)
    except VocabularyError as exc:
        fail(str(exc))
    if note:
        typer.echo(f"dis-audit: note: {note}", err=True)
    return classes, extend



def warn_other_root(manifests: list[Path], root: Path | None) -> None:
    """Say so on stderr when a manifest was scanned from another root than the one this command uses."""
    from ..manifest import ManifestError, other_root, read_manifest_meta
    from ..paths import terminal_text

    roots: dict[str, Path] = {}
    for path in manifests:
        try:
            meta = read_manifest_meta(path)
        except ManifestError:
            continue  # the command itself reports an unreadable manifest
        if meta.root:
            roots.setdefault(meta.root, path)
        if root is not None and other_root(meta, root):
            typer.echo(terminal_text(f"dis-audit: warning: {path} was scanned from {meta.root}, not {root}; "
                                     "its rows may name other files"), err=True)
    if root is None and len(roots) > 1:
        typer.echo(terminal_text("dis-audit: warning: the manifests were scanned from different roots: "
                                 + ", ".join(sorted(roots))), err=True)


def capped_workers(workers: int | None) -> int | None:
    """``--workers`` capped at a multiple of the cores, with a message on stderr when it was."""
    from .._pool import cap_workers

    capped, note = cap_workers(workers)
    if note:
        typer.echo(f"dis-audit: {note}", err=True)
    return capped if workers is not None else None


def render_result(result, written: Path | None, fmt: str, max_examples: int, html: Path | None = None) -> None:
    """Print a scan or merge result in ``fmt`` (--output-format) and exit 1 when it has an error finding."""
    if fmt != "text":
        from ..report.formats import render_document
        from ..report.model import ReportModel

        if written is not None:
            result.summary["manifest"] = str(written)
        typer.echo(render_document(ReportModel.from_result(result), fmt, root=result.root), nl=False)
    else:
        from ..report.terminal import render_scan, text_console

        console = text_console()
        render_scan(result, console, max_examples=max_examples)
        if written is not None:
            console.print(f"manifest: {written}")
        if html is not None:
            console.print(f"html report: {html}")
    raise typer.Exit(1 if result.has_errors else 0)


def write_html(source, out: Path, root: Path | None = None, **options):
    """Render the HTML report, turning every expected failure into a one-line error (exit 2)."""
    from ..manifest import ManifestError
    from ..report.html import ReportError, render_html

    try:
        return render_html(source, out, root=root, **options)
    except (ManifestError, ReportError) as exc:
        fail(str(exc))

