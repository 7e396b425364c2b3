"""GPU benchmark: nvJPEG batch decode (``decode="gpu"`` + ``GpuDecode``) vs the CPU paths, one run.

    PYTHONPATH=. python benchmarks/gpu_decode_bench.py --out $OUT

Compares, through DataLoaders with ``--workers`` processes (default: all CPU cores), to
1024×1024 from generated photo-like 4000×3000 JPEGs (≈2 MB) with same-size PNG masks:

1. the BiRefNet-equivalent OpenCV loader (imread + resize + RGB + ToTensor + Normalize);
2. ``ManifestDataset(output="uint8")`` + ``GpuNormalize`` on the device;
3. ``ManifestDataset(decode="gpu")`` + ``GpuDecode`` (nvJPEG via torchvision, resize and
   normalize on the GPU).

Every timing ends with the batch on the device (a ``cuda.synchronize``), so all three are
measured to the same point. Prints samples/s and writes ``gpu_decode_bench.json`` to --out.
Self-contained: it builds its own tree and manifest (no ``dis-audit scan`` needed).
``--dry-run`` is a tiny CPU-only pass (GpuDecode with a Pillow stand-in decoder) to check
the script on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_common import REPO, baseline_from_manifest, machine, make_tree

from dis_audit.torch import GpuDecode, GpuNormalize, ManifestDataset


def _gen(args):
    root, count, w, h, unique, offset = args
    # each process writes its own slice of pictures; see make_tree for the layout
    return make_tree(Path(root) / f"part{offset}", count, w, h, unique=unique, dataset=f"DIS-TR{offset}")


def build(root: Path, count: int, w: int, h: int, procs: int) -> Path:
    """Generate the tree in parallel (one dataset folder per process), then merge the manifests."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dis_audit.manifest import METADATA_KEY, write_manifest

    procs = max(1, min(procs, count // 2))
    per = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    jobs = [(str(root), n, w, h, min(4, n), i) for i, n in enumerate(per)]
    with get_context("fork").Pool(procs) as pool:
        parts = pool.map(_gen, jobs)
    tables = []
    for i, part in enumerate(parts):
        t = pq.read_table(part)
        prefix = f"part{i}/"
        for col in ("image_path", "mask_path"):
            t = t.set_column(t.schema.get_field_index(col), col, pc.binary_join_element_wise(prefix, t[col], ""))
        tables.append(t)
    merged = pa.concat_tables(tables)
    meta = dict(tables[0].schema.metadata)
    raw = json.loads(meta[METADATA_KEY])
    raw["root"] = str(root)
    meta[METADATA_KEY] = json.dumps(raw).encode()
    return write_manifest(merged.replace_schema_metadata(meta), root / "manifest.parquet")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(name: str, loader: DataLoader, step, device: torch.device, limit_s: float) -> dict:
    """Iterate once; samples/s from the first batch out of the loader to the last batch on device."""
    it = iter(loader)
    t_start = time.perf_counter()
    first = next(it)
    out = step(first)
    sync(device)
    t0 = time.perf_counter()  # excludes worker start-up, the same for every loader
    n = 0
    for batch in it:
        out = step(batch)
        n += out[0].shape[0]
        if time.perf_counter() - t0 > limit_s:
            break
    sync(device)
    dt = time.perf_counter() - t0
    assert out[0].device.type == device.type and out[0].dtype == torch.float32, (out[0].device, out[0].dtype)
    result = {"loader": name, "samples": n, "seconds": round(dt, 3), "samples_per_s": round(n / dt, 1),
              "startup_s": round(t0 - t_start, 2)}
    print(f"  {name:28s} {result['samples_per_s']:8.1f} samples/s  ({n} samples in {dt:.1f}s)", flush=True)
    return result


def pil_decoder(data, device):
    """CPU stand-in for nvJPEG (dry run only)."""
    import io

    from PIL import Image

    out = []
    for item in data:
        with Image.open(io.BytesIO(item.numpy().tobytes())) as img:
            out.append(torch.from_numpy(np.asarray(img.convert("RGB")).transpose(2, 0, 1).copy()).to(device))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")))
    p.add_argument("--count", type=int, default=512, help="image/mask pairs (4 distinct pictures per generating process, the rest copies)")
    p.add_argument("--source", default="4000x3000")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2, help="passes per loader (interleaved); best reported")
    p.add_argument("--limit-s", type=float, default=25.0, help="cap on one pass")
    p.add_argument("--dry-run", action="store_true", help="tiny CPU-only check of this script")
    args = p.parse_args()
    if args.dry_run:
        args.count, args.source, args.size, args.workers, args.repeats = 12, "800x600", 256, 2, 1
        args.batch_size = 4
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    if device.type != "cuda" and not args.dry_run:
        print("no CUDA device: run with --dry-run on a CPU machine", file=sys.stderr)
        return 2
    info = {"machine": machine(), "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
            "command": "PYTHONPATH=. python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]]),
            "args": {k: str(v) for k, v in vars(args).items()}}
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = None
    print(info["machine"], "|", info["device"], "| torchvision", info["torchvision"], flush=True)
    w, h = (int(v) for v in args.source.split("x"))
    size = (args.size, args.size)
    results = []
    with tempfile.TemporaryDirectory(prefix="da-gpu-bench-") as tmp:
        t0 = time.perf_counter()
        manifest = build(Path(tmp), args.count, w, h, procs=args.workers)
        jpgs = list(Path(tmp).rglob("*.jpg"))
        mb = sum(f.stat().st_size for f in jpgs) / len(jpgs) / 1e6
        print(f"generated {len(jpgs)} pairs {args.source} ({mb:.2f} MB per JPEG) in {time.perf_counter() - t0:.0f}s",
              flush=True)
        info["jpeg_mb"] = round(mb, 2)

        to_dev = lambda b: (b[0].to(device, non_blocking=True), b[1].to(device, non_blocking=True), b[2])  # noqa: E731
        normalize = GpuNormalize(device)
        decoder = pil_decoder if args.dry_run else None
        gpu_step = GpuDecode(size, device=device, decoder=decoder)
        pin = device.type == "cuda"
        common = {"batch_size": args.batch_size, "num_workers": args.workers, "pin_memory": pin, "shuffle": False,
                      "prefetch_factor": 4 if args.workers else None, "persistent_workers": False}
        ds_gpu = ManifestDataset(manifest, size=size, decode="gpu")
        setups = {
            "birefnet_cv2": (baseline_from_manifest(manifest, size), None, to_dev),
            "manifest_uint8+GpuNormalize": (ManifestDataset(manifest, size=size, output="uint8"), None, normalize),
            "manifest_gpu+GpuDecode": (ds_gpu, ds_gpu.collate_fn, gpu_step),
        }
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for name, (ds, collate, step) in setups.items():
                loader = DataLoader(ds, collate_fn=collate, **common) if collate else DataLoader(ds, **common)
                r = run(name, loader, step, device, args.limit_s)
                if name not in best or r["samples_per_s"] > best[name]["samples_per_s"]:
                    best[name] = r
        base = best["birefnet_cv2"]["samples_per_s"]
        print("best of", args.repeats, "passes:")
        for name, r in best.items():
            r["ratio_vs_birefnet"] = round(r["samples_per_s"] / base, 2)
            results.append(r)
            print(f"  {name:28s} {r['samples_per_s']:8.1f} samples/s  {r['ratio_vs_birefnet']:.2f}x", flush=True)
        info["gpu_decode_cpu_fallbacks"] = gpu_step.cpu_fallbacks
    info["results"] = results
    path = args.out / "gpu_decode_bench.json"
    path.write_text(json.dumps(info, indent=2))
    print("wrote", path)
    print("command:", info["command"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
