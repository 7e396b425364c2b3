"""The one writer of every output file (manifest, HTML report, plan CSV, restored manifest).

``atomic_write`` writes beside the target and renames over it, so a reader (or a crash, or a
full disk) sees the old file or the new one, never half of one. It also keeps the promises a
plain ``open(path, "w")`` keeps and a bare temp file + rename does not:

* a target that exists and is not a regular file (``/dev/full``, a FIFO, a socket, a folder)
  is refused before anything is written: a rename would replace the device node itself;
* an existing file keeps its permission bits, and a new file gets ``0666 & ~umask`` like any
  other program's output (``mkstemp`` alone would leave it 0600, unreadable to teammates);
* the temp file is removed on every error, including a full disk and Ctrl-C.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["OutputError", "atomic_write", "current_umask"]


class OutputError(OSError):
    """An output path cannot be written safely (not a regular file, or the write failed)."""


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask has no getter)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # set and restore: a brief window other threads could observe
    os.umask(mask)
    return mask


def _target_mode(path: Path) -> int:
    """Permission bits the new file gets; raises OutputError for a target that is not a regular file."""
    try:
        st = os.stat(path)  # follows a symlink: a link to a device is still a device
    except FileNotFoundError:
        return 0o666 & ~current_umask()
    except OSError as exc:
        raise OutputError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (device, FIFO or socket)"
        raise OutputError(f"refusing to write {path}: it is {kind}")
    return stat.S_IMODE(st.st_mode)


def atomic_write(path: str | os.PathLike, writer: Callable[[str], object]) -> Path:
    """Call ``writer(tmp_path)`` and move the result over ``path`` in one rename; returns ``path``.

    Raises OutputError for a target that is not a regular file, and OSError (the temp file
    removed) when writing fails, e.g. ENOSPC.
    """
    path = Path(path)
    mode = _target_mode(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        _target_mode(path)  # a device or FIFO put there while we wrote is still never replaced
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
