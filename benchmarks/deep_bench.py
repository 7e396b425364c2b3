"""Benchmark of ``dis-audit scan --deep`` and of near-duplicate grouping.

    python benchmarks/deep_bench.py [--pairs 10000] [--workers N] [--hashes 100000] [--out DIR] [--keep]

1. Generates a tree of PAIRS photo-like 1024x768 JPEG images (quality 90) with PNG masks
   (``DIS-TR`` and ``DIS-TE1``; reused when the folder already holds that many pairs).
2. Measures, in this same run, the bare single-process Pillow decode rate (``Image.open(p).load()``
   of image and mask, nothing else) and the end-to-end ``scan(root, deep=True, workers=N)``
   rate (discovery, header probe, full decode, SHA-1, pHash, mask statistics, rules, duplicate
   grouping, manifest written). Target: deep rate >= 80 % of single-process rate x workers.
3. Groups HASHES random 64-bit hashes with 1 % planted near copies and reports the time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WIDTH, HEIGHT = 1024, 768
_BASES: list[np.ndarray] = []


def _bases() -> list[np.ndarray]:
    # A few smooth photo-like backgrounds per process; each pair shifts one and paints shapes on it.
    if not _BASES:
        sys.path.insert(0, str(REPO / "examples"))
        from deep_defects import photo_array

        _BASES.extend(photo_array(WIDTH, HEIGHT, seed) for seed in range(8))
    return _BASES


def _write_pair(args: tuple[str, int]) -> None:
    from PIL import Image, ImageDraw

    root, i = args
    rng = np.random.default_rng(i)
    base = _bases()[i % 8]
    img = np.roll(base, (int(rng.integers(0, HEIGHT)), int(rng.integers(0, WIDTH))), axis=(0, 1))
    im = Image.fromarray(img)
    draw = ImageDraw.Draw(im)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, WIDTH - 100)), int(rng.integers(0, HEIGHT - 100))
        x1, y1 = x0 + int(rng.integers(50, 400)), y0 + int(rng.integers(50, 300))
        draw.ellipse((x0, y0, x1, y1), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    cx, cy = int(rng.integers(250, WIDTH - 250)), int(rng.integers(200, HEIGHT - 200))
    ImageDraw.Draw(mask).ellipse((cx - 200, cy - 150, cx + 200, cy + 150), fill=255)
    dataset = "DIS-TE1" if i % 10 == 0 else "DIS-TR"
    stem = f"9#Insect#52#Butterfly#{i:08d}_bench_o"
    im.save(Path(root, dataset, "im", f"{stem}.jpg"), format="JPEG", quality=90)
    mask.save(Path(root, dataset, "gt", f"{stem}.png"), format="PNG")


def build_tree(root: Path, pairs: int, workers: int) -> float:
    marker = root / f".pairs-{pairs}"
    if marker.exists():
        return 0.0
    if root.exists():
        shutil.rmtree(root)
    for ds in ("DIS-TR", "DIS-TE1"):
        (root / ds / "im").mkdir(parents=True)
        (root / ds / "gt").mkdir(parents=True)
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_write_pair, [(str(root), i) for i in range(pairs)], chunksize=32)
    marker.touch()
    return time.perf_counter() - start


def _sample_pairs(root: Path, sample: int) -> list[tuple[Path, Path]]:
    images = sorted((root / "DIS-TR" / "im").iterdir())[:sample]
    return [(p, root / "DIS-TR" / "gt" / (p.stem + ".png")) for p in images]


def _decode(pairs: list[tuple[Path, Path]]) -> int:
    from PIL import Image

    for p, m in pairs:
        with Image.open(p) as im:
            im.load()
        with Image.open(m) as mk:
            mk.load()
    return len(pairs)


def pillow_rate(root: Path, sample: int, repeats: int = 3) -> float:
    """Pairs/s of a bare single-process decode of image + mask (Pillow, nothing else); best of ``repeats``."""
    pairs = _sample_pairs(root, sample)
    _decode(pairs[:10])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        _decode(pairs)
        best = min(best, time.perf_counter() - start)
    return len(pairs) / best


def pillow_parallel_rate(root: Path, sample: int, workers: int) -> float:
    """Pairs/s of the same bare decode split over ``workers`` processes: what the machine can give."""
    all_pairs = sorted((root / "DIS-TR" / "im").iterdir())
    pairs = [(p, root / "DIS-TR" / "gt" / (p.stem + ".png")) for p in all_pairs[: sample * workers]]
    parts = [pairs[i::workers] for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_decode, [part[:5] for part in parts])  # warm-up
        start = time.perf_counter()
        pool.map(_decode, parts)
        return len(pairs) / (time.perf_counter() - start)


def grouping_time(n: int) -> tuple[float, int]:
    from dis_audit.dupes import group_rows

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64) ^ (rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63))
    planted = rng.choice(n, n // 100, replace=False)
    for k, i in enumerate(planted[1::2]):  # near copies: 1-6 bits flipped
        flips = rng.choice(64, int(rng.integers(1, 7)), replace=False)
        hashes[planted[2 * k]] = hashes[i] ^ np.uint64(sum(1 << int(b) for b in flips))
    values = hashes.tolist()
    start = time.perf_counter()
    groups = group_rows([None] * n, values)
    return time.perf_counter() - start, int(groups.max()) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--hashes", type=int, default=100_000)
    ap.add_argument("--baseline-sample", type=int, default=400)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "dis-audit-deep-bench")
    ap.add_argument("--repeats", type=int, default=2, help="deep scans to run (the best counts)")
    ap.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = ap.parse_args()

    from dis_audit.scan import scan

    gen = build_tree(args.out, args.pairs, args.workers)
    print(f"tree: {args.pairs} pairs of {WIDTH}x{HEIGHT} JPEG + PNG mask in {args.out}"
          + (f" (generated in {gen:.0f} s)" if gen else " (reused)"))
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"tree size: {size / 2**20:.0f} MiB")

    single = pillow_rate(args.out, args.baseline_sample)
    print(f"bare Pillow decode, 1 process: {single:.1f} pairs/s (image + mask, {args.baseline_sample} pairs)")

    parallel = pillow_parallel_rate(args.out, args.baseline_sample, args.workers)
    print(f"bare Pillow decode, {args.workers} processes: {parallel:.1f} pairs/s "
          f"(machine scaling {parallel / single:.2f}x of {args.workers})")

    manifest = args.out / "bench-manifest.parquet"
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = scan(args.out, deep=True, workers=args.workers)
        result.write_manifest(manifest)
        best = min(best, time.perf_counter() - start)
    rate = args.pairs / best
    target = single * args.workers
    print(f"scan --deep, {args.workers} workers: {best:.1f} s (best of {args.repeats}), {rate:.1f} pairs/s "
          f"({2 * rate:.1f} files/s)")
    print(f"ratio to single-process Pillow x {args.workers}: {rate / target:.1%} (target >= 80 %)")
    print(f"ratio to {args.workers}-process bare Pillow: {rate / parallel:.1%}")
    print(f"  findings: {result.summary['by_rule']}")

    seconds, groups = grouping_time(args.hashes)
    print(f"near-duplicate grouping of {args.hashes} hashes: {seconds:.2f} s ({groups} groups; target < 10 s)")
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
