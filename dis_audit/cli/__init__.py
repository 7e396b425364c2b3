"""The ``dis-audit`` command line: a thin typer shell over the library.

Each command parses its options, calls library functions and renders the result. Exit
codes: 0 no error finding, 1 error findings (or refused work), 2 usage or IO problems.
The commands live in one module per group; importing them registers them on ``app``.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from ._app import app

# Importing a command module registers its commands on ``app``, in this order (the order of --help).
for _module in ("scan", "manifests", "rename", "cache"):
    import_module(f"{__name__}.{_module}")

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    from ._fastpath import run_plain_scan

    try:
        # A plain `scan` command line skips typer's per-option pydantic coercion (~0.25 s CPU).
        if not run_plain_scan(sys.argv[1:]):
            app()
    except KeyboardInterrupt:
        typer.echo("dis-audit: interrupted", err=True)
        sys.exit(130)
