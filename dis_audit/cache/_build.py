"""Planning and building a cache: which entries are fresh, which to (re)build, and the build itself."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from .._pool import ProgressCallback, WorkerDied
from ..executor import Executor, ExecutorError, get_executor
from ..manifest import ManifestError, manifest_root, read_manifest_table
from ..paths import UnsafePathError, check_relative_path, display_path
from ..shards import shard_of
from ._entry import LEGACY_MASK_SUFFIX, build_entry, entry_exists, entry_files, raw_entry_bytes
from ._index import (
    INDEX_SCHEMA,
    CacheError,
    CacheSettings,
    entry_base,
    entry_name,
    newest_per_key,
    read_index,
    shard_index_name,
    write_index,
)

# Entries per job sent to a worker: enough to amortize the round trip, small enough to keep
# both workers busy to the end and the progress bar moving.
JOB_ENTRIES = 4


def default_cache_dir(manifest: str | os.PathLike) -> Path:
    """The cache folder beside a manifest: ``manifest.parquet`` -> ``manifest.cache/``."""
    path = Path(manifest)
    return path.with_name(path.stem + ".cache")


@dataclass
class CachePlan:
    """What a build will do; ``describe()`` says it in words (disk needed for ``raw``)."""

    manifest: Path
    root: Path
    cache_dir: Path
    settings: CacheSettings
    shard: tuple[int, int] | None
    #: Index rows (dicts) of entries that are already fresh (built before, or left by a killed build).
    fresh: list[dict] = field(default_factory=list)
    #: Index rows of entries to build.
    todo: list[dict] = field(default_factory=list)
    #: (image path, reason) of samples that cannot be cached (missing file, unsafe path).
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: Entry names whose sources changed: removed once their replacement is indexed.
    superseded: list[str] = field(default_factory=list)
    #: Entries to rebuild only because an older dis-audit built them (PNG masks, before ``.msk``).
    upgraded: int = 0
    free_bytes: int = 0

    @property
    def bytes_needed(self) -> int | None:
        """Disk the build will take (``raw`` only; a JPEG's size depends on the picture)."""
        if self.settings.format != "raw":
            return None
        return len(self.todo) * raw_entry_bytes(self.settings.width, self.settings.height)

    def describe(self) -> str:
        s = self.settings
        text = (
            f"cache {self.cache_dir} ({s.format}, {s.width}x{s.height}): {len(self.todo)} to build, "
            f"{len(self.fresh)} fresh, {len(self.failed)} not cacheable"
        )
        if self.upgraded:
            text += f"; {self.upgraded} of those to build were made by an older dis-audit (PNG masks) and are rebuilt"
        need = self.bytes_needed
        if need is not None:
            text += f"; will take {need / 2**30:.2f} GiB of {self.free_bytes / 2**30:.2f} GiB free"
        return text


@dataclass
class CacheResult:
    """What a build did."""

    cache_dir: Path
    index: Path
    built: int
    fresh: int
    failed: list[tuple[str, str]]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "cache_dir": str(self.cache_dir), "index": str(self.index), "built": self.built, "fresh": self.fresh,
            "failed": [{"image_path": p, "reason": r} for p, r in self.failed], "seconds": round(self.seconds, 3),
        }


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def plan_cache(
    manifest: str | os.PathLike,
    size: tuple[int, int],
    out: str | os.PathLike | None = None,
    format: str = "jpeg",
    quality: int = 95,
    shard: tuple[int, int] | None = None,
    root: str | os.PathLike | None = None,
) -> CachePlan:
    """Compare the manifest's samples (those with a mask) with the cache; nothing is written.

    A sample is fresh when the index (or, after a killed build, the disk) holds an entry for
    its paths, source sizes and mtimes at these settings; otherwise it is to be built.
    """
    settings = CacheSettings(int(size[0]), int(size[1]), format, int(quality))
    try:
        table, meta = read_manifest_table(manifest)
    except ManifestError as exc:
        raise CacheError(str(exc)) from exc
    data_root = Path(root) if root is not None else manifest_root(manifest, meta)
    cache_dir = Path(out) if out is not None else default_cache_dir(manifest)
    if cache_dir.exists() and not cache_dir.is_dir():
        raise CacheError(f"cache path is not a folder: {cache_dir}")
    plan = CachePlan(Path(manifest), data_root, cache_dir, settings, shard)
    known, legacy = {}, {}
    for row in read_index(cache_dir).to_pylist() if cache_dir.is_dir() else []:
        if (row["width"], row["height"]) != settings.size:
            continue
        if row["settings"] == settings.settings:
            known[row["image_path"]] = row
        elif row["settings"] == settings.legacy_settings:
            legacy[row["image_path"]] = row
    now = time.time_ns()
    for image_path, mask_path in zip(table["image_path"].to_pylist(), table["mask_path"].to_pylist()):
        if mask_path is None or (shard is not None and shard_of(image_path, shard[1]) != shard[0]):
            continue
        try:
            image_stat = _stat(data_root / check_relative_path(image_path, "image path"))
            mask_stat = _stat(data_root / check_relative_path(mask_path, "mask path"))
        except UnsafePathError as exc:
            plan.failed.append((image_path, str(exc)))
            continue
        except OSError as exc:
            plan.failed.append((image_path, f"cannot read {display_path(exc.filename or '')}: {exc.strerror}"))
            continue
        name = entry_name(image_path, mask_path, settings, image_stat, mask_stat)
        row = {
            "image_path": image_path, "mask_path": mask_path, "width": settings.width, "height": settings.height,
            "format": settings.format, "settings": settings.settings, "image_size": image_stat[0],
            "image_mtime_ns": image_stat[1], "mask_size": mask_stat[0], "mask_mtime_ns": mask_stat[1],
            "entry": name, "built_ns": now,
        }
        old = known.get(image_path)
        if old is not None and old["entry"] != name:
            plan.superseded.append(old["entry"])
        older = legacy.get(image_path)
        if older is not None:  # replaced by this build's entry; its files go once that is indexed
            plan.superseded.append(older["entry"])
        if old is not None and old["entry"] == name and entry_exists(entry_base(cache_dir, name), format):
            plan.fresh.append(old)
        elif entry_exists(entry_base(cache_dir, name), format):
            plan.fresh.append(row)  # written by a build that was killed before its index
        else:
            plan.todo.append(row)
            plan.upgraded += older is not None and old is None
    plan.free_bytes = _free_bytes(cache_dir)
    return plan


def _build_job(job: tuple[str, list[tuple[str, str, str]], str, tuple[int, int], int]) -> list[str | None]:
    """Worker: build a few entries; per entry None, or the reason it failed."""
    cache_dir, items, fmt, size, quality = job
    out: list[str | None] = []
    for image, mask, name in items:
        try:
            build_entry(image, mask, entry_base(Path(cache_dir), name), fmt, size, quality)
            out.append(None)
        except FileNotFoundError as exc:
            out.append(f"file not found: {display_path(exc.filename or '')}")
        except (OSError, ValueError, SyntaxError) as exc:  # Pillow's errors for corrupt or odd files
            out.append(f"cannot decode: {exc}")
    return out


def run_plan(
    plan: CachePlan,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    executor: str | Executor | None = None,
    address: str | None = None,
) -> CacheResult:
    """Build the plan's entries, then write the index atomically.

    ``executor``: ``"local"`` (default: ``workers`` processes here), ``"ray"`` (tasks on the Ray
    cluster at ``address`` or ``RAY_ADDRESS``) or any ``dis_audit.executor.Executor``.
    """
    start = time.perf_counter()
    need = plan.bytes_needed
    if need is not None and need > plan.free_bytes:
        raise CacheError(
            f"a raw cache of {len(plan.todo)} entries needs {need / 2**30:.2f} GiB; "
            f"{plan.cache_dir} has {plan.free_bytes / 2**30:.2f} GiB free (use --format jpeg, or --out elsewhere)"
        )
    try:
        runner = get_executor(executor, workers, address)
    except ExecutorError as exc:
        raise CacheError(str(exc)) from exc
    s = plan.settings
    try:
        plan.cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create cache folder {plan.cache_dir}: {exc.strerror or exc}") from exc
    jobs = []
    for i in range(0, len(plan.todo), JOB_ENTRIES):
        items = [(str(plan.root / r["image_path"]), str(plan.root / r["mask_path"]), r["entry"])
                 for r in plan.todo[i : i + JOB_ENTRIES]]
        jobs.append((str(plan.cache_dir), items, s.format, s.size, s.quality))
    results: dict[int, list[str | None]] = {}
    done = 0
    if progress:
        progress("cache", 0, len(plan.todo))
    numbered = list(enumerate(jobs))
    try:
        for i, out in runner.map_unordered(_numbered_job, numbered):
            results[i] = out
            done += len(out)
            if progress:
                progress("cache", done, len(plan.todo))
    except WorkerDied as exc:
        raise CacheError(str(exc).replace("reading files", "building the cache")) from exc
    failed = list(plan.failed)
    built = []
    for i, (_, items, *_rest) in numbered:
        for row, reason in zip(plan.todo[i * JOB_ENTRIES : i * JOB_ENTRIES + len(items)], results[i]):
            if reason is None:
                built.append(row)
            else:
                failed.append((row["image_path"], reason))
    index = _write_index(plan, built)
    _remove_superseded(plan)
    return CacheResult(plan.cache_dir, index, len(built), len(plan.fresh), failed, time.perf_counter() - start)


def _numbered_job(item: tuple[int, tuple]) -> tuple[int, list[str | None]]:
    return item[0], _build_job(item[1])


def _write_index(plan: CachePlan, built: list[dict]) -> Path:
    """This run's part: its previous rows for other sizes, settings or samples, and every entry now fresh."""
    import pyarrow.parquet as pq

    name = shard_index_name(plan.shard)
    path = plan.cache_dir / name
    rows = [pa.Table.from_pylist(plan.fresh + built, schema=INDEX_SCHEMA)]
    if path.is_file():
        try:
            previous = pq.read_table(path, schema=INDEX_SCHEMA)
        except (OSError, pa.ArrowException) as exc:
            raise CacheError(f"cannot read cache index {path}: {exc}") from exc
        s = plan.settings
        mine = {r["image_path"] for r in plan.fresh + built + plan.todo}
        ours = {s.settings, s.legacy_settings}  # a legacy (PNG mask) row is replaced by this build's
        keep = [
            i for i, (p, w, h, st) in enumerate(zip(*(previous[c].to_pylist() for c in ("image_path", "width", "height", "settings"))))
            if not (p in mine and (w, h) == s.size and st in ours)
        ]
        rows.insert(0, previous.take(pa.array(keep, pa.int64())))
    return write_index(plan.cache_dir, name, [newest_per_key(pa.concat_tables(rows))])


def _remove_superseded(plan: CachePlan) -> None:
    live = {r["entry"] for r in read_index(plan.cache_dir).to_pylist()}
    for name in plan.superseded:
        if name in live:
            continue
        base = entry_base(plan.cache_dir, name)
        for path in (*entry_files(base, plan.settings.format), base.with_suffix(LEGACY_MASK_SUFFIX)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def build_cache(
    manifest: str | os.PathLike,
    size: tuple[int, int],
    out: str | os.PathLike | None = None,
    format: str = "jpeg",
    quality: int = 95,
    workers: int | None = None,
    shard: tuple[int, int] | None = None,
    root: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    executor: str | Executor | None = None,
    address: str | None = None,
) -> CacheResult:
    """Build (or bring up to date) the training-size cache of a manifest: ``plan_cache`` then ``run_plan``."""
    return run_plan(plan_cache(manifest, size, out, format, quality, shard, root), workers, progress, executor, address)
