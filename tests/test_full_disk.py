"""A full disk during scan, rename and undo: one-line errors, no temp files, and undo still possible.

Two ways to fill the disk: an injected ENOSPC (always runs: the journal's appends, the manifest
writer and the file writes fail half-way, as a real full disk makes them), and a real 2 MB
tmpfs filled to the last byte (needs root and mount; skipped with the reason elsewhere).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hardening import run_cli, tree_state

from dis_audit import manifest as manifest_module
from dis_audit.rename.journal import list_journals, read_journal
from dis_audit.scan import scan
from dis_audit.testing import make_pair


def _tree(root: Path) -> Path:
    lines = ["key,class"]
    for i in range(6):
        make_pair(root, "DS", f"IMG_{i}", size=(8, 6))
        lines.append(f"IMG_{i},{('Bag', 'Kite', 'Chair')[i % 3]}")
    (root / "classes.csv").write_text("\n".join(lines) + "\n")
    scan(root, workers=1).write_manifest()
    return root


def _temp_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*.tmp")]


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_then_full(real_write):
    """os.write that writes half of the first buffer, then fails: the torn append of a full disk."""
    calls = {"n": 0}

    def write(fd, data):
        calls["n"] += 1
        if calls["n"] == 1 and len(data) > 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


def test_scan_on_a_full_disk_keeps_the_old_manifest(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    old = (root / "manifest.parquet").read_bytes()

    def half_then_full(table, where):
        Path(where).write_bytes(b"PAR1 half a manifest")
        _enospc()

    monkeypatch.setattr(manifest_module, "_write_parquet", half_then_full)
    out = run_cli("scan", root, "--workers", "1")
    assert out.code == 2 and "No space left on device" in out.stderr and out.stderr.count("\n") == 1
    assert (root / "manifest.parquet").read_bytes() == old
    assert _temp_files(root) == []


def test_rename_with_journal_appends_failing_then_resume_and_undo(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    original, old_manifest = tree_state(root), (root / "manifest.parquet").read_bytes()
    monkeypatch.setattr(os, "write", _half_then_full(os.write))
    out = run_cli("rename", root, "--class-from", f"map:{root / 'classes.csv'}", "--apply")
    monkeypatch.undo()
    assert out.code == 2 and "disk is full" in out.stderr
    journal = list_journals(root)[-1]
    assert journal.read_bytes().endswith(b"\n")  # the torn append was cut back
    assert read_journal(journal).status in ("started", "interrupted", "applied")
    assert run_cli("rename", root, "--resume").code == 0  # space is back
    assert read_journal(journal).last("manifest") is not None
    assert run_cli("rename", root, "--undo").code == 0
    assert tree_state(root) == original and (root / "manifest.parquet").read_bytes() == old_manifest


def test_rename_when_the_manifest_rewrite_hits_a_full_disk(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    original, old_manifest = tree_state(root), (root / "manifest.parquet").read_bytes()
    real = manifest_module._write_parquet

    def fail_on_rewrite(table, where):
        real(table, where)  # the temp file is written in full, then the disk fills before the fsync
        _enospc()

    monkeypatch.setattr(manifest_module, "_write_parquet", fail_on_rewrite)
    out = run_cli("rename", root, "--class-from", f"map:{root / 'classes.csv'}", "--apply")
    monkeypatch.undo()
    assert out.code == 2 and "--resume" in out.stderr and "No space left" in out.stderr
    assert _temp_files(root) == [] and (root / "manifest.parquet").read_bytes() == old_manifest
    assert run_cli("rename", root, "--resume").code == 0
    assert run_cli("rename", root, "--undo").code == 0
    assert tree_state(root) == original and (root / "manifest.parquet").read_bytes() == old_manifest


def test_undo_on_a_full_disk_restores_names_and_can_be_finished(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    original, old_manifest = tree_state(root), (root / "manifest.parquet").read_bytes()
    assert run_cli("rename", root, "--class-from", f"map:{root / 'classes.csv'}", "--apply").code == 0
    monkeypatch.setattr(os, "write", _half_then_full(os.write))
    real_write_bytes = Path.write_bytes

    def full(self, data):
        real_write_bytes(self, data[: len(data) // 2])
        _enospc()

    monkeypatch.setattr(Path, "write_bytes", full)
    out = run_cli("rename", root, "--undo")
    monkeypatch.undo()
    assert out.code == 2 and "No space left" in out.stderr
    assert tree_state(root) == original  # every name is back already
    assert _temp_files(root) == []
    assert run_cli("rename", root, "--undo").code == 0  # space is back: the manifest follows
    assert (root / "manifest.parquet").read_bytes() == old_manifest
    assert read_journal(list_journals(root)[-1]).status == "undone"


def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs root to mount a small tmpfs; the injected-ENOSPC tests cover it")
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")


def _fill(disk: Path) -> Path:
    """Write zeros until the filesystem refuses even one more byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        chunk = 1 << 16
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 2
    finally:
        os.close(fd)
    return filler


def test_real_full_tmpfs(tmp_path):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "2m")
    try:
        root = _tree(disk / "ROOT")
        original, old_manifest = tree_state(root), (root / "manifest.parquet").read_bytes()
        filler = _fill(disk)
        out = run_cli("scan", root, "--workers", "1")
        assert out.code == 2 and "No space left" in out.stderr
        assert (root / "manifest.parquet").read_bytes() == old_manifest and _temp_files(root) == []
        out = run_cli("rename", root, "--class-from", f"map:{root / 'classes.csv'}", "--apply")
        assert out.code == 2 and tree_state(root) == original  # refused before the first move
        assert list(root.glob(".dis-audit/*.parquet")) == [] and _temp_files(root) == []
        filler.unlink()
        assert run_cli("rename", root, "--class-from", f"map:{root / 'classes.csv'}", "--apply").code == 0
        filler = _fill(disk)
        out = run_cli("rename", root, "--undo")  # names come back; the manifest needs space
        assert tree_state(root) == original
        filler.unlink()
        if out.code != 0:
            assert out.code == 2 and "--undo again" in out.stderr
            assert run_cli("rename", root, "--undo").code == 0
        assert (root / "manifest.parquet").read_bytes() == old_manifest
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
