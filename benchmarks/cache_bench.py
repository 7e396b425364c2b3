"""Benchmark: training input from the cache vs the BiRefNet-equivalent loader, and the cache build rate.

    pip install 'dis-audit[torch,bench]'
    python benchmarks/cache_bench.py --count 32 --workers 2

Sources are generated photo-like 4000×3000 JPEGs (≈2 MB) with PNG masks; every loader goes to
1024×1024 through a DataLoader with the same workers and batch size, interleaved over the repeats,
in one run (targets: jpeg cache ≥ 8×, raw cache ≥ 15× the BiRefNet-equivalent loader). The build
is timed with 1 process and with ``--workers`` processes (target: ≥ 80 % of 1-process rate × workers).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch_common import baseline_from_manifest, command, machine, make_tree

from dis_audit.cache import build_cache
from dis_audit.torch import ManifestDataset

SIZE = (1024, 1024)


def rate(dataset, workers: int, batch_size: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
    start = time.perf_counter()
    n = sum(len(batch[0]) for batch in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=32, help="image/mask pairs")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2, help="passes per loader; the best is reported")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    print(machine())
    out: dict = {"machine": machine(), "command": command()}
    with tempfile.TemporaryDirectory(prefix="da-cache-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        manifest = make_tree(root, args.count, 4000, 3000)
        print(f"generated {args.count} pairs of 4000x3000 JPEG + PNG in {time.perf_counter() - t0:.0f}s")
        builds = {}
        for fmt, workers in (("jpeg", 1), ("jpeg", args.workers), ("raw", args.workers)):
            res = build_cache(manifest, SIZE, out=root / f"cache-{fmt}-{workers}", format=fmt, workers=workers)
            assert res.built == args.count and not res.failed, res.failed
            builds[(fmt, workers)] = args.count / res.seconds
            print(f"build {fmt:4s} with {workers} process(es): {builds[(fmt, workers)]:.2f} samples/s")
        single, multi = builds[("jpeg", 1)], builds[("jpeg", args.workers)]
        share = multi / (single * args.workers)
        print(f"build with {args.workers} processes = {share:.0%} of 1-process rate x {args.workers}")
        out["build"] = {"jpeg_1": single, f"jpeg_{args.workers}": multi, f"raw_{args.workers}": builds[("raw", args.workers)],
                        "share_of_linear": share}
        jpeg_dir, raw_dir = root / f"cache-jpeg-{args.workers}", root / f"cache-raw-{args.workers}"
        for name, folder in (("jpeg", jpeg_dir), ("raw", raw_dir)):
            per = sum(f.stat().st_size for f in (folder / "entries").rglob("*.*")) / args.count
            print(f"{name} cache: {per / 1e6:.2f} MB per sample on disk")
            out["build"][f"{name}_bytes_per_sample"] = per
        loaders = {
            "birefnet_cv2": baseline_from_manifest(manifest),
            "manifest_uint8": ManifestDataset(manifest, size=SIZE, output="uint8"),
            "cache_jpeg_uint8": ManifestDataset(manifest, size=SIZE, output="uint8", cache=jpeg_dir),
            "cache_jpeg_float": ManifestDataset(manifest, size=SIZE, output="float", cache=jpeg_dir),
            "cache_raw_uint8": ManifestDataset(manifest, size=SIZE, output="uint8", cache=raw_dir),
            "cache_raw_float": ManifestDataset(manifest, size=SIZE, output="float", cache=raw_dir),
        }
        best = dict.fromkeys(loaders, 0.0)
        for _ in range(args.repeats):  # interleaved so drift hits every loader alike
            for name, ds in loaders.items():
                best[name] = max(best[name], rate(ds, args.workers, args.batch_size))
        for name in ("cache_jpeg_uint8", "cache_raw_uint8"):
            assert loaders[name].cache_fallbacks == 0
        base = best["birefnet_cv2"]
        out["loaders"] = {}
        for name, r in best.items():
            print(f"  {name:17s} {r:7.1f} samples/s  ({r / base:.2f}x the BiRefNet-equivalent)")
            out["loaders"][name] = {"samples_per_s": round(r, 2), "ratio": round(r / base, 3)}
    print("command:", command())
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
