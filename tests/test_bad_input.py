"""Hostile trees scan without a traceback and report what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dis_audit import scan
from dis_audit.testing import make_pair

REPO = Path(__file__).resolve().parents[1]
GOOD = "1#Accessories#1#Bag#26345192014_f722d1ef0b_o"


def build_hostile_tree(root: Path) -> None:
    make_pair(root, "DIS-TR", GOOD)
    im, gt = root / "DIS-TR/im", root / "DIS-TR/gt"
    (im / "1#Accessories#1#Bag#zero_o.jpg").write_bytes(b"")
    (gt / "1#Accessories#1#Bag#zero_o.png").write_bytes(b"")
    (im / "1#Accessories#1#Bag#trunc_o.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    make_pair(root, "DIS-TR", "12#Music Instrument#70#Violin#with spaces and ünïcødé 名前_o")
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#emoji 🎻_o")
    with open(bytes(im) + b"/bad\xff\xfename.jpg", "wb") as fh:
        fh.write(b"\xff\xd8\xff")
    (im / "loop").symlink_to(im)
    (im / "dangling.jpg").symlink_to(root / "missing.jpg")
    locked = im / "locked"
    locked.mkdir()
    (locked / "x.jpg").write_bytes(b"")
    locked.chmod(0)
    (im / ".DS_Store").write_bytes(b"\x00")
    (im / "Thumbs.db").write_bytes(b"\x00")
    (im / "readme.txt").write_text("hi")


def test_hostile_tree_via_cli_no_traceback(tmp_path):
    build_hostile_tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dis_audit", "scan", str(tmp_path), "--json"], capture_output=True, text=True, env=env,
        )
    finally:
        (tmp_path / "DIS-TR/im/locked").chmod(0o755)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1
    import json

    data = json.loads(proc.stdout)
    codes = {(f["code"], f["path"]) for f in data["findings"]}
    assert ("DA302", "DIS-TR/im/1#Accessories#1#Bag#zero_o.jpg") in codes
    assert ("DA402", "DIS-TR/gt/1#Accessories#1#Bag#zero_o.png") in codes
    assert ("DA301", "DIS-TR/im/1#Accessories#1#Bag#trunc_o.jpg") in codes
    assert ("DA106", "DIS-TR/im/bad\\xff\\xfename.jpg") in codes
    assert ("DA206", "DIS-TR/im/loop") in codes
    assert ("DA301", "DIS-TR/im/dangling.jpg") in codes
    rows = {r for r in data["findings"] if False}
    assert data["summary"]["skipped_files"] == 3
    assert not rows
    assert (tmp_path / "manifest.parquet").is_file()


def test_unreadable_directory_is_a_finding(tmp_path, monkeypatch):
    # Root reads every folder whatever its mode, so simulate the permission error.
    make_pair(tmp_path, "DIS-TR", GOOD)
    (tmp_path / "DIS-TR/im/private").mkdir()
    real_listdir = os.listdir

    def listdir(path="."):
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied")
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    result = scan(tmp_path, workers=1)
    assert [(f.code, f.path, f.message) for f in result.findings] == [("DA206", "DIS-TR/im/private", "Permission denied")]
    assert result.table.num_rows == 1


def test_a_dead_worker_is_an_error_not_a_hang(tmp_path):
    # A decoder that takes the whole process down (segfault, OOM kill) must end the scan with a
    # message; multiprocessing.Pool would wait for the lost chunk forever.
    for i in range(12):
        make_pair(tmp_path, "DIS-TR", f"1#Accessories#1#Bag#{i}_o")
    code = """
import os, sys
import dis_audit
pool_module, evaluate_module = sys.modules["dis_audit._pool"], sys.modules["dis_audit._evaluate"]
pool_module.PARALLEL_THRESHOLD, pool_module.CHUNK = 1, 2
real_probe = evaluate_module.probe_files
def crashing_probe(prefix, paths):
    if any(path and path.endswith("#7_o.jpg") for path in paths):
        os._exit(139)
    return real_probe(prefix, paths)
evaluate_module.probe_files = crashing_probe
try:
    dis_audit.scan(sys.argv[1], workers=2)
except dis_audit.ScanError as exc:
    print("ScanError:", exc)
"""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert "ScanError: a worker process died" in proc.stdout, proc.stdout + proc.stderr
