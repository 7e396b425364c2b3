"""Relative paths from outside (plan and map files) checked for safety, and any path shown to a person.

Two directions, one module:

* ``check_relative_path`` refuses a path from a user's file before it is joined to the root:
  rename plans and ``map:`` class sources name files by such paths, and one ``..`` would move
  or read a file outside ROOT.
* ``display_path`` and ``printable_text`` turn a path (or any data text) into something safe to
  print: undecodable file names arrive as surrogate escapes and become ``\\xNN``, and the HTML
  report also needs control characters escaped, since a file name may hold them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "UnsafePathError", "check_relative_path", "display_path", "location_prefix", "printable_text", "terminal_text",
]


class UnsafePathError(ValueError):
    """A path in a map or plan file would leave the root (absolute, ``..``, NUL, backslash)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Anything check_relative_path may refuse: control characters, backslash, a leading '/' or
# drive letter, and '', '.' or '..' components (at the start, the end or between slashes).
_BAD_PATH = re.compile(r"[\x00-\x1f\x7f\\]|^/|^[A-Za-z]:|//|(?:^|/)\.\.?(?:/|$)|/$")
# C0/C1 control characters other than tab and newline: not allowed in HTML text, and a trick in file names.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_relative_path(path: str, what: str = "path") -> str:
    """Return ``path`` if it is a plain relative POSIX path that stays inside its root; raise otherwise.

    Refused with ``UnsafePathError``: empty, absolute (``/x``, ``C:x``, ``//host``), any
    ``..``/``.``/empty component, NUL or other control characters, and backslashes (a Windows
    separator that would let ``..\\x`` through a POSIX-only check). ``what`` names the path in
    the message.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{what} is empty")
    if _BAD_PATH.search(path) is None:  # the common case, one regex pass (plans have 200k rows)
        return path
    if _CONTROL.search(path):
        raise UnsafePathError(f"{what} {path!r} contains NUL or control characters")
    if "\\" in path:
        raise UnsafePathError(f"{what} {path!r} contains a backslash")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UnsafePathError(f"{what} {path!r} is absolute")
    raise UnsafePathError(f"{what} {path!r} has an empty, '.' or '..' component")


def display_path(path: str) -> str:
    """A printable form of a path that may hold undecodable bytes (surrogate escapes become ``\\xNN``)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def location_prefix(root: str | os.PathLike | None, cwd: str | os.PathLike | None = None) -> str:
    """What to put before a finding's root-relative path so that it names the file from ``cwd``.

    CI annotations (GitHub, SARIF) name files from the repository checkout, the working
    directory: a root inside it gives its relative folder (``data/DIS5K/``, or ``""`` for the
    working directory itself); a root elsewhere gives its absolute POSIX path.
    """
    if root is None:
        return ""
    base = Path(os.path.abspath(root))
    here = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    try:
        rel = base.relative_to(here).as_posix()
    except ValueError:
        return base.as_posix().rstrip("/") + "/"
    return "" if rel == "." else rel + "/"


def printable_text(value: object) -> str:
    """``value`` as text that is valid UTF-8 and free of control characters (escaped as ``\\xNN``).

    Tab and newline are kept. Used for everything from the data that the HTML report shows.
    """
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = display_path(text)
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


# Everything a terminal may act on: C0 (newline and tab too: a name must stay on its line), DEL and C1.
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_text(value: object) -> str:
    """``value`` for a terminal line: ``printable_text`` with newline and tab escaped as well (``\\x0a``).

    A file name holding an escape sequence or a newline can then neither recolour the terminal
    nor fake a line of the report.
    """
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", printable_text(value))
