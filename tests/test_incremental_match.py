"""``--incremental``'s matching: ``probe.stat_many`` (C and Python agree) and ``_incremental.match_rows``
against a plain per-pair reference (the loop it replaced), on trees with every kind of change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dis_audit import probe, scan
from dis_audit._incremental import clean_rows, match_rows
from dis_audit.arrowlists import to_list
from dis_audit.layout import PairTask
from dis_audit.manifest import conform_table, read_manifest_table
from dis_audit.testing import image_array, mask_array, write_image

has_c = probe._fast_stat_many is not None


def _reference(root: str, pairs: list[PairTask], index: dict[str, int], old) -> list[int]:
    """The per-pair loop ``match_rows`` replaced, kept here as its specification."""
    mask_paths = to_list(old.column("mask_path"))
    sizes, mtimes = to_list(old.column("file_size")), to_list(old.column("mtime_ns"))
    mask_sizes, mask_mtimes = to_list(old.column("mask_file_size")), to_list(old.column("mask_mtime_ns"))
    out = []
    for _, image_path, mask_path, _ in pairs:
        i = index.get(image_path, -1)
        if i < 0 or mask_paths[i] != mask_path:
            out.append(-1)
            continue
        try:
            st = os.stat(f"{root}/{image_path}")
            if st.st_size != sizes[i] or st.st_mtime_ns != mtimes[i]:
                i = -1
            elif mask_path is not None:
                st = os.stat(f"{root}/{mask_path}")
                if st.st_size != mask_sizes[i] or st.st_mtime_ns != mask_mtimes[i]:
                    i = -1
        except OSError:
            i = -1
        out.append(i)
    return out


def _tree(root: Path, n: int) -> None:
    for i in range(n):
        write_image(root / "DS" / "im" / f"1#G#1#Bag#{i}.jpg", image_array(8, 6, key=str(i)))
        if i % 7 != 3:  # some images without a mask
            write_image(root / "DS" / "gt" / f"1#G#1#Bag#{i}.png", mask_array(8, 6, key=str(i)))


@pytest.mark.parametrize("stat_in_c", [True, False] if has_c else [False])
def test_match_rows_equals_the_per_pair_loop(tmp_path, monkeypatch, stat_in_c):
    if not stat_in_c:
        monkeypatch.setattr(probe, "_fast_stat_many", None)
    root = tmp_path / "root"
    _tree(root, 40)
    manifest = tmp_path / "m.parquet"
    scan(root, workers=1).write_manifest(manifest)
    im, gt = root / "DS" / "im", root / "DS" / "gt"
    (im / "1#G#1#Bag#1.jpg").write_bytes((im / "1#G#1#Bag#1.jpg").read_bytes() + b"\0")  # size changed
    os.utime(gt / "1#G#1#Bag#2.png", ns=(1, 123_456_789))  # mask mtime changed
    os.utime(im / "1#G#1#Bag#4.jpg", ns=(1, 5))  # image mtime changed
    (gt / "1#G#1#Bag#5.png").unlink()  # mask gone: another mask path (None)
    write_image(gt / "1#G#1#Bag#3.png", mask_array(8, 6))  # a mask appears
    (im / "1#G#1#Bag#6.jpg").unlink()
    write_image(im / "1#G#1#Bag#6.png", image_array(8, 6))  # same stem, other file
    write_image(im / "1#G#1#Bag#99.jpg", image_array(8, 6))  # new pair
    (gt / "1#G#1#Bag#8.png").unlink()
    (gt / "1#G#1#Bag#8.png").symlink_to(gt / "1#G#1#Bag#9.png")  # a link: stat follows it
    old, _ = read_manifest_table(manifest)
    old = conform_table(old)
    from dis_audit.layout import discover_datasets
    from dis_audit.listing import list_and_pair

    pairs = [p for d in discover_datasets(root) for p in list_and_pair(root, d).pairs]
    pairs.append(PairTask("DS", "DS/im/gone.jpg", "DS/gt/gone.png", False))
    paths = to_list(old.column("image_path"))
    clean = clean_rows(old)
    index = {p: i if ok else -1 for i, (p, ok) in enumerate(zip(paths, clean))}
    index["DS/im/1#G#1#Bag#10.jpg"] = -1  # a row that may not be reused
    expected = _reference(str(root), pairs, index, old)
    assert match_rows(str(root), pairs, index, old, workers=2).tolist() == expected
    assert sum(i >= 0 for i in expected) >= 25 and sum(i < 0 for i in expected) >= 9  # both kinds present
    assert match_rows(str(root), [], index, old, 2).tolist() == []
    assert match_rows(str(root), pairs, {}, old.slice(0, 0), 2).tolist() == [-1] * len(pairs)


def test_stat_many_sentinels_and_python_agreement(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    for i in range(1500):  # long enough for the threaded split
        (tmp_path / "a" / f"f{i}").write_bytes(b"x" * (i % 17))
    (tmp_path / "link").symlink_to(tmp_path / "a" / "f5")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo")
    paths: list[str | None] = [f"a/f{i}" for i in range(1500)]
    paths += [None, "link", "broken", "missing", "a", "fifo", "a/", "a//f3", "a/f1/x", "", "bad\0name", "a/../a/f7",
              "\udcff", "\ud800"]
    prefix = f"{tmp_path}/"
    found = {threads: list(probe.stat_many(prefix, paths, threads)) for threads in (1, 2, 3)}
    monkeypatch.setattr(probe, "_fast_stat_many", None)
    python = list(probe.stat_many(prefix, paths, 2))
    assert found[1] == found[2] == found[3] == python
    pairs = list(zip(python[0::2], python[1::2]))
    st = os.stat(tmp_path / "a" / "f16")
    assert pairs[16] == (16, st.st_mtime_ns)
    assert pairs[1500] == (probe.STAT_NO_PATH, probe.STAT_NO_PATH)
    assert pairs[1501] == (5, os.stat(tmp_path / "a" / "f5").st_mtime_ns)
    assert pairs[1502] == pairs[1503] == (probe.STAT_FAILED, probe.STAT_FAILED)
    assert pairs[1508] == (probe.STAT_FAILED, probe.STAT_FAILED)  # below a file
    assert pairs[1510] == (probe.STAT_FAILED, probe.STAT_FAILED)  # a NUL


def test_incremental_scan_reuses_unchanged_rows_only(tmp_path):
    root = tmp_path / "root"
    _tree(root, 12)
    manifest = tmp_path / "m.parquet"
    first = scan(root, workers=1)
    first.write_manifest(manifest)
    again = scan(root, workers=1, incremental=manifest)
    assert again.summary["reused_rows"] + again.summary["probed_samples"] == 12
    assert again.table.drop_columns([]).equals(first.table)
    os.utime(root / "DS" / "im" / "1#G#1#Bag#0.jpg", ns=(1, 1))
    changed = scan(root, workers=1, incremental=manifest)
    assert changed.summary["reused_rows"] == again.summary["reused_rows"] - 1
