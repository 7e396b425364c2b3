"""The ``dis-audit`` command line: a thin typer shell over the library.

Each command parses its options, calls library functions and renders the result. Exit
codes: 0 no error finding, 1 error findings (or refused work), 2 usage or IO problems.
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
        from ._version import __version__

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
    from .paths import terminal_text

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
    from .report.formats import OUTPUT_FORMATS

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


def _settings(root: Path | None, config: Path | None, isolated: bool, **flags):
    """The configuration merged with the flags given (None = not given); exit 2 on a bad file."""
    from .config import ConfigError, resolve_settings

    try:
        return resolve_settings(root, config, isolated=isolated, **flags)
    except ConfigError as exc:
        fail(str(exc))


def _vocabulary(settings, manifest: Path | None):
    """(``classes`` argument, extend) for scan and rename: the manifest's vocabulary sticks (``vocab_choice``)."""
    from .vocab import VocabularyError
    from .vocab_choice import choose_from_settings

    try:
        classes, extend, note = choose_from_settings(settings, manifest)
    except VocabularyError as exc:
        fail(str(exc))
    if note:
        typer.echo(f"dis-audit: note: {note}", err=True)
    return classes, extend


@app.command(epilog="Example: dis-audit scan data/DIS5K --deep --eval-datasets DIS-VD+DIS-TE1 --html report.html")
def scan(
    root: Root,
    image_dir: Annotated[str | None, typer.Option(help="Image folder name (default: auto-detect).")] = None,
    mask_dir: Annotated[str | None, typer.Option(help="Mask folder name (default: auto-detect).")] = None,
    datasets: Annotated[str | None, typer.Option(help="Datasets to scan, BiRefNet style: 'DIS-TR+DIS-VD'.")] = None,
    classes: Annotated[str | None, typer.Option(help="'dis5k' (built-in), 'infer', or a file with one class a line (default: the manifest's, else dis5k).")] = None,
    extend_vocab: Annotated[bool | None, typer.Option("--extend-vocab/--no-extend-vocab", help="Append unknown classes at the end (ids stay).")] = None,
    difficulty_map: Annotated[str | None, typer.Option(help="'DIS-TE1=easy,DIS-TE4=hard' or a file of such lines.")] = None,
    select: Annotated[list[str] | None, typer.Option(help="Rule codes, prefixes or names to report (e.g. DA1,DA403,size-mismatch).")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Rule codes, prefixes or names to leave out.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes for header reads (default: all cores).")] = None,
    manifest: Annotated[Path | None, typer.Option(help="Where to write the manifest (default: ROOT/manifest.parquet).")] = None,
    no_manifest: Annotated[bool, typer.Option("--no-manifest", help="Do not write a manifest.")] = False,
    incremental: Annotated[bool, typer.Option("--incremental", help="Reuse manifest rows of unchanged files.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (= --output-format json).")] = False,
    output_format: OutputFormat = None,
    max_examples: Annotated[int, typer.Option(min=0, help="Findings shown per rule in the report.")] = 10,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the visual HTML report to this file.")] = None,
    deep: Annotated[bool | None, typer.Option("--deep/--no-deep", help="Decode every image and mask: corruption, EXIF, mask quality, duplicates, leakage.")] = None,
    max_pixels: Annotated[int | None, typer.Option(min=1, help="With --deep: files with more pixels are not decoded (default: Pillow's bomb limit).")] = None,
    eval_datasets: Annotated[str | None, typer.Option(help="Evaluation datasets for the leakage check, 'DIS-VD+DIS-TE1' (default: by name: TE/VD/test/val).")] = None,
    near_dup_distance: Annotated[int | None, typer.Option(min=0, max=16, help="Largest pHash distance (bits of 64) of a near duplicate (default 6).")] = None,
    shard: Annotated[str | None, typer.Option(help="Scan shard INDEX/COUNT (0-based, e.g. 0/8) into a part manifest; combine with `dis-audit merge`.")] = None,
    executor: Annotated[str, typer.Option(help="'local' (processes here) or 'ray' (chunks as tasks on a Ray cluster; pip install 'dis-audit[ray]').")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (default: RAY_ADDRESS, else a local Ray).")] = None,
    quality_threshold: Annotated[list[str] | None, typer.Option(help="With --deep: a DA6xx threshold NAME=VALUE (repeatable; e.g. dark_high=60); see docs/deep.md.")] = None,
    config: ConfigFile = None,
    isolated: Isolated = False,
    show_config: Annotated[bool, typer.Option("--show-config", help="Print the effective configuration and exit.")] = False,
    loader: Annotated[str, typer.Option(help="Loader whose behaviour the labels follow: auto (by layout), birefnet (im/gt), birefnet-fork (jpgs/masks), dis-audit (ManifestDataset).")] = "auto",
) -> None:
    """Find every sample, check names, images and masks, report findings, write the manifest."""
    from .manifest import ManifestError
    from .rules import threshold_options
    from .scan import ScanError
    from .scan import scan as run_scan
    from .shards import ShardError, parse_shard

    fmt = output_format_of(output_format, json_out)
    settings = _settings(
        root, config, isolated, image_dir=image_dir, mask_dir=mask_dir, datasets=datasets, classes=classes,
        extend_vocab=extend_vocab, difficulty_map=difficulty_map, select=select, ignore=ignore, workers=workers,
        deep=deep, eval_datasets=eval_datasets,
    )
    if show_config:
        typer.echo(settings.render())
        raise typer.Exit(0)
    try:
        shard_spec = parse_shard(shard)
        thresholds = threshold_options(settings["thresholds"])
    except (ShardError, ValueError) as exc:
        fail(str(exc) + (f" (configuration: {settings.file})" if settings.file else ""))
    default_name = f"manifest.shard-{shard_spec[0]}-of-{shard_spec[1]}.parquet" if shard_spec else "manifest.parquet"
    manifest_path = manifest or root / default_name
    if not no_manifest and manifest_path.is_dir():
        fail(f"manifest path is a folder: {manifest_path}")
    if not no_manifest and manifest_path.exists() and not manifest_path.is_file():
        fail(f"refusing to write the manifest to {manifest_path}: not a regular file (device, FIFO or socket)")
    workers = _capped_workers(settings["workers"])
    # A part manifest of a shard keeps the configured vocabulary, so every part of one scan agrees.
    vocab, extend = _vocabulary(settings, None if shard_spec else manifest_path)
    try:
        with progress_bar(fmt == "text") as progress:
            result = run_scan(
                root, image_dir=settings["image-dir"], mask_dir=settings["mask-dir"], datasets=settings["datasets"],
                classes=vocab, extend_vocab=extend, difficulty_map=settings["difficulty-map"],
                select=settings["select"], ignore=settings["ignore"], workers=workers,
                incremental=manifest_path if incremental else None, progress=progress, deep=settings["deep"],
                max_pixels=max_pixels if max_pixels is not None else thresholds.get("max_pixels"),
                eval_datasets=settings["eval-datasets"],
                near_dup_distance=near_dup_distance if near_dup_distance is not None else thresholds.get("near_dup_distance"),
                shard=shard_spec, config=settings.record(), executor=executor, address=ray_address,
                quality_thresholds=quality_threshold, loader=loader,
            )
    except ScanError as exc:
        # The value at fault may come from the file rather than the command line: say which file.
        fail(str(exc) + (f" (configuration: {settings.file})" if settings.file else ""))
    written = None
    if not no_manifest:
        try:
            written = result.write_manifest(manifest_path)
        except ManifestError as exc:
            fail(str(exc))
    if html is not None:
        from .manifest import with_findings

        # The report reads the same table the manifest holds, so --no-manifest still gets a page.
        report = _write_html(with_findings(result.table, [f.to_dict() for f in result.findings]), html, root=root,
                             manifest_name=written)
        result.summary["html"] = str(report.path)
    _render(result, written, fmt, max_examples, html)


@app.command("config", epilog="Example: dis-audit config data/DIS5K")
def show_config(
    root: Annotated[Path, typer.Argument(help="Dataset root the configuration is searched from.")] = Path("."),
    config: ConfigFile = None,
    isolated: Isolated = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Show the effective configuration: the file found from ROOT upward, each key's value and where it comes from."""
    import json

    from .vocab_choice import describe_choice

    settings = _settings(root, config, isolated)
    note = describe_choice(settings, root / "manifest.parquet")
    if json_out:
        typer.echo(json.dumps({**settings.to_json(), "note": note}))
        return
    typer.echo(settings.render() + f"\n# {note}")


def _warn_other_root(manifests: list[Path], root: Path | None) -> None:
    """Say so on stderr when a manifest was scanned from another root than the one this command uses."""
    from .manifest import ManifestError, other_root, read_manifest_meta
    from .paths import terminal_text

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


def _capped_workers(workers: int | None) -> int | None:
    """``--workers`` capped at a multiple of the cores, with a message on stderr when it was."""
    from ._pool import cap_workers

    capped, note = cap_workers(workers)
    if note:
        typer.echo(f"dis-audit: {note}", err=True)
    return capped if workers is not None else None


def _render(result, written: Path | None, fmt: str, max_examples: int, html: Path | None = None) -> None:
    """Print a scan or merge result in ``fmt`` (--output-format) and exit 1 when it has an error finding."""
    if fmt != "text":
        from .report.formats import render_document
        from .report.model import ReportModel

        if written is not None:
            result.summary["manifest"] = str(written)
        typer.echo(render_document(ReportModel.from_result(result), fmt, root=result.root), nl=False)
    else:
        from .report.terminal import render_scan, text_console

        console = text_console()
        render_scan(result, console, max_examples=max_examples)
        if written is not None:
            console.print(f"manifest: {written}")
        if html is not None:
            console.print(f"html report: {html}")
    raise typer.Exit(1 if result.has_errors else 0)


def _write_html(source, out: Path, root: Path | None = None, **options):
    """Render the HTML report, turning every expected failure into a one-line error (exit 2)."""
    from .manifest import ManifestError
    from .report.html import ReportError, render_html

    try:
        return render_html(source, out, root=root, **options)
    except (ManifestError, ReportError) as exc:
        fail(str(exc))


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
    workers = _capped_workers(workers)
    if root is not None:
        _warn_other_root([manifest], root)
    result = _write_html(
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

    from .classdist import class_distribution
    from .manifest import ManifestError
    from .report.classplot import write_plot
    from .report.terminal import render_classes, text_console

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
    from .manifest import ManifestError
    from .merge import merge_manifests

    fmt = output_format_of(output_format, json_out)
    if output.is_dir():
        fail(f"output path is a folder: {output}")
    _warn_other_root(parts, None)
    try:
        result = merge_manifests(parts, eval_datasets=eval_datasets)
        written = result.write_manifest(output)
    except ManifestError as exc:
        fail(str(exc))
    _render(result, written, fmt, max_examples)


@app.command(epilog="Example: dis-audit rules size-mismatch")
def rules(
    code: Annotated[str | None, typer.Argument(help="A rule code or name for its full entry.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the full reference as Markdown.")] = False,
) -> None:
    """List every rule, or explain one: what it checks, why it matters, how to fix it."""
    from rich.console import Console
    from rich.table import Table

    from .findings import find_rule, rules_markdown
    from .rules import ALL_RULES

    if markdown:
        typer.echo(rules_markdown(ALL_RULES.values()), nl=False)
        return
    console = Console()
    if code:
        rule = find_rule(code, ALL_RULES)
        if rule is None:
            from .hints import did_you_mean

            fail(f"no rule {code!r}{did_you_mean(code, [*ALL_RULES, *(r.name for r in ALL_RULES.values())])}; "
                 "`dis-audit rules` lists them")
        console.print(f"[bold]{rule.code} {rule.name}[/] ({rule.severity.value})\n{rule.summary}\n")
        console.print(f"[bold]Why it matters[/]: {rule.why}\n[bold]Fix[/]: {rule.fix}")
        return
    table = Table("code", "name", "severity", "what")
    for rule in ALL_RULES.values():
        table.add_row(rule.code, rule.name, rule.severity.value, rule.summary)
    console.print(table)


@app.command(epilog="Example: dis-audit rename data/mine --class-from map:classes.csv --extend-vocab --plan-out plan.csv")
def rename(
    root: Root,
    journal: Annotated[str | None, typer.Argument(help="Journal for --undo/--resume (default: the latest).")] = None,
    class_from: Annotated[list[str] | None, typer.Option(
        "--class-from", help="Class source, repeatable, first match wins: name, fuzzy, map:FILE, regex:PATTERN, "
        "cod10k, folder, dataset. 'name' is first unless listed elsewhere.")] = None,
    classes: Annotated[str | None, typer.Option(help="'dis5k', 'infer' or a class file (default: the manifest's, else dis5k).")] = None,
    extend_vocab: Annotated[bool | None, typer.Option("--extend-vocab/--no-extend-vocab", help="Accept classes outside the vocabulary (appended at the end).")] = None,
    groups: Annotated[Path | None, typer.Option(help="CSV class,group[,group_idx] for the group fields.")] = None,
    image_dir: Annotated[str | None, typer.Option(help="Image folder name (default: auto-detect).")] = None,
    mask_dir: Annotated[str | None, typer.Option(help="Mask folder name (default: auto-detect).")] = None,
    datasets: Annotated[str | None, typer.Option(help="Datasets to rename, BiRefNet style: 'DIS-TR+DIS-VD'.")] = None,
    plan_out: Annotated[Path | None, typer.Option("--plan-out", help="Write the full plan as CSV.")] = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Use this (reviewed or edited) plan CSV instead of planning.")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Execute the plan (default: only show it).")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted --apply.")] = False,
    undo: Annotated[bool, typer.Option("--undo", help="Restore the names before an --apply (default: the latest).")] = False,
    manifest: Annotated[Path | None, typer.Option(help="Manifest to keep true (default: ROOT/manifest.parquet if it exists).")] = None,
    no_manifest: Annotated[bool, typer.Option("--no-manifest", help="Leave any manifest alone.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    max_rows: Annotated[int, typer.Option(min=0, help="Plan rows shown in the table.")] = 20,
    config: ConfigFile = None,
    isolated: Isolated = False,
) -> None:
    """Rename images and masks together to the '#' convention; show the plan, apply, resume or undo it."""
    import json

    from . import rename as rn
    from .manifest import ManifestError
    from .paths import UnsafePathError
    from .rename.journal import JournalError
    from .report.terminal import render_plan, text_console

    if sum((apply, resume, undo)) > 1:
        fail("use one of --apply, --resume, --undo")
    if journal is not None and not (resume or undo):
        fail(f"unexpected argument {journal!r} (a journal goes with --undo or --resume)")
    console = text_console(stderr=json_out)
    mf = "" if no_manifest else manifest
    try:
        with progress_bar(not json_out) as progress:
            if resume or undo:
                done = (rn.undo if undo else rn.resume)(root, journal, progress=progress)
                typer.echo(json.dumps(done.to_dict())) if json_out else console.print(
                    f"{done.action}: {done.moved} file(s) moved, {done.already} already done; "
                    f"journal {done.journal}" + (f"; manifest {done.manifest}" if done.manifest else ""),
                    markup=False)
                if done.note and not done.complete:
                    typer.echo(f"dis-audit: warning: {done.note}", err=True)
                raise typer.Exit(0 if done.complete else 1)
            plan_manifest = None if no_manifest else (manifest or root / "manifest.parquet")
            settings = _settings(
                root, config, isolated, classes=classes, extend_vocab=extend_vocab, class_from=class_from,
                groups=None if groups is None else str(groups), image_dir=image_dir, mask_dir=mask_dir,
                datasets=datasets,
            )
            vocab, extend = _vocabulary(settings, plan_manifest)
            common = {"classes": vocab, "extend_vocab": extend, "image_dir": settings["image-dir"],
                      "mask_dir": settings["mask-dir"], "datasets": settings["datasets"], "manifest": plan_manifest}
            if plan:
                the_plan = rn.load_plan(plan, root, **common)
            else:
                the_plan = rn.plan_rename(
                    root, class_from=settings["class-from"], groups=settings["groups"], progress=progress, **common,
                )
            if plan_out:
                the_plan.to_csv(plan_out)
            if not json_out:
                render_plan(the_plan, console, max_rows=max_rows)
            result = rn.apply_plan(the_plan, manifest=mf, progress=progress) if apply and not the_plan.problems else None
    except (rn.RenameError, ManifestError, OSError) as exc:
        fail(str(exc))
    except (JournalError, UnsafePathError) as exc:
        fail(str(exc), 1)
    if json_out:
        typer.echo(json.dumps({"summary": the_plan.summary(), "applied": result.to_dict() if result else None}))
    elif result and result.journal is None:
        console.print("nothing to rename")
    elif result:
        console.print(f"applied: {result.moved} file(s) renamed in {result.seconds:.1f}s; undo with "
                      f"`dis-audit rename {root} --undo`" + (f"; manifest {result.manifest} updated" if result.manifest else ""))
    raise typer.Exit(1 if the_plan.problems or the_plan.unresolved else 0)


@app.command(epilog="Example: dis-audit relabel data/mine --class-from map:classes.csv --extend-vocab")
def relabel(
    root: Root,
    class_from: Annotated[list[str] | None, typer.Option(
        "--class-from", help="Class source, repeatable, first match wins (as for rename).")] = None,
    extend_vocab: Annotated[bool | None, typer.Option("--extend-vocab/--no-extend-vocab", help="Accept classes outside the vocabulary (appended at the end).")] = None,
    manifest: Annotated[Path | None, typer.Option(help="The manifest to relabel (default: ROOT/manifest.parquet).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    config: ConfigFile = None,
    isolated: Isolated = False,
) -> None:
    """Write classes from --class-from sources into the manifest only; files are not touched."""
    import json

    from .manifest import ManifestError
    from .paths import UnsafePathError
    from .rename import RenameError, relabel_manifest

    path = manifest or root / "manifest.parquet"
    if not path.is_file():
        fail(f"no manifest at {path}; run `dis-audit scan {root}` first or pass --manifest")
    _warn_other_root([path], root)
    settings = _settings(root, config, isolated, class_from=class_from, extend_vocab=extend_vocab)
    try:
        result = relabel_manifest(path, root=root, class_from=settings["class-from"],
                                  extend_vocab=bool(settings["extend-vocab"]))
    except (RenameError, ManifestError) as exc:
        fail(str(exc))
    except UnsafePathError as exc:
        fail(str(exc), 1)
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"relabelled {result.relabelled} of {result.rows} row(s) in {result.manifest}; "
                   f"{len(result.unresolved)} still without a class, {result.blocked} with a class but -1 for another reason")
        for row in result.unresolved[:20]:
            typer.echo(f"  unresolved: {row['path']}: {row['reason']}")
        for source, keys in result.unmatched_keys.items():
            if keys:
                typer.echo(f"  {source}: {len(keys)} key(s) match no row: {', '.join(keys[:20])}")
    raise typer.Exit(1 if result.unresolved else 0)


@app.command(epilog="Example: dis-audit cache data/DIS5K/manifest.parquet --size 1024,1024 --format jpeg")
def cache(
    manifest: Annotated[Path, typer.Argument(help="The manifest whose samples to cache.")],
    size: Annotated[str, typer.Option(help="Training size W,H (e.g. 1024,1024), as the Dataset's size=.")],
    out: Annotated[Path | None, typer.Option(help="Cache folder (default: beside the manifest, MANIFEST_STEM.cache).")] = None,
    format: Annotated[str, typer.Option("--format", help="'jpeg' (image JPEG, mask PNG) or 'raw' (uint8 arrays, memory-mapped).")] = "jpeg",
    quality: Annotated[int, typer.Option(min=1, max=100, help="JPEG quality of cached images.")] = 95,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes that decode and resize (default: all cores).")] = None,
    shard: Annotated[str | None, typer.Option(help="Build shard INDEX/COUNT (0-based) only; shards can run at once.")] = None,
    executor: Annotated[str, typer.Option(help="'local' (processes here) or 'ray' (tasks on a Ray cluster; pip install 'dis-audit[ray]').")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (default: RAY_ADDRESS, else a local Ray).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Write every sample's image and mask at the training size (incremental, resumable, shardable)."""
    import json

    from .cache import CacheError, plan_cache, run_plan
    from .shards import ShardError, parse_shard

    try:
        w, h = (int(v) for v in size.replace("x", ",").split(","))
    except ValueError:
        fail(f"--size {size!r} is not W,H (e.g. 1024,1024)")
    try:
        plan = plan_cache(manifest, (w, h), out=out, format=format, quality=quality, shard=parse_shard(shard))
        if not json_out:
            typer.echo(plan.describe(), err=True)  # before anything is written, so a raw cache's disk is known
        with progress_bar(not json_out) as progress:
            result = run_plan(plan, workers=workers, progress=progress, executor=executor, address=ray_address)
    except (CacheError, ShardError) as exc:
        fail(str(exc))
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"built {result.built}, {result.fresh} already fresh, {len(result.failed)} failed in "
                   f"{result.seconds:.1f}s; index {result.index}")
        for path, reason in result.failed[:20]:
            typer.echo(f"  not cached: {path}: {reason}")
    raise typer.Exit(1 if result.failed else 0)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("dis-audit: interrupted", err=True)
        sys.exit(130)
