"""Where independent jobs run: a small interface with a local process pool and Ray behind it.

``Executor.map_unordered(fn, jobs)`` yields ``fn(job)`` for every job, in completion order;
``fn`` must be a module-level function and jobs and results picklable. Callers put the
job's identity into its result (the cache returns the job number), so the order of arrival
does not matter and results equal a single-process run.

* ``LocalExecutor(workers)``: this machine's processes (fork where available), the pool that
  reports a dead worker instead of hanging (``_pool.pool_results``).
* ``RayExecutor(address)``: tasks on a Ray cluster (``pip install 'dis-audit[ray]'``); the
  address comes from the argument, else ``RAY_ADDRESS``, else Ray starts a local instance.
  An already initialized Ray (e.g. ``ray.init(num_cpus=2)`` in a notebook or test) is used as is.

Another engine fits by implementing ``map_unordered``; Dask's ``Client.get_executor()`` is a
``concurrent.futures.Executor`` and would need only a submit/as_completed loop like the local one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from ._pool import pool_results

_Job = TypeVar("_Job")
_Result = TypeVar("_Result")
EXECUTORS = ("local", "ray")


class ExecutorError(RuntimeError):
    """An executor cannot start (Ray missing or unreachable); the message says what to do."""


class Executor(Protocol):
    """Runs independent jobs somewhere and yields their results as they complete."""

    def map_unordered(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[Any]: ...


class LocalExecutor:
    """``workers`` processes on this machine; one job at a time in this process when ``workers`` is 1."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map_unordered(self, fn: Callable[[_Job], _Result], jobs: Iterable[_Job]) -> Iterator[_Result]:
        job_list = list(jobs)
        if self.workers <= 1 or len(job_list) <= 1:
            return (fn(job) for job in job_list)
        return pool_results(self.workers, "fork" if hasattr(os, "fork") else "spawn", None, fn, job_list)


class RayExecutor:
    """Jobs as Ray tasks (one CPU each) on the cluster at ``address`` (or ``RAY_ADDRESS``)."""

    def __init__(self, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ExecutorError("--executor ray needs Ray: pip install 'dis-audit[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorError(f"cannot connect to Ray at {address or os.environ.get('RAY_ADDRESS')}: {exc}") from exc

    def map_unordered(self, fn: Callable[[_Job], _Result], jobs: Iterable[_Job]) -> Iterator[_Result]:
        ray = self._ray
        remote = ray.remote(num_cpus=1)(fn)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)


def get_executor(kind: str | Executor | None = None, workers: int | None = None, address: str | None = None) -> Executor:
    """``"local"`` (default) or ``"ray"``, or an executor object passed through."""
    if kind is None or kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(address)
    if isinstance(kind, str):
        raise ExecutorError(f"executor must be one of {', '.join(EXECUTORS)}, not {kind!r}")
    return kind
