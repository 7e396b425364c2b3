"""Benchmark (a): samples/s to 1024×1024, ManifestDataset (uint8 and float) vs a BiRefNet-equivalent
OpenCV loader, in the same run, each through a DataLoader with the same worker count.

    pip install 'dis-audit[torch,bench]'
    python benchmarks/torch_throughput.py --count 48 --workers 2

Images are generated photo-like JPEGs (4000×3000 ≈ 2 MB, and 2048×1536) with PNG masks of
the same size; the tree is built once per size in a temp dir and kept in the page cache.
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

from dis_audit.torch import ManifestDataset


def rate(dataset, workers: int, batch_size: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
    start = time.perf_counter()
    n = 0
    for batch in loader:
        n += len(batch[0])
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=48, help="pairs per source size")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2, help="passes per loader; the best is reported")
    p.add_argument("--sizes", default="4000x3000,2048x1536")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(1)
    results = []
    print(machine())
    for spec in args.sizes.split(","):
        w, h = (int(v) for v in spec.split("x"))
        with tempfile.TemporaryDirectory(prefix="da-bench-") as tmp:
            t0 = time.perf_counter()
            manifest = make_tree(Path(tmp), args.count, w, h)
            mb = sum(f.stat().st_size for f in Path(tmp).rglob("*.jpg")) / args.count / 1e6
            print(f"{spec}: generated {args.count} pairs ({mb:.2f} MB per JPEG) in {time.perf_counter() - t0:.0f}s")
            loaders = {
                "birefnet_cv2": baseline_from_manifest(manifest),
                "manifest_uint8": ManifestDataset(manifest, size=(1024, 1024), output="uint8"),
                "manifest_float": ManifestDataset(manifest, size=(1024, 1024), output="float"),
            }
            best = dict.fromkeys(loaders, 0.0)
            for _ in range(args.repeats):  # interleaved so drift hits every loader alike
                for name, ds in loaders.items():
                    best[name] = max(best[name], rate(ds, args.workers, args.batch_size))
            base = best["birefnet_cv2"]
            for name, r in best.items():
                print(f"  {name:15s} {r:7.1f} samples/s  ({r / base:.2f}x the BiRefNet-equivalent)")
                results.append({"source": spec, "loader": name, "samples_per_s": round(r, 2), "ratio": round(r / base, 3)})
    print("command:", command())
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "command": command(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
