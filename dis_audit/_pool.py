"""The scan's worker pool: chunks of samples evaluated in processes, Arrow tables and findings back.

Under fork, workers inherit the task list and take index ranges, so nothing is pickled on the
way in; elsewhere (spawn) chunks are sent whole. A worker that dies (out of memory, a decoder
crash) ends the run with ``WorkerDied`` instead of a hang.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._evaluate import ChunkContext, Task, evaluate_to_table
from .findings import Finding

if TYPE_CHECKING:
    import pyarrow as pa

#: ``progress(stage, done, total)``; stages: "list", "probe" (or "decode" with --deep).
ProgressCallback = Callable[[str, int, int], None]
CHUNK = 1024
# Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 4000
# A full decode costs milliseconds per pair, not microseconds: small chunks keep the workers
# evenly loaded and the progress bar moving, and a pool pays off almost at once.
DEEP_CHUNK = 16
DEEP_PARALLEL_THRESHOLD = 32

#: ``--workers`` above this multiple of the cores only adds processes that wait for a core.
MAX_WORKERS_PER_CORE = 4


def cap_workers(requested: int | None) -> tuple[int, str | None]:
    """The worker count to use for ``requested`` (None: all cores), and a message when it was capped."""
    cores = os.cpu_count() or 1
    if requested is None:
        return cores, None
    limit = MAX_WORKERS_PER_CORE * cores
    if requested > limit:
        return limit, f"--workers {requested} capped at {limit} ({MAX_WORKERS_PER_CORE} per core, {cores} core(s))"
    return max(1, requested), None


_Job = TypeVar("_Job")
_Result = TypeVar("_Result")


class WorkerDied(RuntimeError):
    """A worker process ended without a result; the message says what to do."""


_WORKER_CONTEXT: ChunkContext | None = None
# Under fork, workers inherit the task list and take index ranges: nothing is pickled on the way in.
_FORKED_TASKS: Sequence[Task] | None = None


def _init_worker(ctx: ChunkContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = ctx


def _evaluate_chunk_in_worker(tasks: Sequence[Task]) -> tuple[pa.Table, list[Finding]]:
    assert _WORKER_CONTEXT is not None
    return evaluate_to_table(tasks, _WORKER_CONTEXT)


def _evaluate_range_in_worker(bounds: tuple[int, int]) -> tuple[pa.Table, list[Finding]]:
    assert _WORKER_CONTEXT is not None and _FORKED_TASKS is not None
    return evaluate_to_table(_FORKED_TASKS[bounds[0] : bounds[1]], _WORKER_CONTEXT)


def _evaluate_job(job: tuple[ChunkContext, Sequence[Task]]) -> tuple[pa.Table, list[Finding]]:
    """A chunk with its context, for executors that start no initializer (Ray tasks)."""
    return evaluate_to_table(job[1], job[0])


def run_tasks(
    tasks: list[Task],
    ctx: ChunkContext,
    workers: int,
    progress: ProgressCallback | None,
    map_unordered: Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]] | None = None,
) -> tuple[list[pa.Table], list[Finding]]:
    """Evaluate every task, in worker processes when there are many; Arrow tables per chunk, and findings.

    ``map_unordered`` (an executor's, e.g. Ray's) runs the chunks elsewhere instead; chunks come
    back in any order, which is fine: the scan sorts rows and findings afterwards.
    """
    parts: list[pa.Table] = []
    findings: list[Finding] = []
    total = len(tasks)
    if ctx.deep:
        size, threshold, stage = DEEP_CHUNK, DEEP_PARALLEL_THRESHOLD, "decode"
    else:
        size, threshold, stage = CHUNK, PARALLEL_THRESHOLD, "probe"

    def merge(part: tuple[pa.Table, list[Finding]], done: int) -> int:
        table, part_findings = part
        parts.append(table)
        findings.extend(part_findings)
        done += table.num_rows
        if progress:
            progress(stage, done, total)
        return done

    done = 0
    if progress:
        progress(stage, 0, total)
    if map_unordered is not None:
        chunk_jobs = [(ctx, tasks[i : i + size]) for i in range(0, total, size)]
        for part in map_unordered(_evaluate_job, chunk_jobs):
            done = merge(part, done)
        return parts, findings
    if workers <= 1 or total < threshold:
        for i in range(0, total, size):
            done = merge(evaluate_to_table(tasks[i : i + size], ctx), done)
        return parts, findings
    # The workers build their tables with ``arrowlists`` (never ``pa.array``), so no worker imports
    # pandas; pyarrow is imported here once, before the fork, not by each worker.
    import pyarrow  # noqa: F401

    global _FORKED_TASKS, _WORKER_CONTEXT
    if "fork" in multiprocessing.get_all_start_methods():
        _FORKED_TASKS, _WORKER_CONTEXT = tasks, ctx
        try:
            jobs = [(i, min(i + size, total)) for i in range(0, total, size)]
            for part in pool_results(workers, "fork", None, _evaluate_range_in_worker, jobs):
                done = merge(part, done)
        finally:
            _FORKED_TASKS, _WORKER_CONTEXT = None, None
        return parts, findings
    chunks = [tasks[i : i + size] for i in range(0, total, size)]
    for part in pool_results(workers, "spawn", ctx, _evaluate_chunk_in_worker, chunks):
        done = merge(part, done)
    return parts, findings


def pool_results(
    workers: int, method: str, ctx: ChunkContext | None, fn: Callable[[_Job], _Result], jobs: Iterable[_Job]
) -> Iterator[_Result]:
    """Results of ``fn`` over ``jobs`` in worker processes, as they complete.

    A process pool that notices a dead worker and says so (``WorkerDied``), where
    multiprocessing.Pool would wait for it forever. ``ctx`` is handed to each worker at start.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    initializer: Callable[..., object] | None = _init_worker if ctx is not None else None
    initargs: tuple[Any, ...] = (ctx,) if ctx is not None else ()
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(method), initializer=initializer, initargs=initargs
    ) as pool:
        futures = [pool.submit(fn, job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool as exc:
            for future in futures:
                future.cancel()
            raise WorkerDied(
                "a worker process died while reading files (out of memory, or a crash in an image decoder); "
                "rerun with --workers 1 to see which file"
            ) from exc
