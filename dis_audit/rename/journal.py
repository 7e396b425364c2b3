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

import ctypes
import errno
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

JOURNAL_DIRNAME = ".dis-audit"
JOURNAL_VERSION = 1
JOURNAL_PREFIX = "rename-"
JOURNAL_SUFFIX = ".jsonl"


class JournalError(Exception):
    """A journal cannot be read, or replaying it met a state it cannot reconcile."""


# ----------------------------------------------------------------------------- no-clobber rename

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _load_renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


class NoClobberRenamer:
    """Rename that never replaces an existing target; raises FileExistsError instead.

    Strategy, best first:

    1. ``renameat2(RENAME_NOREPLACE)`` (Linux, glibc >= 2.28): atomic; the kernel refuses an
       existing target, so no race with other programs.
    2. ``link`` + ``unlink``: ``link`` refuses an existing target atomically. A crash between
       the two leaves both names on one inode, which replay recognises and finishes.
    3. ``exists`` check + ``rename`` (filesystems without hard links, e.g. FAT): racy only
       against another program creating the same target in the same instant; the plan was
       validated against the tree just before and the journal lets the user undo.

    The strategy falls back the first time the filesystem says it cannot do the better one.
    """

    def __init__(self) -> None:
        self._renameat2 = _load_renameat2()
        self.method = "renameat2" if self._renameat2 else "link"

    def __call__(self, src: str, dst: str) -> None:
        if self.method == "renameat2":
            assert self._renameat2 is not None
            if self._renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
                return
            err = ctypes.get_errno()
            if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                self.method = "link"
            else:
                raise OSError(err, os.strerror(err), src, None, dst)
        if self.method == "link":
            try:
                os.link(src, dst, follow_symlinks=False)
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK) and os.path.lexists(src):
                    self.method = "check-rename"
                else:
                    raise
            else:
                os.unlink(src)
                return
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
        os.rename(src, dst)


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def replay_move(rename: NoClobberRenamer, src: str, dst: str) -> str:
    """Make the move ``src -> dst`` true, whatever part of it already happened.

    Returns ``"moved"`` or ``"already"``. Raises JournalError when the tree contradicts the
    journal (both names hold different files, or neither exists).
    """
    try:
        rename(src, dst)
        return "moved"
    except FileNotFoundError:
        if os.path.lexists(dst) and not os.path.lexists(src):
            return "already"
        if not os.path.lexists(src):
            raise JournalError(f"neither {src} nor {dst} exists: the file was removed outside dis-audit") from None
        raise
    except FileExistsError:
        if _same_file(src, dst):
            # A crash between link() and unlink() of the fallback: finish it.
            os.unlink(src)
            return "moved"
        if not os.path.lexists(src):
            return "already"
        raise JournalError(f"{dst} exists and is a different file than {src}; refusing to overwrite it") from None


def fsync_dir(path: str) -> None:
    """Make renames inside ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    tmp = directory / (name + ".tmp")
    head = dict(header)
    head.update({"type": "header", "version": JOURNAL_VERSION, "count": len(moves), "created": time.time()})
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(_dump(head))
        write = fh.write
        for src, dst in moves:
            write(_dump({"type": "move", "src": src, "dst": dst}))
        fh.write(_dump({"type": "planned"}))
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, final)
    fsync_dir(str(directory))
    return final


def read_journal(path: str | os.PathLike) -> JournalState:
    """Parse a journal; a torn last line (a kill during an append) is ignored."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise JournalError(f"journal not found: {path}") from exc
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from exc
    lines = raw.split(b"\n")
    header: dict[str, Any] | None = None
    moves: list[tuple[str, str]] = []
    state = None
    planned = False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number >= len(lines) - 1:
                break  # torn final append
            raise JournalError(f"{path}:{number}: not a journal record") from None
        kind = record.get("type") if isinstance(record, dict) else None
        if header is None:
            if kind != "header" or record.get("version") != JOURNAL_VERSION:
                raise JournalError(f"{path} is not a dis-audit rename journal (version {JOURNAL_VERSION})")
            header = record
            continue
        if kind == "move":
            moves.append((record["src"], record["dst"]))
            continue
        if kind == "planned":
            planned = True
            state = JournalState(path, header, moves)
            continue
        if state is None:
            raise JournalError(f"{path}:{number}: record before the plan is complete")
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
    if header is None or not planned or state is None:
        raise JournalError(f"{path}: journal is incomplete (the plan was never fully written, so nothing moved)")
    if len(moves) != header.get("count"):
        raise JournalError(f"{path}: journal lists {len(moves)} moves, its header says {header.get('count')}")
    return state


class JournalWriter:
    """Appends records to a journal; ``mark`` fsyncs, so call it per batch, not per file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh = open(self.path, "a", encoding="ascii")

    def mark(self, record: dict[str, Any]) -> None:
        self._fh.write(_dump(record))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

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

    def flush(n: int) -> None:
        for d in dirs:
            fsync_dir(d)
        dirs.clear()
        writer.mark({"type": record, key: n})

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
    return MoveCounts(counts["moved"], counts["already"], rename.method)
