"""`dis-audit cache`: samples at the training size."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, fail, progress_bar


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

    from ..cache import CacheError, plan_cache, run_plan
    from ..shards import ShardError, parse_shard

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

