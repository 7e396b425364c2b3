"""Listing the datasets in a forked child while the scan's process imports pyarrow.

A header scan's process spends its first half second on two independent serial steps: listing
and pairing the folders (~0.3 s for 100,000 files) and importing pyarrow, numpy and
pyarrow.compute (~0.35 s), which ``import dis_audit`` defers (``dis_audit._lazy``). On two
cores they can run side by side: ``ListingJob`` forks a child that lists and pairs every dataset
(with ``--incremental``, also stats every file) and sends the result back through a pipe, while
the parent imports. The child runs the same ``listing.list_and_pair`` as the parent would, so
the listings are the same either way.

The child is used only where it can gain anything and is safe: on Linux, when the parent has
work to do meanwhile (pyarrow is not imported yet, or ``--incremental`` has a previous manifest
to read and index) and runs no other thread (a forked child of a threaded process may inherit a
held lock). If the child fails in any way (killed, out of memory, an exception), the parent
lists by itself, so errors and findings are those of the plain path. Ctrl-C ends the child with
the parent.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from .layout import DatasetDir, DatasetListing, PairTask
from .listing import list_and_pair
from .probe import stat_many

#: ``progress(stage, done, total)``, as ``_pool.ProgressCallback``.
Progress = Callable[[str, int, int], None]
#: (size, mtime_ns) of every pair's image and of its mask, flat, in the order of the listings' pairs
#: (``probe.stat_many``'s arrays), or None when they were not asked for or there was no child.
Stats = tuple[array, array] | None

_new_pair = partial(tuple.__new__, PairTask)


def import_table_modules() -> None:
    """Import what the scan needs after listing (pyarrow, its compute and parquet modules)."""
    import pyarrow
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401


def stat_pairs(root: str, listings: Sequence[DatasetListing], threads: int) -> tuple[array, array]:
    """``probe.stat_many`` of every pair's image and mask, in the order of the listings' pairs."""
    pairs = [pair for listing in listings for pair in listing.pairs]
    prefix = f"{root}/"
    return (stat_many(prefix, list(map(itemgetter(1), pairs)), threads),
            stat_many(prefix, list(map(itemgetter(2), pairs)), threads))


class ListingJob:
    """The listings of ``datasets`` (and their stats), made in a forked child where that can gain time.

    Use as a context manager: ``start()`` on entry, ``result()`` inside, and on exit a child whose
    result was not taken (an exception, Ctrl-C) is ended and reaped.
    """

    def __init__(self, root: Path, datasets: Sequence[DatasetDir], stat_threads: int = 0) -> None:
        self.root = root
        self.datasets = list(datasets)
        #: Threads for the stat calls; 0: no stats.
        self.stat_threads = stat_threads
        self._pid: int | None = None
        self._read_fd: int | None = None

    def worthwhile(self) -> bool:
        """Whether a child can overlap anything and may be forked here (see the module docstring)."""
        # The parent's work meanwhile: importing pyarrow, or reading the previous manifest (stats
        # are asked for only when there is one).
        has_work = "pyarrow" not in sys.modules or self.stat_threads > 0
        # Linux only: elsewhere (macOS) a fork without exec is unsafe once system frameworks are loaded.
        return has_work and sys.platform.startswith("linux") and threading.active_count() == 1

    def __enter__(self) -> ListingJob:
        if self.worthwhile():
            self._fork()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._end_child(kill=True)

    def result(self, progress: Progress | None = None) -> tuple[list[DatasetListing], Stats]:
        """The listings, in the order of the datasets, and the stats when asked for and a child made them."""
        received = self._receive()
        if received is None:  # no child, or it failed: list here, the plain way
            listings = []
            for i, dataset in enumerate(self.datasets):
                listings.append(list_and_pair(self.root, dataset))
                if progress:
                    progress("list", i + 1, len(self.datasets))
            # No stats: matching stats only the pairs the old manifest has (``_incremental``).
            return listings, None
        listings, stats = received
        if progress:
            for i in range(len(listings)):
                progress("list", i + 1, len(listings))
        return listings, stats

    # ------------------------------------------------------------------ the child

    def _fork(self) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            self._child(write_fd)
        os.close(write_fd)
        self._pid, self._read_fd = pid, read_fd

    def _child(self, write_fd: int) -> None:
        code = 1
        try:
            # The parent reports Ctrl-C; the child only stops.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            listings = [list_and_pair(self.root, dataset) for dataset in self.datasets]
            packed = _frame([_pack(listing) for listing in listings])
            with os.fdopen(write_fd, "wb") as pipe:
                if not self.stat_threads:
                    pipe.write(packed)
                    pipe.write(_frame(None))
                else:
                    # The listings go first, from a thread, while the stat calls run (in C, without the
                    # GIL): the parent rebuilds the pairs (~0.1 s for 100,000 files) while the child stats.
                    sender = threading.Thread(target=pipe.write, args=(packed,))
                    sender.start()
                    stats = stat_pairs(str(self.root), listings, self.stat_threads)
                    sender.join()
                    pipe.write(_frame(stats))
            code = 0
        except BaseException:  # whatever went wrong (Ctrl-C too), the parent lists by itself
            pass
        finally:
            # No cleanup of the parent's (atexit, buffered output, temporary files) may run here.
            os._exit(code)

    def _receive(self) -> tuple[list[DatasetListing], Stats] | None:
        if self._read_fd is None:
            return None
        try:
            with os.fdopen(self._read_fd, "rb") as pipe:
                self._read_fd = None
                # A short frame (the child died) or a broken one: list here instead.
                listings = [_unpack(item) for item in _read_frame(pipe)]
                stats = _read_frame(pipe)
        except Exception:
            return None
        if not self._end_child(kill=False):
            return None
        return listings, stats

    def _end_child(self, kill: bool) -> bool:
        """Reap the child (ending it first if ``kill``); whether it exited with success."""
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None
        pid, self._pid = self._pid, None
        if pid is None:
            return False
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                return False
            except InterruptedError:
                continue
            return os.waitstatus_to_exitcode(status) == 0


def _frame(value: object) -> bytes:
    """``value`` pickled, after its length (8 bytes): a frame the parent can tell complete."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(8, "little") + payload


def _read_frame(pipe: BinaryIO) -> Any:
    """The value of the next frame on ``pipe``; EOFError when the frame is short."""
    head = pipe.read(8)
    size = int.from_bytes(head, "little") if len(head) == 8 else -1
    payload = pipe.read(size) if size >= 0 else b""
    if len(payload) != size:
        raise EOFError("short frame from the listing child")
    return pickle.loads(payload)


# The pairs travel as three strings and a bytes object a dataset, not a pickled tuple a pair:
# unpickling 100,000 path strings one by one costs the parent more than listing them.

_Packed = tuple[DatasetListing, int, str, str, bytes] | tuple[DatasetListing, int, None, None, None]


def _pack(listing: DatasetListing) -> _Packed:
    pairs = listing.pairs
    name = listing.dataset.name
    if not pairs or any(pair.dataset != name for pair in pairs):
        return (listing, 0, None, None, None)  # pickled as it is
    # No path holds a NUL, and a mask path is never empty ("" stands for no mask).
    masks = [pair.mask_path or "" for pair in pairs]
    return (replace(listing, pairs=[]), len(pairs), "\0".join(map(itemgetter(1), pairs)), "\0".join(masks),
            bytes(map(attrgetter("nested"), pairs)))


def _unpack(packed: _Packed) -> DatasetListing:
    listing, n, images, masks, nested = packed
    if images is None or masks is None or nested is None:
        return listing
    mask_paths: list[str | None] = list(masks.split("\0"))
    if "" in mask_paths:
        mask_paths = [path or None for path in mask_paths]
    flags = map(bool, nested) if any(nested) else repeat(False, n)
    listing.pairs = list(map(_new_pair, zip(repeat(listing.dataset.name, n), images.split("\0"), mask_paths, flags)))
    return listing
