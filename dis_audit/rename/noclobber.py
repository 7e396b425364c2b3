"""The no-clobber rename that every journalled move uses, and replaying one move whatever part of it happened."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable


class JournalError(Exception):
    """A journal cannot be read, or replaying it met a state it cannot reconcile."""


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
