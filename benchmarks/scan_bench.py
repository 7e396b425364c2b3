"""Scan throughput against a bare BiRefNet-style discovery, measured in the same run.

    python benchmarks/scan_bench.py [--pairs 50000] [--memory-pairs 500000] [--dir /tmp/dis-bench]

Builds a tree of ``--pairs`` image/mask pairs (real DIS5K names cycled with a counter, tiny
real JPEG/PNG bytes), then times, warm page cache, best of ``--repeat``:

* bare discovery: BiRefNet's own loop (listdir of im/ + os.path.exists per mask extension);
* ``dis-audit scan`` end to end as a subprocess (interpreter start, imports, discovery, header
  reads on all cores, rules, manifest write);
* ``dis-audit scan --incremental`` of the unchanged tree, end to end and in-process.

With ``--compare DIR`` (a checkout of other code, e.g. ``git archive BASE | tar -x -C DIR``)
the two CLI commands are timed with both codes, alternating round by round, so the machine's
drift hits both alike. Subprocesses get compiled bytecode in a cache folder (as an installed
package has it), even where PYTHONDONTWRITEBYTECODE is set; ``--no-bytecode-cache`` keeps the
environment as it is.

With ``--chunk-cpu N`` it only times what one worker spends per chunk of 1,024 pairs (CPU
seconds, in-process, no pool) and the pickling of a chunk's result; with ``--compare`` both
codes in one process, interleaved for N rounds.

With ``--startup N`` it only times the CLI's fixed cost, a scan of a one-pair tree (both codes
with ``--compare``, alternating), wall and CPU.

With ``--memory-pairs N`` it also builds a tree of N pairs (2N files) and reports the peak
resident memory of ``dis-audit scan`` on it (main process and the largest worker).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "dis5k_names.tsv"
BIREFNET_EXTS = [".png", ".jpg", ".PNG", ".JPG", ".JPEG"]


def stems(n: int) -> list[str]:
    if CORPUS.is_file():
        base = [line.split("\t")[1].rsplit(".", 1)[0] for line in CORPUS.read_text().splitlines() if line]
    else:
        base = ["1#Accessories#1#Bag#26345192014_f722d1ef0b_o"]
    return [f"{base[i % len(base)]}_{i}" for i in range(n)]


def build_tree(root: Path, pairs: int) -> None:
    from PIL import Image

    marker = root / f".built-{pairs}"
    if marker.exists():
        return
    if root.exists():
        shutil.rmtree(root)
    jpg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(jpg, "JPEG")
    Image.new("L", (64, 48), 255).save(png, "PNG")
    per_dataset = max(1, pairs // 2)
    for i, stem in enumerate(stems(pairs)):
        dataset = "DIS-TR" if i < per_dataset else "DIS-VD"
        for sub, data, ext in (("im", jpg.getvalue(), ".jpg"), ("gt", png.getvalue(), ".png")):
            folder = root / dataset / sub
            if i in (0, per_dataset):
                folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f"{stem}{ext}", "wb") as fh:
                fh.write(data)
    marker.touch()


def bare_discovery(root: Path) -> int:
    """BiRefNet's loop: list im/, then find each mask by trying extensions in order."""
    found = 0
    for dataset in ("DIS-TR", "DIS-VD"):
        image_root = os.path.join(root, dataset, "im")
        paths = [os.path.join(image_root, p) for p in os.listdir(image_root) if any(p.endswith(e) for e in BIREFNET_EXTS)]
        for p in paths:
            for ext in BIREFNET_EXTS:
                p_gt = p.replace("/im/", "/gt/")[: -(len(p.split(".")[-1]) + 1)] + ext
                if os.path.exists(p_gt):
                    found += 1
                    break
    return found


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


CLI_ENV = dict(os.environ)


def cli(*args: str, code: Path = REPO) -> None:
    env = dict(CLI_ENV, PYTHONPATH=str(code))
    # `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH: run in the
    # checkout itself, or a run started from this repository times this code under both labels.
    proc = subprocess.run([sys.executable, "-m", "dis_audit", *args], capture_output=True, env=env, cwd=code)
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr.decode())


def check_codes(other: Path) -> None:
    """Stop unless the CLI subprocesses import ``dis_audit`` from REPO and from ``other`` as labelled."""
    for code in (REPO, other):
        env = dict(CLI_ENV, PYTHONPATH=str(code))
        found = subprocess.run([sys.executable, "-c", "import dis_audit; print(dis_audit.__file__)"],
                               capture_output=True, text=True, env=env, cwd=code).stdout.strip()
        if Path(found).resolve().parent.parent != code.resolve():
            raise SystemExit(f"the CLI for {code} imports dis_audit from {found}")


def compare(root: Path, manifest: Path, other: Path, rounds: int, bare: float, files: int) -> None:
    """Full and --incremental CLI scans with this code and ``other``, alternating; best and median of each."""
    import resource

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    times: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for label, code in (("this", REPO), ("other", other)):
            for what, extra in (("scan", ()), ("--incremental", ("--incremental",))):
                if what == "scan":
                    manifest.unlink(missing_ok=True)
                start, start_cpu = time.perf_counter(), cpu()
                cli("scan", str(root), "--manifest", str(manifest), "--json", *extra, code=code)
                times.setdefault((label, what), []).append(time.perf_counter() - start)
                # CPU seconds of the CLI and its workers: less moved by other load than the wall clock.
                cpus.setdefault((label, what), []).append(cpu() - start_cpu)
    for (label, what), values in times.items():
        best, median = min(values), sorted(values)[len(values) // 2]
        rate = f"{files / best:10,.0f} files/s" if what == "scan" else f"{best / bare:6.2f}x bare"
        print(f"{label:5s} code ({'REPO' if label == 'this' else other}), {what:13s}: best {best:6.3f} s  "
              f"median {median:6.3f} s of {len(values)}  {rate}; CPU (all processes) best "
              f"{min(cpus[label, what]):.2f} s, median {sorted(cpus[label, what])[len(values) // 2]:.2f} s")


def startup_bench(base: Path, other: Path | None, rounds: int) -> None:
    """The CLI's fixed cost: ``dis-audit scan --json`` of a one-pair tree (interpreter, imports, option
    parsing, report), wall and CPU, alternating with ``other`` when given; best and median of ``rounds``."""
    import resource

    tiny = base / "tree-1"
    build_tree(tiny, 1)
    manifest = base / "startup-manifest.parquet"
    codes = {"this": REPO, **({"other": other} if other else {})}
    for code in codes.values():  # warm: bytecode cache
        cli("scan", str(tiny), "--manifest", str(manifest), "--json", code=code)
    walls: dict[str, list[float]] = {label: [] for label in codes}
    cpus: dict[str, list[float]] = {label: [] for label in codes}
    for _ in range(rounds):
        for label, code in codes.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            cli("scan", str(tiny), "--manifest", str(manifest), "--json", code=code)
            walls[label].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    for label, code in codes.items():
        w, c = sorted(walls[label]), sorted(cpus[label])
        print(f"{label:5s} code ({code}), scan of one pair: wall best {w[0]:.3f} s, median {w[len(w) // 2]:.3f} s; "
              f"CPU best {c[0]:.3f} s, median {c[len(c) // 2]:.3f} s ({rounds} rounds)")


def listing_bench(root: Path, rounds: int) -> None:
    """CPU seconds (best of ``rounds``, interleaved) of listing + pairing every dataset three ways, in-process."""
    import gc

    sys.path.insert(0, str(REPO))
    from dis_audit.layout import discover_datasets, index_folder, pair_dataset
    from dis_audit.listing import list_and_pair

    datasets = discover_datasets(root)

    def listdir() -> None:
        for ds in datasets:
            os.listdir(root / ds.image_dir)
            os.listdir(root / str(ds.mask_dir))

    def two_pass() -> None:
        for ds in datasets:
            pair_dataset(ds, index_folder(root, ds.image_dir), index_folder(root, str(ds.mask_dir)))

    def one_pass() -> None:
        for ds in datasets:
            list_and_pair(root, ds)

    ways = {"os.listdir only": listdir, "layout two-pass": two_pass, "listing one-pass": one_pass}
    best = dict.fromkeys(ways, float("inf"))
    gc.disable()  # as in scan()
    for _ in range(rounds):
        for name, fn in ways.items():
            start = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - start)
    gc.enable()
    for name, value in best.items():
        print(f"listing, {name:17s}: {value:6.3f} s CPU (best of {rounds})  {value / best['os.listdir only']:5.1f}x listdir")


def _chunk_path(package: str, root: Path) -> tuple[Any, list[Any], Any]:
    """``package``'s chunk function, with the task list and context its scan() hands to the pool."""
    import importlib

    scan_module = importlib.import_module(f"{package}.scan")
    evaluate = importlib.import_module(f"{package}._evaluate").evaluate_to_table
    got: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def capture(tasks: list[Any], ctx: Any, *rest: Any) -> None:  # stands in for the pool
        got.update(tasks=tasks, ctx=ctx)
        raise Stop

    scan_module.run_tasks = capture
    try:
        scan_module.scan(root, workers=1)
    except Stop:
        pass
    return evaluate, got["tasks"], got["ctx"]


def chunk_cpu(root: Path, other: Path | None, rounds: int, chunks: int = 10) -> None:
    """A worker's CPU per chunk of 1,024 pairs (probe, checks, rows, Arrow table), in-process, no pool.

    With ``other`` its ``dis_audit`` is imported as ``dis_audit_other`` into the same process and the
    two codes run round by round on the same chunks: under load, CPU time drifts with the machine
    (caches, the other jobs), so only interleaved figures compare. Also the pickling of one chunk's
    result, there and back (what the pool's IPC does with it).
    """
    import gc
    import pickle
    import tempfile

    sys.path.insert(0, str(REPO))
    packages = {"this": "dis_audit"}
    if other is not None:
        links = Path(tempfile.mkdtemp())
        (links / "dis_audit_other").symlink_to(other.resolve() / "dis_audit")
        sys.path.insert(0, str(links))
        packages["other"] = "dis_audit_other"
    paths = {label: _chunk_path(package, root) for label, package in packages.items()}
    gc.disable()  # as in the scan's workers
    cpu: dict[str, list[float]] = {label: [] for label in paths}
    for _ in range(rounds):
        for label, (evaluate, tasks, ctx) in paths.items():
            parts = [tasks[i : i + 1024] for i in range(0, min(len(tasks), chunks * 1024), 1024)]
            start = time.process_time()
            for part in parts:
                evaluate(part, ctx)
            cpu[label].append(1000 * (time.process_time() - start) / len(parts))
    gc.enable()
    evaluate, tasks, ctx = paths["this"]
    result = evaluate(tasks[:1024], ctx)
    start = time.process_time()
    for _ in range(20):
        pickle.loads(pickle.dumps(result))
    ipc = 1000 * (time.process_time() - start) / 20
    for label, values in cpu.items():
        values.sort()
        print(f"{label:5s} code ({packages[label]}): CPU per chunk of 1,024 pairs, best {values[0]:.1f} ms, "
              f"median {values[len(values) // 2]:.1f} ms of {len(values)} interleaved rounds")
    print(f"pickling one chunk's result there and back: {ipc:.2f} ms ({len(pickle.dumps(result)) / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=50_000)
    parser.add_argument("--memory-pairs", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dis-audit-bench"))
    parser.add_argument("--listing", type=int, default=0, metavar="N",
                        help="only time listing + pairing in-process (listdir / two-pass / one-pass), N rounds")
    parser.add_argument("--chunk-cpu", type=int, default=0, metavar="N",
                        help="only time a worker's CPU per chunk of 1,024 pairs in-process (with --compare: both codes), "
                             "N alternating rounds")
    parser.add_argument("--startup", type=int, default=0, metavar="N",
                        help="only time the CLI's fixed cost (a one-pair tree; with --compare: both codes), N rounds")
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to time against, alternating")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="leave PYTHONDONTWRITEBYTECODE as it is (subprocesses then compile dis_audit every run)")
    parser.add_argument("--gc-ab", type=int, default=0, metavar="N",
                        help="also time scan() in-process with the garbage collector on vs paused, N interleaved rounds")
    args = parser.parse_args()

    root = args.dir / f"tree-{args.pairs}"
    t0 = time.perf_counter()
    build_tree(root, args.pairs)
    files = 2 * args.pairs
    print(f"tree: {args.pairs} pairs ({files} files) at {root} (built/checked in {time.perf_counter() - t0:.1f} s)")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if not args.no_bytecode_cache:
        CLI_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CLI_ENV["PYTHONPYCACHEPREFIX"] = str(args.dir / "pycache")
    print("bytecode: " + ("as the environment has it" if args.no_bytecode_cache else f"cached in {args.dir / 'pycache'}"))

    if args.listing:
        listing_bench(root, args.listing)
        return
    if args.startup:
        if args.compare:
            check_codes(args.compare)
        startup_bench(args.dir, args.compare, args.startup)
        print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        return
    if args.chunk_cpu:
        chunk_cpu(root, args.compare, args.chunk_cpu)
        print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        return
    assert bare_discovery(root) == args.pairs
    bare = timed(lambda: bare_discovery(root), args.repeat)
    manifest = args.dir / "bench-manifest.parquet"
    cli("scan", str(root), "--manifest", str(manifest), "--json")  # warm: page cache, bytecode cache
    if args.compare:
        cli("scan", str(root), "--manifest", str(manifest), "--json", code=args.compare)
        check_codes(args.compare)
        print(f"bare BiRefNet discovery (in-process):       {bare:7.3f} s  {files / bare:10,.0f} files/s")
        compare(root, manifest, args.compare, args.repeat, bare, files)
        print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        return
    full = timed(lambda: cli("scan", str(root), "--manifest", str(manifest), "--json"), args.repeat)
    incr = timed(lambda: cli("scan", str(root), "--manifest", str(manifest), "--incremental", "--json"), args.repeat)

    sys.path.insert(0, str(REPO))
    from dis_audit import scan

    incr_lib = timed(lambda: scan(root, incremental=manifest), args.repeat)
    result = scan(root, incremental=manifest)
    # Rows with findings are re-read on purpose (their messages are not stored per row).
    reused, reread = result.summary["reused_rows"], result.summary["probed_samples"]
    assert reused + reread == args.pairs and reread < args.pairs // 100, (reused, reread)

    print(f"bare BiRefNet discovery (in-process):       {bare:7.3f} s  {files / bare:10,.0f} files/s")
    print(f"dis-audit scan, end to end (CLI):           {full:7.3f} s  {files / full:10,.0f} files/s")
    print(f"dis-audit scan --incremental (CLI):         {incr:7.3f} s  {incr / bare:6.2f}x bare")
    print(f"scan(incremental=...) (in-process):         {incr_lib:7.3f} s  {incr_lib / bare:6.2f}x bare"
          f"  ({reused} rows reused, {reread} with findings re-read)")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))

    if args.gc_ab:
        # scan() pauses the cyclic GC; its __wrapped__ is the same scan with the GC left on.
        times: dict[str, list[float]] = {"GC on": [], "GC paused": []}
        for _ in range(args.gc_ab):  # interleaved so the machine's drift hits both alike
            for name, fn in (("GC on", scan.__wrapped__), ("GC paused", scan)):
                start = time.perf_counter()
                fn(root)
                times[name].append(time.perf_counter() - start)
        for name, values in times.items():
            print(f"scan() in-process, {name:9s}: best {min(values):.3f} s, median {sorted(values)[len(values) // 2]:.3f} s "
                  f"of {len(values)}")

    if args.memory_pairs:
        big = args.dir / f"tree-{args.memory_pairs}"
        t0 = time.perf_counter()
        build_tree(big, args.memory_pairs)
        print(f"memory tree: {args.memory_pairs} pairs ({2 * args.memory_pairs} files), built in {time.perf_counter() - t0:.0f} s")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        code = (
            "import resource, sys, dis_audit;"
            "r = dis_audit.scan(sys.argv[1]); r.write_manifest(sys.argv[2]);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code, str(big), str(args.dir / "big-manifest.parquet")],
            capture_output=True, text=True, env=env, check=True,
        ).stdout.split()
        took = time.perf_counter() - start
        main_kb, worker_kb = int(out[0]), int(out[1])
        print(
            f"scan of {2 * args.memory_pairs} files: {took:.1f} s ({2 * args.memory_pairs / took:,.0f} files/s), "
            f"peak RSS main {main_kb / 1024:.0f} MiB, largest worker {worker_kb / 1024:.0f} MiB"
        )


if __name__ == "__main__":
    main()
