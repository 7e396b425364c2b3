"""The ``dis-audit`` command line: a thin typer shell over the library.

Each command parses its options, calls library functions and renders the result. Exit
codes: 0 no error finding, 1 error findings (or refused work), 2 usage or IO problems.
The commands live in one module per group; importing them registers them on ``app``.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

import typer

from ._app import app

# Importing a command module registers its commands on ``app``, in this order (the order of --help).
for _module in ("scan", "manifests", "rename", "cache"):
    import_module(f"{__name__}.{_module}")

__all__ = ["app", "main", "run"]


def main() -> None:
    """Console-script entry point."""
    from ._fastpath import run_plain_scan

    try:
        # A plain `scan` command line skips typer's per-option pydantic coercion (~0.25 s CPU).
        if not run_plain_scan(sys.argv[1:]):
            app()
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into a silent exit 130; say why the command stopped
            _interrupted()
        raise


def _interrupted() -> None:
    typer.echo("dis-audit: interrupted", err=True)
    sys.exit(130)


def run() -> None:
    """The ``dis-audit`` program (console script and ``python -m dis_audit``): ``main()``, then exit at once.

    After a scan, Python's own shutdown (pyarrow's thread pools and memory, a heap of path strings)
    takes ~0.1 s, a fifteenth of a 100,000-file scan. By the time ``main`` returns, everything the
    command wrote is closed and its worker processes are joined, so a scan ends the process as soon
    as stdout and stderr are flushed. Other commands, a scan on Ray (whose exit handlers stop the
    session) and an exit status that is not a number end the ordinary way. ``main`` itself keeps
    raising SystemExit, for callers in Python.
    """
    code: str | int | None
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    if sys.argv[1:2] != ["scan"] or "ray" in sys.modules or not isinstance(code, int):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # a closed pipe and the like: the ordinary exit reports it
        sys.exit(code)
    os._exit(code)
