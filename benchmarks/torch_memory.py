"""Benchmark (c): a 1M-row manifest — Dataset construction time, and each forked worker's
private memory growth after touching every index, against a list-of-str dataset.

    python benchmarks/torch_memory.py --rows 1000000

Private memory = Private_Clean + Private_Dirty of /proc/self/smaps_rollup (Linux). After a
fork every page is shared; reading Python objects writes their reference counts, which
copies the pages that hold them into the worker (pytorch issue #13246). The "touch" reads
what ``__getitem__`` reads before decoding: image path, mask path, label.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np
from torch_common import command, machine

from dis_audit.manifest import ManifestMeta, build_table, write_manifest
from dis_audit.torch import ManifestDataset


def private_mb() -> float:
    total = 0
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / 1024


class ListDataset:
    """The usual way: Python lists of str (and int), as BiRefNet keeps its file lists."""

    def __init__(self, manifest: Path) -> None:
        import pyarrow.parquet as pq

        t = pq.read_table(manifest, columns=["image_path", "mask_path", "class_id", "difficulty"]).to_pydict()
        self.root = manifest.parent
        self.images, self.masks = t["image_path"], t["mask_path"]
        self.labels, self.difficulties = t["class_id"], t["difficulty"]

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, i: int) -> Path:
        return self.root / self.images[i]

    def mask_path(self, i: int) -> Path:
        return self.root / self.masks[i]


def touch_all(ds, queue) -> None:
    before = private_mb()
    labels = ds.labels
    total = 0
    for i in range(len(ds)):
        ds.image_path(i)
        ds.mask_path(i)
        total += int(labels[i])
    queue.put(private_mb() - before)


def growth(ds) -> float:
    ctx = mp.get_context("fork")  # DataLoader's default on Linux
    queue = ctx.Queue()
    proc = ctx.Process(target=touch_all, args=(ds, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def make_manifest(path: Path, rows: int) -> None:
    vocab = [f"Class{i}" for i in range(219)]
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 219, rows)
    stems = [f"{i % 22 + 1}#Group{i % 22}#{c + 1}#{vocab[c]}#{10**10 + i}_{i:010x}_o" for i, c in enumerate(ids)]
    cols = {
        "image_path": [f"DIS-TR/im/{s}.jpg" for s in stems],
        "mask_path": [f"DIS-TR/gt/{s}.png" for s in stems],
        "dataset": ["DIS-TR"] * rows,
        "difficulty": [("easy", "medium", "hard")[i % 3] for i in range(rows)],
        "class_name": [vocab[c] for c in ids],
        "class_id": ids.tolist(),
        "label_status": ["ok"] * rows,
        "issues": [[] for _ in range(rows)],
    }
    for name in ("width", "height", "mask_width", "mask_height", "file_size", "mtime_ns",
                 "class_field", "image_format", "image_mode", "mask_format", "mask_mode",
                 "mask_file_size", "mask_mtime_ns"):
        cols[name] = [None] * rows
    write_manifest(build_table(cols, ManifestMeta(vocabulary=vocab, root=str(path.parent))), path)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="da-mem-") as tmp:
        manifest = Path(tmp) / "manifest.parquet"
        t0 = time.perf_counter()
        make_manifest(manifest, args.rows)
        print(f"wrote a {args.rows:,}-row manifest in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        ds = ManifestDataset(manifest, size=(1024, 1024))
        t_build = time.perf_counter() - t0
        print(f"ManifestDataset construction: {t_build:.2f}s for {len(ds):,} rows "
              f"(paths {(ds._image_paths.nbytes + ds._mask_paths.nbytes) / 1e6:.0f} MB packed)")
        g_packed = growth(ds)
        print(f"worker private memory growth after touching every index: ManifestDataset {g_packed:.1f} MB")
        t0 = time.perf_counter()
        baseline = ListDataset(manifest)
        t_list = time.perf_counter() - t0
        g_list = growth(baseline)
        print(f"                                                         list-of-str     {g_list:.1f} MB "
              f"(built in {t_list:.2f}s)")
    print("command:", command())


if __name__ == "__main__":
    main()
