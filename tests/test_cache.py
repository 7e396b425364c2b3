"""The training-size cache: index, incremental and sharded builds, resume after a kill, raw disk check, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import dis_audit
from dis_audit.cache import (
    CacheError,
    build_cache,
    entry_base,
    plan_cache,
    read_entry,
    read_entry_mask,
    read_index,
)
from dis_audit.cache._entry import mask_bytes, mask_from_bytes
from dis_audit.cache._index import entry_name
from dis_audit.imaging import open_at_size
from dis_audit.testing import make_pair

SIZE = (48, 40)


def make_tree(root: Path, n: int, size=(160, 120)) -> Path:
    for k in range(n):
        make_pair(root, "DIS-TR", f"1#Accessories#1#Bag#{k:05d}", size=size, seed=k)
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#nomask", size=size, mask_ext=None)
    result = dis_audit.scan(root, classes="infer", workers=1)
    return result.write_manifest()


@pytest.fixture()
def tree(tmp_path):
    return make_tree(tmp_path / "data", 6)


@pytest.mark.parametrize("fmt", ["jpeg", "raw"])
def test_build_writes_every_sample_with_a_mask(tree, fmt):
    result = build_cache(tree, SIZE, format=fmt, workers=1)
    assert (result.built, result.fresh, result.failed) == (6, 0, [])
    assert result.cache_dir == tree.parent / "manifest.cache"
    index = read_index(result.cache_dir)
    assert index.num_rows == 6 and set(index["format"].to_pylist()) == {fmt}
    row = index.to_pylist()[0]
    image, mask = read_entry(entry_base(result.cache_dir, row["entry"]), fmt)
    assert image.shape == (3, SIZE[1], SIZE[0]) and image.dtype == np.uint8 and image.flags["C_CONTIGUOUS"]
    # The mask is the very array the Dataset's decoder produces: same function, lossless storage.
    expected = np.asarray(open_at_size(str(tree.parent / row["mask_path"]), SIZE, mode="L"))
    np.testing.assert_array_equal(mask, expected)
    with Image.open(tree.parent / row["image_path"]) as src:
        reference = np.asarray(src.convert("RGB").resize(SIZE, Image.BILINEAR)).transpose(2, 0, 1)
    mse = np.mean((image.astype(np.float64) - reference) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-12)) > 30


def test_incremental_rebuilds_only_changed_sources_and_removes_the_old_entry(tree):
    first = build_cache(tree, SIZE, workers=1)
    assert first.built == 6
    again = build_cache(tree, SIZE, workers=1)
    assert (again.built, again.fresh) == (0, 6)
    rows = {r["image_path"]: r for r in read_index(first.cache_dir).to_pylist()}
    changed = sorted(rows)[2]
    path = tree.parent / changed
    make_pair(tree.parent, "DIS-TR", Path(changed).stem, size=(160, 120), seed=99)
    os.utime(path, ns=(time.time_ns(), rows[changed]["image_mtime_ns"] + 10**9))
    third = build_cache(tree, SIZE, workers=1)
    assert (third.built, third.fresh) == (1, 5)
    new_rows = {r["image_path"]: r for r in read_index(first.cache_dir).to_pylist()}
    assert new_rows[changed]["entry"] != rows[changed]["entry"]
    assert not entry_base(first.cache_dir, rows[changed]["entry"]).with_suffix(".jpg").exists()
    assert entry_base(first.cache_dir, new_rows[changed]["entry"]).with_suffix(".jpg").exists()
    # Another size lives in the same folder and index without disturbing the first.
    other = build_cache(tree, (24, 24), workers=1)
    assert other.built == 6
    assert read_index(first.cache_dir).num_rows == 12


def test_shards_cover_the_manifest_and_write_separate_index_parts(tree):
    built = [build_cache(tree, SIZE, shard=(i, 3), workers=1).built for i in range(3)]
    assert sum(built) == 6
    cache_dir = tree.parent / "manifest.cache"
    assert sorted(p.name for p in cache_dir.glob("index*.parquet")) == [f"index.shard-{i}-of-3.parquet" for i in range(3)]
    assert read_index(cache_dir).num_rows == 6
    whole = build_cache(tree, SIZE, workers=1)
    assert (whole.built, whole.fresh) == (0, 6)


def test_raw_plan_states_the_disk_and_refuses_when_it_does_not_fit(tree, monkeypatch):
    plan = plan_cache(tree, (1000, 500), format="raw")
    assert plan.bytes_needed == 6 * (4 * 1000 * 500 + 128)
    assert "GiB" in plan.describe() and "6 to build" in plan.describe()
    plan.free_bytes = plan.bytes_needed - 1
    from dis_audit.cache import run_plan

    with pytest.raises(CacheError, match="needs"):
        run_plan(plan, workers=1)
    assert not plan.cache_dir.exists()  # refused before anything was written


def test_unreadable_and_missing_sources_are_reported_not_raised(tree):
    rows = [r for r in pq.read_table(tree).to_pylist() if r["mask_path"]]
    victim = tree.parent / rows[0]["image_path"]
    victim.write_bytes(b"\xff\xd8\xff not a jpeg")
    gone = tree.parent / rows[1]["mask_path"]
    gone.unlink()
    result = build_cache(tree, SIZE, workers=1)
    assert result.built == 4 and len(result.failed) == 2
    reasons = " ".join(r for _, r in result.failed)
    assert "cannot decode" in reasons and "cannot read" in reasons


def test_cli_cache_and_bad_input(tree):
    run = [sys.executable, "-m", "dis_audit", "cache", str(tree)]
    ok = subprocess.run([*run, "--size", "48,40", "--format", "raw", "--workers", "1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "6 to build" in ok.stderr and "GiB" in ok.stderr and "built 6" in ok.stdout
    for args, message in (
        (["--size", "48"], "is not W,H"),
        (["--size", "48,40", "--format", "png"], "format must be one of"),
        (["--size", "48,40", "--shard", "3/2"], "0-based"),
    ):
        bad = subprocess.run([*run, *args], capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
    missing = subprocess.run([*run[:-1], str(tree.parent / "nope.parquet"), "--size", "8,8"], capture_output=True, text=True)
    assert missing.returncode == 2 and "manifest not found" in missing.stderr


@pytest.mark.slow
def test_killed_build_resumes_without_redoing_finished_entries(tmp_path):
    manifest = make_tree(tmp_path / "data", 60, size=(800, 600))
    cmd = [sys.executable, "-m", "dis_audit", "cache", str(manifest), "--size", "256,256", "--workers", "1", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    entries = tmp_path / "data" / "manifest.cache" / "entries"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(entries.rglob("*.jpg"))) < 8:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(entries.rglob("*.jpg")))
    assert 8 <= done_before < 60, "the kill did not land mid-build"
    assert not (tmp_path / "data" / "manifest.cache" / "index.parquet").exists()
    resumed = build_cache(manifest, (256, 256), workers=1)
    # Whole entries left by the killed run are adopted; at most the one in flight is redone.
    assert resumed.fresh >= done_before - 1 and resumed.built + resumed.fresh == 60 and not resumed.failed
    for row in read_index(resumed.cache_dir).to_pylist():
        image, mask = read_entry(entry_base(resumed.cache_dir, row["entry"]), "jpeg")
        assert image.shape == (3, 256, 256) and mask.shape == (256, 256)


def _make_legacy(cache_dir: Path) -> None:
    """Turn a jpeg cache into what dis-audit wrote before the .msk mask: PNG masks, the old settings string."""
    index = read_index(cache_dir)
    names = []
    for row in index.to_pylist():
        base = entry_base(cache_dir, row["entry"])
        old = SimpleNamespace(width=row["width"], height=row["height"], settings=row["settings"].replace(";mask=msk", ""))
        names.append(entry_name(row["image_path"], row["mask_path"], old, (row["image_size"], row["image_mtime_ns"]),
                                (row["mask_size"], row["mask_mtime_ns"])))
        legacy_base = entry_base(cache_dir, names[-1])
        legacy_base.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(read_entry_mask(base, "jpeg")).save(legacy_base.with_suffix(".png"), "PNG", compress_level=1)
        base.with_suffix(".jpg").rename(legacy_base.with_suffix(".jpg"))
        base.with_suffix(".msk").unlink()
    old_settings = [s.replace(";mask=msk", "") for s in index["settings"].to_pylist()]
    legacy = index.set_column(index.schema.get_field_index("settings"), "settings", pa.array(old_settings, pa.string()))
    legacy = legacy.set_column(legacy.schema.get_field_index("entry"), "entry", pa.array(names, pa.string()))
    for part in cache_dir.glob("index*.parquet"):
        part.unlink()
    pq.write_table(legacy, cache_dir / "index.parquet")


def test_jpeg_masks_are_msk_files_and_reject_garbage(tree, tmp_path):
    result = build_cache(tree, SIZE, workers=1)
    entries = result.cache_dir / "entries"
    assert len(list(entries.rglob("*.msk"))) == 6 and not list(entries.rglob("*.png"))
    mask = np.arange(35, dtype=np.uint8).reshape(5, 7)
    np.testing.assert_array_equal(mask_from_bytes(mask_bytes(mask)), mask)
    for junk in (b"", b"\x89PNG\r\n\x1a\n" + bytes(20), mask_bytes(mask)[:-3]):
        with pytest.raises(ValueError):
            mask_from_bytes(junk, "x.msk")


def test_cache_with_png_masks_still_reads_and_a_build_rebuilds_it(tree):
    """A cache built before the .msk mask: entries read as before; `cache` rebuilds them and says so."""
    result = build_cache(tree, SIZE, workers=1)
    expected = {
        r["image_path"]: read_entry(entry_base(result.cache_dir, r["entry"]), "jpeg")
        for r in read_index(result.cache_dir).to_pylist()
    }
    _make_legacy(result.cache_dir)
    for row in read_index(result.cache_dir).to_pylist():  # old entries read, masks bit-exact
        image, mask = read_entry(entry_base(result.cache_dir, row["entry"]), "jpeg")
        np.testing.assert_array_equal(mask, expected[row["image_path"]][1])
        np.testing.assert_array_equal(image, expected[row["image_path"]][0])
    plan = plan_cache(tree, SIZE)
    assert (len(plan.todo), len(plan.fresh), plan.upgraded) == (6, 0, 6)
    assert "6 of those to build were made by an older dis-audit (PNG masks)" in plan.describe()
    rebuilt = build_cache(tree, SIZE, workers=1)
    assert (rebuilt.built, rebuilt.fresh) == (6, 0)
    index = read_index(result.cache_dir)
    assert index.num_rows == 6 and all(s.endswith(";mask=msk") for s in index["settings"].to_pylist())
    entries = result.cache_dir / "entries"
    assert not list(entries.rglob("*.png")) and len(list(entries.rglob("*.jpg"))) == 6
    assert build_cache(tree, SIZE, workers=1).fresh == 6
