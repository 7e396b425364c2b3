"""`dis-audit scan` and `dis-audit config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    ConfigFile,
    Isolated,
    OutputFormat,
    Root,
    app,
    capped_workers,
    fail,
    output_format_of,
    progress_bar,
    render_result,
    settings_for,
    vocabulary_for,
    write_html,
)


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
    quality_threshold: Annotated[list[str] | None, typer.Option(help="With --deep: a DA6xx threshold NAME=VALUE (repeatable; e.g. dark_high=60); wins over the configuration's quality-thresholds; see docs/deep.md.")] = None,
    config: ConfigFile = None,
    isolated: Isolated = False,
    show_config: Annotated[bool, typer.Option("--show-config", help="Print the effective configuration and exit.")] = False,
    loader: Annotated[str | None, typer.Option(help="Loader whose behaviour the labels follow: auto (by layout), birefnet (im/gt), birefnet-fork (jpgs/masks), dis-audit (ManifestDataset); default: the configuration's, else auto.")] = None,
) -> None:
    """Find every sample, check names, images and masks, report findings, write the manifest."""
    from ..manifest import ManifestError
    from ..quality import QualityThresholds
    from ..rules import threshold_options
    from ..scan import ScanError
    from ..scan import scan as run_scan
    from ..shards import ShardError, parse_shard

    fmt = output_format_of(output_format, json_out)
    try:
        quality_flags = QualityThresholds.items_of(quality_threshold)
    except ValueError as exc:
        fail(str(exc))
    settings = settings_for(
        root, config, isolated, image_dir=image_dir, mask_dir=mask_dir, datasets=datasets, classes=classes,
        extend_vocab=extend_vocab, difficulty_map=difficulty_map, select=select, ignore=ignore, workers=workers,
        deep=deep, eval_datasets=eval_datasets, loader=loader, quality_thresholds=quality_flags or None,
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
    workers = capped_workers(settings["workers"])
    # A part manifest of a shard keeps the configured vocabulary, so every part of one scan agrees.
    vocab, extend = vocabulary_for(settings, None if shard_spec else manifest_path)
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
                quality_thresholds=settings["quality-thresholds"], loader=settings["loader"] or "auto",
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
        from ..manifest import with_findings

        # The report reads the same table the manifest holds, so --no-manifest still gets a page.
        report = write_html(with_findings(result.table, [f.to_dict() for f in result.findings]), html, root=root,
                             manifest_name=written)
        result.summary["html"] = str(report.path)
    render_result(result, written, fmt, max_examples, html)


@app.command("config", epilog="Example: dis-audit config data/DIS5K")
def show_config(
    root: Annotated[Path, typer.Argument(help="Dataset root the configuration is searched from.")] = Path("."),
    config: ConfigFile = None,
    isolated: Isolated = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Show the effective configuration: the file found from ROOT upward, each key's value and where it comes from."""
    import json

    from ..vocab_choice import describe_choice

    settings = settings_for(root, config, isolated)
    note = describe_choice(settings, root / "manifest.parquet")
    if json_out:
        typer.echo(json.dumps({**settings.to_json(), "note": note}))
        return
    typer.echo(settings.render() + f"\n# {note}")

