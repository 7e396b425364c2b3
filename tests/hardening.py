"""Helpers of the hardening tests: run the CLI in-process, snapshot a folder, small valid files.

The invariants the property tests check (docs/reliability.md): no traceback, exit code 0/1/2,
nothing outside ROOT changes, every file is a manifest row or a finding.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from dis_audit.cli import app


def _encoded(fmt: str, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 8) if mode == "L" else (6, 8, 3), 200, np.uint8), mode).save(buf, fmt)
    return buf.getvalue()


JPEG = _encoded("JPEG", "RGB")
PNG = _encoded("PNG", "L")


@dataclass
class CliOutcome:
    """What one in-process CLI run did."""

    code: int
    stdout: str
    stderr: str


def run_cli(*args: str | os.PathLike) -> CliOutcome:
    """Run ``dis-audit ARGS`` in this process; fail the test on any exception but a clean exit."""
    runner = CliRunner()
    result = runner.invoke(app, [os.fspath(a) for a in args], catch_exceptions=True)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        raise AssertionError(
            f"dis-audit {' '.join(map(str, args))} raised {type(exc).__name__}: {exc}\n"
            + "".join(traceback.format_exception(exc))
        )
    stderr = result.stderr if hasattr(result, "stderr") else ""
    assert "Traceback" not in result.output + stderr, result.output + stderr
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output, stderr)
    return CliOutcome(result.exit_code, result.stdout, stderr)


def snapshot(folder: Path | bytes, skip: bytes | tuple[bytes, ...] = ()) -> dict[bytes, tuple]:
    """Every entry below ``folder`` (bytes paths, symlinks not followed): type, mode, size, content hash.

    ``skip``: relative paths (bytes) whose subtrees are left out: ROOT, when the parent is snapshot.
    """
    skips = (skip,) if isinstance(skip, bytes) else skip
    base = os.fsencode(folder)
    out: dict[bytes, tuple] = {}
    for current, dirs, files in os.walk(base):
        rel_dir = os.path.relpath(current, base)
        if rel_dir in skips:
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(current, name)
            rel = os.path.relpath(path, base)
            if rel in skips:
                continue
            st = os.lstat(path)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    digest = hashlib.sha1(fh.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, digest)
    return out


def tree_state(root: Path | bytes, ignore: tuple[bytes, ...] = (b".dis-audit", b"manifest.parquet")) -> dict[bytes, str]:
    """Relative name -> content hash of every regular file below ``root`` (ignoring dis-audit's own files)."""
    base = os.fsencode(root)
    out: dict[bytes, str] = {}
    for current, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in ignore]
        for name in files:
            path = os.path.join(current, name)
            rel = os.path.relpath(path, base)
            if rel in ignore or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            with open(path, "rb") as fh:
                out[rel] = hashlib.sha1(fh.read()).hexdigest()
    return out


def outside_world(parent: Path) -> Path:
    """Decoys beside ROOT, the things a write outside ROOT would hit first."""
    (parent / "outside").mkdir(parents=True, exist_ok=True)
    (parent / "outside" / "x.png").write_bytes(PNG)
    (parent / "manifest.parquet").write_bytes(b"not touched")
    (parent / "x.png").write_bytes(PNG)
    return parent
