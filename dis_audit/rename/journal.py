"""Crash-safe moves: a no-clobber rename, and the journal that makes apply resumable and undoable.

The journal is a JSON-lines file under ``ROOT/.dis-audit/``. It is written in full (header
plus every planned move), fsync'd and only then renamed into place, so a journal file
exists exactly when the complete plan is on disk, before the first file moves. While moves
run, ``done`` records are appended in batches; before each one the folders touched in that
batch are fsync'd, so a ``done`` record never claims a move the disk could lose.

Replay never trusts the ``done`` records alone: sources and targets of a plan are disjoint
(validation guarantees it), so for every move exactly one of "source exists" or "target
exists" tells whether it happened, also when the process died between a rename and its
record, or between an image and its mask.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..outputs import atomic_write
from ..readback import ReadBackError, check_journal_header, check_journal_record
from .noclobber import JournalError, NoClobberRenamer, fsync_dir, replay_move

__all__ = [
    "JournalError", "JournalState", "JournalWriter", "MoveCounts", "NoClobberRenamer", "check_moves_inside",
    "create_journal", "fsync_dir", "journal_dir", "list_journals", "read_journal", "replay_move", "root_lock",
    "run_moves",
]

JOURNAL_DIRNAME = ".dis-audit"
JOURNAL_VERSION = 1
JOURNAL_PREFIX = "rename-"
JOURNAL_SUFFIX = ".jsonl"


# ----------------------------------------------------------------------------- the journal file

@dataclass
class JournalState:
    """A journal as read back: its plan and how far apply and undo got."""

    path: Path
    header: dict[str, Any]
    moves: list[tuple[str, str]]  # (source, target) relative to root
    done: int = 0  # moves recorded done (a lower bound; replay checks the tree)
    complete: bool = False
    undone: int = 0
    undo_complete: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)  # every non-move record, in order
    valid_bytes: int | None = None  # where the last whole record ends (a torn tail lies beyond)

    @property
    def status(self) -> str:
        if self.undo_complete:
            return "undone"
        if self.undone:
            return "undo-interrupted"
        if self.complete:
            return "applied"
        return "interrupted" if self.done or self.records else "started"

    def last(self, kind: str) -> dict[str, Any] | None:
        for record in reversed(self.records):
            if record.get("type") == kind:
                return record
        return None


def journal_dir(root: str | os.PathLike) -> Path:
    return Path(root) / JOURNAL_DIRNAME


def _dump(record: dict[str, Any]) -> str:
    # ensure_ascii keeps lines pure ASCII, so a torn last line can never be mistaken for valid UTF-8 text.
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"


def new_journal_name() -> str:
    """A fresh journal file name; names sort by creation time (UTC stamp, then nanoseconds)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{JOURNAL_PREFIX}{stamp}-{time.time_ns() % 10**9:09d}-{os.getpid()}{JOURNAL_SUFFIX}"


def create_journal(
    root: str | os.PathLike, moves: Sequence[tuple[str, str]], header: dict[str, Any], name: str | None = None
) -> Path:
    """Write the whole plan durably, then give the journal its final name. Returns its path."""
    directory = journal_dir(root)
    directory.mkdir(exist_ok=True)
    name = name or new_journal_name()
    final = directory / name
    head = dict(header)
    head.update({"type": "header", "version": JOURNAL_VERSION, "count": len(moves), "created": time.time()})

    def write_plan(tmp: str) -> None:
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(_dump(head))
            write = fh.write
            for src, dst in moves:
                write(_dump({"type": "move", "src": src, "dst": dst}))
            fh.write(_dump({"type": "planned"}))

    # The project's one atomic writer (fsync, rename, temp file removed on any error, a full disk
    # included): no journal and nothing moved unless the whole plan is on disk.
    atomic_write(final, write_plan)
    fsync_dir(str(directory))
    return final


def read_journal(path: str | os.PathLike) -> JournalState:
    """Parse and check a journal (``readback``); a torn last line (a kill or full disk during an append) is ignored.

    ``JournalState.valid_bytes`` is where the last whole record ends: ``JournalWriter`` cuts a
    torn tail there before appending, so a resumed or undone journal stays readable.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise JournalError(f"journal not found: {path}") from exc
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise JournalError(f"{path} is empty: the plan was never written, so nothing moved under it")
    lines = raw.split(b"\n")
    header: dict[str, Any] | None = None
    moves: list[tuple[str, str]] = []
    state = None
    offset = 0
    valid = 0
    for number, line in enumerate(lines, 1):
        end = offset + len(line) + 1  # past this line's newline
        last = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
        whole = end <= len(raw)  # a line without its newline is an interrupted append
        offset = end
        if not line.strip():
            if whole:
                valid = end
            continue
        try:
            record = json.loads(line) if whole or not last else None
        except ValueError:
            record = None
        if record is None:
            if last:
                break  # torn final append: ignored, and cut off before the next append
            raise JournalError(f"{path}:{number}: not a journal record (the file was edited or damaged)")
        where = f"{path}:{number}"
        try:
            if header is None:
                if not isinstance(record, dict) or record.get("type") != "header" or record.get("version") != JOURNAL_VERSION:
                    raise JournalError(f"{path} is not a dis-audit rename journal (version {JOURNAL_VERSION})")
                check_journal_header(record, where)
                header = record
                valid = end
                continue
            kind, value = check_journal_record(record, where, None if state is None else len(moves))
        except ReadBackError as exc:
            raise JournalError(f"{exc} (the journal was edited or damaged; nothing was changed)") from None
        valid = end
        if kind == "move":
            if state is not None:
                raise JournalError(f"{where}: move record after the plan was complete")
            moves.append(value)
            continue
        if kind == "planned":
            state = JournalState(path, header, moves)
            continue
        if state is None:
            raise JournalError(f"{where}: record before the plan is complete")
        state.records.append(record)
        if kind == "done":
            state.done = max(state.done, int(record["upto"]))
        elif kind == "complete":
            state.complete = True
            state.done = len(moves)
        elif kind == "undo-done":
            state.undone = max(state.undone, int(record["count"]))
        elif kind == "undone":
            state.undo_complete = True
            state.undone = len(moves)
    if header is None or state is None:
        raise JournalError(f"{path}: journal is incomplete (the plan was never fully written, so nothing moved)")
    if len(moves) != header.get("count"):
        raise JournalError(f"{path}: journal lists {len(moves)} moves, its header says {header.get('count')}")
    state.valid_bytes = valid
    return state


def check_moves_inside(root: str | os.PathLike, moves: Sequence[tuple[str, str]]) -> None:
    """Refuse a journal whose moves would leave ROOT, also through a symlinked folder (JournalError).

    The paths passed ``check_relative_path`` when read; this adds the folders' real locations,
    as ``validate_plan`` does for a plan.
    """
    root_s = os.fspath(root)
    root_real = os.path.realpath(root_s)
    prefix = root_real.rstrip(os.sep) + os.sep
    seen: dict[str, bool] = {}
    for src, dst in moves:
        for rel in (src, dst):
            folder = os.path.dirname(rel)
            ok = seen.get(folder)
            if ok is None:
                real = os.path.realpath(os.path.join(root_s, folder))
                ok = seen[folder] = real == root_real or real.startswith(prefix)
            if not ok:
                raise JournalError(f"journal move {src} -> {dst} leaves {root_s}; refusing to replay it (nothing moved)")


class JournalWriter:
    """Appends records to a journal; ``mark`` fsyncs, so call it per batch, not per file.

    ``valid_bytes`` (from ``read_journal``) cuts a torn tail before the first append. A failed
    append (a full disk) is cut back too, so the journal always ends with a whole record.
    """

    def __init__(self, path: str | os.PathLike, valid_bytes: int | None = None) -> None:
        self.path = Path(path)
        # Unbuffered: a failed write must leave nothing in a buffer that a later flush could append.
        self._fd = os.open(self.path, os.O_RDWR)
        try:
            size = os.lseek(self._fd, 0, os.SEEK_END)
            if valid_bytes is not None and valid_bytes < size:
                os.ftruncate(self._fd, valid_bytes)
                os.lseek(self._fd, valid_bytes, os.SEEK_SET)
                os.fsync(self._fd)
        except BaseException:
            os.close(self._fd)
            raise

    def mark(self, record: dict[str, Any]) -> None:
        data = _dump(record).encode("ascii")
        start = os.lseek(self._fd, 0, os.SEEK_CUR)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError:
            self._cut(start)
            raise

    def _cut(self, size: int) -> None:
        """Drop a partly written record (truncating needs no free space)."""
        try:
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def list_journals(root: str | os.PathLike) -> list[Path]:
    """Journals under ROOT, oldest first (names start with a UTC timestamp)."""
    directory = journal_dir(root)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(JOURNAL_PREFIX) and p.name.endswith(JOURNAL_SUFFIX))


@contextmanager
def root_lock(root: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ROOT's journal folder, so two applies never interleave."""
    directory = journal_dir(root)
    directory.mkdir(exist_ok=True)
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no flock (Windows): rely on the journal alone
            pass
        except BlockingIOError as exc:
            raise JournalError(f"another dis-audit rename is running on {root}") from exc
        yield
    finally:
        os.close(fd)


class MoveCounts(NamedTuple):
    """What ``run_moves`` did: files moved, files found already moved, and how (``NoClobberRenamer.method``)."""

    moved: int
    already: int
    method: str


def run_moves(
    root: str | os.PathLike,
    moves: Sequence[tuple[str, str]],
    writer: JournalWriter,
    *,
    start: int = 0,
    record: str = "done",
    batch: int = 4096,
    batch_seconds: float = 0.5,
    progress: Callable[[str, int, int], None] | None = None,
    stage: str = "rename",
    renamer: NoClobberRenamer | None = None,
) -> MoveCounts:
    """Replay ``moves[start:]`` in order, appending a durable ``record`` mark per batch.

    Each mark is ``{"type": record, "upto"/"count": n}`` meaning the first n moves are done
    (their folders fsync'd first). Returns counts of moved and already-done files, and the
    rename method used.
    """
    rename = renamer or NoClobberRenamer()
    root_s = str(root)
    join = os.path.join
    counts = {"moved": 0, "already": 0}
    dirs: set[str] = set()
    last_mark = time.monotonic()
    total = len(moves)
    key = "upto" if record == "done" else "count"

    full: list[OSError] = []

    def flush(n: int) -> None:
        for d in dirs:
            fsync_dir(d)
        dirs.clear()
        try:
            writer.mark({"type": record, key: n})
        except OSError as exc:
            # A full disk: progress marks are only a lower bound (replay checks the tree), so the
            # moves go on (a rename needs no new space) and the error is raised once they are done.
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            full.append(exc)

    for i in range(start, total):
        src, dst = moves[i]
        src_abs, dst_abs = join(root_s, src), join(root_s, dst)
        counts[replay_move(rename, src_abs, dst_abs)] += 1
        dirs.add(os.path.dirname(dst_abs))
        done = i + 1
        if done % batch == 0 or (done % 256 == 0 and time.monotonic() - last_mark > batch_seconds):
            flush(done)
            last_mark = time.monotonic()
            if progress:
                progress(stage, done, total)
    flush(total)
    if progress:
        progress(stage, total, total)
    if full:
        raise OSError(full[0].errno, f"{os.strerror(full[0].errno or errno.ENOSPC)} (the disk is full): every move is "
                      f"done, but the journal {writer.path} could not record it; free space and run the same "
                      "command with --resume (or --undo) again")
    return MoveCounts(counts["moved"], counts["already"], rename.method)
