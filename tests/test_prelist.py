"""``_prelist.ListingJob``: listing in a forked child gives what listing in-process gives, and fails safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_listing import KINDS, _tree

from dis_audit import _prelist
from dis_audit._prelist import ListingJob, _pack, _unpack, stat_pairs
from dis_audit.layout import DatasetListing, PairTask, discover_datasets
from dis_audit.listing import list_and_pair

REPO = Path(__file__).resolve().parents[1]
needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux only")


def _forced(monkeypatch: pytest.MonkeyPatch) -> None:
    # In the test process pyarrow is loaded, so the job would not fork by itself.
    monkeypatch.setattr(ListingJob, "worthwhile", lambda self: True)


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@needs_fork
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "undecodable" or sys.platform != "darwin"])
def test_the_childs_listing_and_stats_equal_the_in_process_ones(tmp_path, monkeypatch, kind):
    _tree(tmp_path / "a", kind)
    _tree(tmp_path / "b", "flat")
    datasets = discover_datasets(tmp_path)
    expected = [list_and_pair(tmp_path, ds) for ds in datasets]
    _forced(monkeypatch)
    seen = []
    with ListingJob(tmp_path, datasets, stat_threads=2) as job:
        pid = job._pid
        assert pid is not None  # it did fork
        listings, stats = job.result(lambda stage, done, total: seen.append((stage, done, total)))
    assert listings == expected
    assert stats == stat_pairs(str(tmp_path), expected, 1)
    assert seen == [("list", i + 1, len(datasets)) for i in range(len(datasets))]
    assert _gone(pid)


def test_without_a_child_the_same_listing_comes_in_process(tmp_path, monkeypatch):
    _tree(tmp_path, "orphans-and-missing")
    datasets = discover_datasets(tmp_path)
    monkeypatch.setattr(ListingJob, "worthwhile", lambda self: False)
    with ListingJob(tmp_path, datasets) as job:
        assert job._pid is None
        listings, stats = job.result()
    assert listings == [list_and_pair(tmp_path, ds) for ds in datasets] and stats is None


def test_no_child_where_pyarrow_is_loaded_and_nothing_else_overlaps(tmp_path):
    import pyarrow  # noqa: F401

    assert not ListingJob(tmp_path, []).worthwhile()
    assert ListingJob(tmp_path, [], stat_threads=1).worthwhile() == (sys.platform.startswith("linux") and _single_thread())


def _single_thread() -> bool:
    import threading

    return threading.active_count() == 1


@needs_fork
def test_a_failing_child_leaves_the_listing_to_the_parent(tmp_path, monkeypatch):
    _tree(tmp_path, "flat")
    datasets = discover_datasets(tmp_path)
    expected = [list_and_pair(tmp_path, ds) for ds in datasets]
    _forced(monkeypatch)

    def broken(listing):
        raise MemoryError("in the child")

    monkeypatch.setattr(_prelist, "_pack", broken)  # the forked child inherits the patch
    with ListingJob(tmp_path, datasets) as job:
        assert job._pid is not None
        assert job.result()[0] == expected
    monkeypatch.undo()
    _forced(monkeypatch)
    with ListingJob(tmp_path, datasets) as job:  # killed before it answers
        os.kill(job._pid, signal.SIGKILL)
        assert job.result()[0] == expected


@needs_fork
def test_a_child_that_fails_after_sending_the_listings_leaves_them_to_the_parent(tmp_path, monkeypatch):
    """The listings travel before the stats (the parent rebuilds them meanwhile); a stat step that
    fails, or a child killed between the two, still gives the in-process listing and no stats."""
    _tree(tmp_path, "flat")
    datasets = discover_datasets(tmp_path)
    expected = [list_and_pair(tmp_path, ds) for ds in datasets]
    _forced(monkeypatch)

    def broken(root, listings, threads):
        raise MemoryError("in the child, after the listings went")

    monkeypatch.setattr(_prelist, "stat_pairs", broken)
    with ListingJob(tmp_path, datasets, stat_threads=2) as job:
        assert job.result() == (expected, None)

    def stuck(root, listings, threads):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(_prelist, "stat_pairs", stuck)
    with ListingJob(tmp_path, datasets, stat_threads=2) as job:
        assert job.result() == (expected, None)


def test_a_short_frame_is_refused():
    import io

    frame = _prelist._frame(["x"] * 100)
    assert _prelist._read_frame(io.BytesIO(frame)) == ["x"] * 100
    for cut in (0, 5, 8, len(frame) - 1):
        with pytest.raises(EOFError):
            _prelist._read_frame(io.BytesIO(frame[:cut]))


@needs_fork
def test_an_exception_in_the_parent_ends_and_reaps_the_child(tmp_path, monkeypatch):
    _tree(tmp_path, "flat")
    datasets = discover_datasets(tmp_path)
    _forced(monkeypatch)
    monkeypatch.setattr(_prelist, "list_and_pair", lambda root, ds: time.sleep(60))
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), ListingJob(tmp_path, datasets) as job:
        pid = job._pid
        raise KeyboardInterrupt
    assert pid is not None and _gone(pid) and time.monotonic() - started < 30


def test_pairs_travel_packed_and_come_back_equal():
    from dis_audit.layout import DatasetDir

    ds = DatasetDir(name="d", rel="d", image_dir="d/im", mask_dir="d/gt")
    listings = [
        DatasetListing(dataset=ds, pairs=[PairTask("d", "d/im/a.jpg", "d/gt/a.png", False),
                                          PairTask("d", "d/im/b.jpg", None, False),
                                          PairTask("d", "d/im/s/c.jpg", "d/gt/s/c.png", True)],
                       orphan_masks=["d/gt/z.png"], clutter=2),
        DatasetListing(dataset=ds, pairs=[PairTask("d", "d/im/a\udcff.jpg", "d/gt/a\udcff.png", False)]),
        DatasetListing(dataset=ds),
        DatasetListing(dataset=ds, pairs=[PairTask("other", "d/im/a.jpg", None, False)]),  # sent as it is
    ]
    for listing in listings:
        packed = _pack(listing)
        back = _unpack(packed)
        assert back == listing and all(type(p) is PairTask for p in back.pairs)


SLOW_CLI = """
import sys, time
import dis_audit._prelist as prelist
import dis_audit.listing as listing
plain = listing.list_and_pair
def slow(root, ds):
    open({flag!r}, "w").close()
    time.sleep(30)
    return plain(root, ds)
prelist.list_and_pair = slow
from dis_audit.cli import main
sys.argv = ["dis-audit", "scan", {root!r}, "--json", "--no-manifest"]
main()
"""


@needs_fork
def test_ctrl_c_while_the_child_lists_exits_130_and_leaves_no_process(tmp_path):
    _tree(tmp_path / "tree", "flat")
    flag = tmp_path / "listing-started"
    code = textwrap.dedent(SLOW_CLI.format(flag=str(flag), root=str(tmp_path / "tree")))
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while not flag.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert flag.exists(), proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and out == b""
    assert b"interrupted" in err
    for _ in range(100):  # the child went with the parent
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("a process of the scan outlived it")


CLI_OUTPUT = """
import sys
import dis_audit._prelist as prelist
if {off!r}:
    prelist.ListingJob.worthwhile = lambda self: False
else:  # leave a mark where the child is forked
    fork = prelist.ListingJob._fork
    def marked(self):
        open({mark!r}, "w").close()
        fork(self)
    prelist.ListingJob._fork = marked
from dis_audit.cli import main
sys.argv = ["dis-audit", *{args!r}]
main()
"""


@needs_fork
@pytest.mark.parametrize("case", ["tree", "incremental", "bad-root", "root-is-a-file"])
def test_the_cli_says_the_same_with_and_without_the_child(tmp_path, case):
    root = tmp_path / "tree"
    for kind, where in (("orphans-and-missing", "a"), ("clutter", "b"), ("flat", "c"), ("nested", "d")):
        _tree(root / where, kind)
    args = ["scan", str(root), "--json", "--manifest", str(tmp_path / "m.parquet")]
    if case == "incremental":
        subprocess.run([sys.executable, "-m", "dis_audit", *args], env={**os.environ, "PYTHONPATH": str(REPO)},
                       capture_output=True, check=False)
        (root / "c" / "set" / "im" / "a.jpg").write_bytes(b"changed")
        args.append("--incremental")
    elif case == "bad-root":
        args[1] = str(tmp_path / "missing")
    elif case == "root-is-a-file":
        args[1] = str(root / "c" / "set" / "im" / "a.jpg")
    results = []
    for off in (False, True):
        manifest = tmp_path / "m.parquet"
        before = manifest.read_bytes() if manifest.exists() else None
        mark = tmp_path / "forked"
        mark.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-c", CLI_OUTPUT.format(off=off, args=args, mark=str(mark))],
                              capture_output=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
        results.append((proc.returncode, proc.stdout, proc.stderr,
                        manifest.read_bytes() if manifest.exists() else None))
        # A scan that gets as far as listing forks (a fresh process has not loaded pyarrow).
        assert mark.exists() == (not off and case in ("tree", "incremental"))
        if before is not None:  # the next run starts from the same previous manifest
            manifest.write_bytes(before)
    (rc, out, err, written), (rc_off, out_off, err_off, written_off) = results
    assert rc == rc_off and err == err_off and written == written_off
    assert _without_elapsed(out) == _without_elapsed(out_off)
    assert rc in ((0, 1) if case in ("tree", "incremental") else (2,))


def _without_elapsed(out: bytes) -> bytes:
    import re

    return re.sub(rb'"elapsed_s": [0-9.]+', b"", out)
