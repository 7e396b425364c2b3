"""Journals cut at every byte, and journals with records of random shape: undo always possible.

A real apply writes the reference journal. A crash at any point leaves a prefix of it on disk
(the process dies mid-append, or the disk fills) and a tree where at least the recorded moves
happened. For every byte cut (and, with a manifest, for sampled cuts), ``--resume`` then
``--undo`` must give back every original name and byte, and the manifest byte for byte.
Records of random shape inserted anywhere must end in a one-line error (exit 1 or 2) or a
correct replay, and nothing outside ROOT may change.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hardening import outside_world, run_cli, snapshot, tree_state
from hypothesis import given, settings
from hypothesis import strategies as st

from dis_audit.rename import apply_plan, plan_rename, resume, undo
from dis_audit.rename.journal import JournalError, list_journals, read_journal
from dis_audit.scan import scan
from dis_audit.testing import make_pair

PAIRS = 3


def _build(root: Path, manifest: bool) -> None:
    lines = ["key,class"]
    for i in range(PAIRS):
        make_pair(root, "DS", f"IMG_{i}", size=(8, 6))
        lines.append(f"IMG_{i},{('Bag', 'Kite', 'Chair')[i % 3]}")
    (root / "classes.csv").write_text("\n".join(lines) + "\n")
    if manifest:
        scan(root, workers=1).write_manifest()


@pytest.fixture(scope="module", params=[False, True], ids=["no-manifest", "manifest"])
def reference(request, tmp_path_factory):
    """(original tree, journal bytes of the finished apply, its name, the backup folder, renamed manifest)."""
    base = tmp_path_factory.mktemp("journal")
    original = base / "original"
    _build(original, request.param)
    applied = base / "applied"
    shutil.copytree(original, applied)
    result = apply_plan(plan_rename(applied, class_from=[f"map:{applied / 'classes.csv'}"]))
    assert result.journal is not None
    return original, result.journal.read_bytes(), result.journal.name, applied


def _crash_state(reference, cut: int, rng: random.Random, target: Path) -> tuple[bool, list]:
    """Rebuild, in ``target``, what a crash leaves when the journal holds its first ``cut`` bytes."""
    original, data, name, applied = reference
    shutil.copytree(original, target)
    jdir = target / ".dis-audit"
    jdir.mkdir()
    for backup in (applied / ".dis-audit").glob("*.manifest.parquet"):
        shutil.copy(backup, jdir / backup.name)
    (jdir / name).write_bytes(data[:cut])
    try:
        state = read_journal(jdir / name)
    except JournalError:
        return False, []  # the plan itself is incomplete: no move ever starts before it is whole
    done = len(state.moves) if state.complete else state.done
    moved = min(len(state.moves), done + rng.randint(0, len(state.moves)))  # unrecorded moves happened too
    for src, dst in state.moves[:moved]:
        os.rename(target / src, target / dst)
    if state.header.get("manifest") and (state.last("manifest") or (state.complete and rng.random() < 0.5)):
        shutil.copy(applied / "manifest.parquet", target / "manifest.parquet")  # rewritten, maybe unrecorded
    state.header["manifest"] and _retarget(jdir / name, target)
    return True, state.moves


def _retarget(journal: Path, root: Path) -> None:
    """The reference journal names the reference tree's manifest; point it at this copy's."""
    text = journal.read_bytes()
    lines = text.split(b"\n")
    head = json.loads(lines[0])
    head["manifest"] = str((root / "manifest.parquet").resolve())
    journal.write_bytes(b"\n".join([json.dumps(head, separators=(",", ":")).encode(), *lines[1:]]))


def _check_cut(reference, cut: int, seed: int) -> None:
    original = reference[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ROOT"
        whole, moves = _crash_state(reference, cut, random.Random(seed), root)
        try:
            resume(root)
        except JournalError:
            pass  # nothing to resume: the plan was never whole, or apply had finished
        if whole:
            assert set(tree_state(root)) >= {os.fsencode(dst) for _, dst in moves}
        try:
            undo(root)
        except JournalError:
            assert not whole, "a whole journal could not be undone"
        assert tree_state(root) == tree_state(original)
        if (original / "manifest.parquet").exists():
            assert (root / "manifest.parquet").read_bytes() == (original / "manifest.parquet").read_bytes()


@pytest.mark.slow  # ~20 s on 2 cores: 698 cuts of the manifest-free journal
def test_every_byte_cut_resumes_and_undoes(reference):
    data = reference[1]
    if (reference[0] / "manifest.parquet").exists():
        cuts = sorted([*random.Random(7).sample(range(len(data) + 1), 40), len(data)])  # see the sampled test
    else:
        cuts = range(len(data) + 1)  # every byte: a few ms each without a manifest
    for cut in cuts:
        _check_cut(reference, cut, cut)


@given(cut=st.integers(min_value=0), seed=st.integers(0, 2**16))
def test_sampled_cut_resumes_and_undoes(reference, cut, seed):
    _check_cut(reference, cut % (len(reference[1]) + 1), seed)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
KINDS = st.sampled_from(["header", "move", "planned", "done", "complete", "manifest", "undo-done", "undone", "x"])
PATHS = st.sampled_from(["../x.png", "../../outside/x.png", "/tmp/x.png", "DS/im/a\x00.jpg", "DS/im/../../x.png",
                         "DS\\..\\x.png", "", "DS/im/IMG_0.jpg", "outside/x.png"])
RECORD = st.one_of(
    JSON,
    st.fixed_dictionaries({"type": KINDS}, optional={"src": PATHS | JSON, "dst": PATHS | JSON, "upto": JSON,
                                                     "count": JSON, "sha256": JSON, "manifest": JSON,
                                                     "manifest_backup": JSON, "version": JSON}),
)


@settings(max_examples=max(5, settings().max_examples // 2))
@given(record=RECORD, where=st.integers(min_value=0), replace=st.booleans())
def test_records_of_random_shape(reference, record, where, replace):
    original, data, name, _ = reference
    lines = data.rstrip(b"\n").split(b"\n")
    at = where % (len(lines) + 1)
    line = json.dumps(record).encode()
    lines[at: at + (1 if replace else 0)] = [line]
    with tempfile.TemporaryDirectory() as tmp:
        parent = outside_world(Path(tmp))
        root = parent / "ROOT"
        shutil.copytree(original, root)
        (root / ".dis-audit").mkdir()
        (root / ".dis-audit" / name).write_bytes(b"\n".join(lines) + b"\n")
        before = snapshot(parent, skip=b"ROOT")
        for action in ("--resume", "--undo"):
            run_cli("rename", root, action, "--no-manifest")
        assert snapshot(parent, skip=b"ROOT") == before, "a journal made dis-audit write outside ROOT"
        # Whatever the journal said, the tree holds the same bytes (maybe under the planned names).
        assert sorted(tree_state(root).values()) == sorted(tree_state(original).values())


def test_journal_path_leaving_root_is_refused(reference, tmp_path):
    original, data, name, _ = reference
    parent = outside_world(tmp_path)
    root = parent / "ROOT"
    shutil.copytree(original, root)
    (root / ".dis-audit").mkdir()
    text = data.decode().replace('"dst":"DS/im/', '"dst":"../../', 1)
    (root / ".dis-audit" / name).write_text(text)
    before = snapshot(parent, skip=b"ROOT")
    out = run_cli("rename", root, "--resume")
    assert out.code == 1 and "../../" in out.stderr and "journal" in out.stderr
    assert snapshot(parent, skip=b"ROOT") == before
    assert tree_state(root) == tree_state(original)


def test_empty_and_garbage_journals_are_named_in_the_error(tmp_path):
    _build(tmp_path, manifest=False)
    jdir = tmp_path / ".dis-audit"
    jdir.mkdir()
    (jdir / "rename-20260101T000000-000000001-1.jsonl").write_bytes(b"")
    (jdir / "rename-20260101T000000-000000002-1.jsonl").write_bytes(b"\x00garbage\n{]")
    for action in ("--resume", "--undo"):
        out = run_cli("rename", tmp_path, action)
        assert out.code == 1
        assert "2 journal(s) could not be read" in out.stderr and "is empty" in out.stderr
        assert "not a dis-audit rename journal" in out.stderr or "not a journal record" in out.stderr
    assert list_journals(tmp_path)
