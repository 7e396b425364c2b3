"""kill -9 during `rename --apply`, then --resume or --undo: complete plan or original tree, bytes intact."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dis_audit.manifest import read_manifest
from dis_audit.rename import plan_rename, resume, undo
from dis_audit.rename.journal import JournalError, NoClobberRenamer, list_journals, read_journal, replay_move
from dis_audit.scan import scan
from dis_audit.testing import make_pair

REPO = Path(__file__).resolve().parents[1]
PAIRS = 300
CLASSES = ("Bag", "Chair", "Kite", "Umbrella")

CHILD = r"""
import sys, time
from dis_audit import rename
from dis_audit.rename import journal
root, mode = sys.argv[1], sys.argv[2]
real = journal.replay_move
def slow(*args):
    time.sleep(0.0005)  # widen the window so a random kill lands inside the moves
    return real(*args)
journal.replay_move = slow
if mode == "link":  # exercise the link+unlink fallback as well
    real_init = journal.NoClobberRenamer.__init__
    def init(self):
        real_init(self)
        self.method = "link"
    journal.NoClobberRenamer.__init__ = init
plan = rename.plan_rename(root, class_from=["map:" + root + "/classes.csv"])
print("planned", flush=True)
rename.apply_plan(plan, batch=16)
print("applied", flush=True)
"""


def tree_hash(root: Path, one_per_inode: bool = False) -> dict[str, str]:
    """relative path -> sha1 (journal folder and manifest excluded).

    ``one_per_inode``: count a file once even if it has two names, the state a kill leaves
    between ``link`` and ``unlink`` of the fallback rename (replay finishes it).
    """
    out = {}
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".dis-audit"]
        for name in filenames:
            if name == "manifest.parquet":
                continue
            p = Path(dirpath) / name
            if one_per_inode:
                st = p.stat()
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            out[p.relative_to(root).as_posix()] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str], bytes, float]:
    root = tmp_path_factory.mktemp("crash") / "data"
    lines = ["key,class"]
    for i in range(PAIRS):
        stem = f"IMG_{i:04d}"
        make_pair(root, "DS", stem, size=(8, 6))
        lines.append(f"{stem},{CLASSES[i % len(CLASSES)]}")
    make_pair(root, "DS", "1#Accessories#6#Bag#already_o", size=(8, 6))  # conforming: untouched
    make_pair(root, "DS", "no_class_here", size=(8, 6))  # unresolved: untouched
    (root / "classes.csv").write_text("\n".join(lines) + "\n")
    scan(root).write_manifest()
    original = tree_hash(root)
    plan = plan_rename(root, class_from=[f"map:{root / 'classes.csv'}"])
    assert len(plan.moves) == 2 * PAIRS and not plan.problems
    expected = dict(original)
    for old, new in plan.moves:
        expected[new] = expected.pop(old)
    # Calibrate: how long an uninterrupted apply runs after planning, on a copy.
    probe = root.parent / "calibrate"
    shutil.copytree(root, probe)
    outcome, duration = run_and_kill(probe, "renameat2", 60.0)
    assert outcome == "finished"
    assert tree_hash(probe) == expected
    return root, original, expected, (root / "manifest.parquet").read_bytes(), duration


def run_and_kill(root: Path, mode: str, delay: float) -> tuple[str, float]:
    """Run apply in a child, SIGKILL it ``delay`` s after it has planned; (outcome, seconds it ran after planning)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), mode], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "planned", proc.stderr.read()
    planned = time.monotonic()
    deadline = planned + delay
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    ran = time.monotonic() - planned
    out, _ = proc.communicate()
    return ("finished" if "applied" in out else "killed"), ran


def check_manifest(root: Path) -> None:
    df, vocab = read_manifest(root / "manifest.parquet")
    images = {p for p in tree_hash(root) if p.startswith("DS/im/")}
    assert set(df["image_path"]) == images
    labelled = df[df["image_path"].str.contains("IMG_")]
    assert (labelled["class_id"] >= 0).all()
    assert all(vocab[c] == n for c, n in zip(labelled["class_id"], labelled["class_name"]))


@pytest.mark.parametrize("trial", range(12))
def test_kill9_then_resume_or_undo(base, tmp_path, trial):
    src, original, expected, manifest_bytes, duration = base
    rng = random.Random(1000 + trial)
    root = tmp_path / "data"
    shutil.copytree(src, root)
    mode = "link" if trial % 3 == 2 else "renameat2"
    # Any moment from just after planning (journal not yet written) to past the manifest rewrite:
    # two trials in three aim at the first 60 %, where the files move, the others at the end.
    lo, hi = (0.6, 1.2) if trial % 3 == 0 else (0.0, 0.6)
    delay = 0.0 if trial == 0 else rng.uniform(lo * duration, hi * duration)
    outcome, _ = run_and_kill(root, mode, delay)
    now = tree_hash(root, one_per_inode=True)
    assert sorted(now.values()) == sorted(original.values()), "a file was lost or changed"
    if trial % 2 == 0:
        try:
            resume(root)
        except JournalError:
            # nothing to resume: either the journal never got written (nothing moved) or apply finished
            states = [read_journal(p) for p in list_journals(root)]
            assert (not states and tree_hash(root) == original) or states[0].status == "applied"
            if not states:
                return
        assert tree_hash(root) == expected
        check_manifest(root)
        undo(root)  # and back again
    else:
        try:
            undo(root)
        except JournalError:
            assert not list_journals(root) or outcome == "finished"
    assert tree_hash(root) == original
    assert (root / "manifest.parquet").read_bytes() == manifest_bytes


def test_crash_after_moves_before_manifest_rewrite(base, tmp_path, monkeypatch):
    """Deterministic version of the last window: every file moved, manifest not yet rewritten."""
    from dis_audit.rename import apply as rename_apply

    src, original, expected, manifest_bytes, _ = base
    root = tmp_path / "data"
    shutil.copytree(src, root)

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for the kill: nothing after this point runs

    monkeypatch.setattr(rename_apply, "_finish_manifest", die)
    with pytest.raises(KeyboardInterrupt):
        rename_apply.apply_plan(plan_rename(root, class_from=[f"map:{root / 'classes.csv'}"]))
    monkeypatch.undo()
    assert tree_hash(root) == expected
    assert (root / "manifest.parquet").read_bytes() == manifest_bytes  # still the old one
    result = resume(root)
    assert result.moved == 0 and result.manifest is not None
    check_manifest(root)
    undo(root)
    assert tree_hash(root) == original and (root / "manifest.parquet").read_bytes() == manifest_bytes


def test_torn_journal_append_is_ignored(base, tmp_path):
    src, original, _, _, _ = base
    root = tmp_path / "data"
    shutil.copytree(src, root)
    plan = plan_rename(root, class_from=[f"map:{root / 'classes.csv'}"])
    from dis_audit.rename.journal import JournalWriter, create_journal, run_moves

    journal = create_journal(root, plan.moves, {"manifest": None})
    with JournalWriter(journal) as w:
        run_moves(root, plan.moves[:101], w, batch=50)  # 101 moves: an image without its mask
    with open(journal, "a") as fh:
        fh.write('{"type":"done","up')  # a kill in the middle of an append
    assert read_journal(journal).done == 101
    undo(root)
    assert tree_hash(root) == original


def test_half_done_link_fallback_is_finished_by_replay(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(b"x")
    os.link(a, b)  # a crash between link() and unlink()
    assert replay_move(NoClobberRenamer(), str(a), str(b)) == "moved"
    assert not a.exists() and b.read_bytes() == b"x"
    assert replay_move(NoClobberRenamer(), str(a), str(b)) == "already"


def test_replay_never_overwrites_a_different_file(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(b"mine")
    b.write_bytes(b"someone else's")
    with pytest.raises(JournalError, match="refusing to overwrite"):
        replay_move(NoClobberRenamer(), str(a), str(b))
    assert a.read_bytes() == b"mine" and b.read_bytes() == b"someone else's"


def test_no_clobber_fallbacks_refuse_existing_target(tmp_path):
    for method in ("renameat2", "link", "check-rename"):
        r = NoClobberRenamer()
        r.method = method if (method != "renameat2" or r.method == "renameat2") else "link"
        a, b = tmp_path / f"a-{method}", tmp_path / f"b-{method}"
        a.write_bytes(b"1")
        b.write_bytes(b"2")
        with pytest.raises(FileExistsError):
            r(str(a), str(b))
        assert b.read_bytes() == b"2"
        b.unlink()
        r(str(a), str(b))
        assert b.read_bytes() == b"1" and not a.exists()


CTRL_C = r"""
import sys
from dis_audit.rename import journal
real, calls = journal.replay_move, [0]
def interrupted(*args):
    calls[0] += 1
    if calls[0] == 100:  # as Ctrl-C lands: in the middle of the moves
        raise KeyboardInterrupt
    return real(*args)
journal.replay_move = interrupted
from dis_audit.cli import main
sys.argv = ["dis-audit", *sys.argv[1:]]
main()
"""


def test_ctrl_c_during_apply_says_how_to_resume_and_resume_finishes(base, tmp_path):
    src, original, expected, _, _ = base
    root = tmp_path / "data"
    shutil.copytree(src, root)
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="300")
    cmd = ["rename", str(root), "--class-from", f"map:{root / 'classes.csv'}", "--apply"]
    proc = subprocess.run([sys.executable, "-c", CTRL_C, *cmd], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"dis-audit rename {root} --resume" in proc.stderr and "interrupted" in proc.stderr
    part_way = tree_hash(root, one_per_inode=True)
    assert part_way != expected and sorted(part_way.values()) == sorted(original.values())  # stopped, nothing lost
    done = subprocess.run([sys.executable, "-m", "dis_audit", "rename", str(root), "--resume"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert tree_hash(root) == expected
    check_manifest(root)
