"""`dis-audit rename` and `dis-audit relabel`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    ConfigFile,
    Isolated,
    Root,
    app,
    fail,
    progress_bar,
    settings_for,
    vocabulary_for,
    warn_other_root,
)


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

    from .. import rename as rn
    from ..manifest import ManifestError
    from ..paths import UnsafePathError
    from ..rename.journal import JournalError
    from ..report.terminal import render_plan, text_console

    if sum((apply, resume, undo)) > 1:
        fail("use one of --apply, --resume, --undo")
    if journal is not None and not (resume or undo):
        fail(f"unexpected argument {journal!r} (a journal goes with --undo or --resume)")
    console = text_console(stderr=json_out)
    mf = "" if no_manifest else manifest
    moving = resume or undo  # files may be half-way between names once this is true
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
            settings = settings_for(
                root, config, isolated, classes=classes, extend_vocab=extend_vocab, class_from=class_from,
                groups=None if groups is None else str(groups), image_dir=image_dir, mask_dir=mask_dir,
                datasets=datasets,
            )
            vocab, extend = vocabulary_for(settings, plan_manifest)
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
            moving = apply and not the_plan.problems
            result = rn.apply_plan(the_plan, manifest=mf, progress=progress) if moving else None
    except KeyboardInterrupt:
        if moving:  # the journal holds every move made so far: say how to finish or go back
            typer.echo(f"dis-audit: the {'undo' if undo else 'rename'} stopped part-way; " + (
                f"`dis-audit rename {root} --undo` again finishes restoring the old names" if undo else
                f"`dis-audit rename {root} --resume` finishes it, `dis-audit rename {root} --undo` restores "
                "the old names"), err=True)
        raise
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

    from ..manifest import ManifestError
    from ..paths import UnsafePathError
    from ..rename import RenameError, relabel_manifest

    path = manifest or root / "manifest.parquet"
    if not path.is_file():
        fail(f"no manifest at {path}; run `dis-audit scan {root}` first or pass --manifest")
    warn_other_root([path], root)
    settings = settings_for(root, config, isolated, class_from=class_from, extend_vocab=extend_vocab)
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

