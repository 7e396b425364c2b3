"""Benchmark of the DA6xx checks: recall and false-positive rate per check, and the --deep slowdown.

    python benchmarks/quality_bench.py [--per-kind 20] [--clean 40] [--size 1024x768] [--workers N] [--out DIR]
                                       [--repeats 4] [--seed 0] [--no-timing] [--quality-threshold NAME=VALUE ...]

1. Generates a tree (examples/quality_defects.py): CLEAN clean pairs in each of five styles (photo,
   thin wires, soft edges, camouflage, white background) and PER_KIND pairs of each planted defect
   (dark, overexposed, near-flat, blurred, odd aspect ratio, grey as RGB, tiny; mask shifted by 3-8 %,
   mirrored, swapped with another picture's).
2. Runs ``scan --deep`` on it and prints, per check, its recall on its planted kind and its
   false-positive rate on the clean pairs (overall and per style). A mask defect counts as found
   when DA608 or DA609 names the pair.
3. Times the deep decode of one pair (CPU time, one process) and ``scan --deep`` (wall time) with the
   quality measures and without them ("before": the deep decode as it was before DA6xx, replayed from
   this file), in this same run: the per-pair CPU times interleaved pair by pair, the scans alternating
   ABBA, best of ``--repeats``; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))

import numpy as np  # noqa: E402
import quality_defects  # noqa: E402

CHECKS = {
    "DA601": "dark", "DA602": "overexposed", "DA603": "flat", "DA604": "blurry", "DA605": "aspect",
    "DA606": "greyrgb", "DA607": "tiny", "DA608": "shifted+flipped", "DA609": "swapped",
}


def decode_pair_before(root, image_path, mask_path, image_info, mask_info, max_pixels):
    """The deep decode without the quality measures (what --deep did before DA6xx), for the timing.

    Its hash and mask statistics are the code of that time, kept here (``_phash_before``, ``_mask_stats_before``),
    so that a later change of ``deep`` (e.g. the mask read without a copy) does not move the baseline.
    """
    from dis_audit import deep

    image = mask = None
    phash = fg_ratio = kind = top = None
    if deep._usable(image_info):
        image, im = deep.decode_file(os.path.join(root, image_path), image_info, max_pixels, want_sha1=True)
        if im is not None:
            phash = _phash_before(im)
            im.close()
    if mask_path is not None and deep._usable(mask_info):
        mask, mim = deep.decode_file(os.path.join(root, mask_path), mask_info, max_pixels, want_sha1=False)
        if mim is not None:
            grey = mim if mim.mode == "L" else mim.convert("L")
            fg_ratio, kind, top = _mask_stats_before(np.asarray(grey))
            mim.close()
    return deep.DeepInfo(image=image, mask=mask, phash=phash, fg_ratio=fg_ratio, mask_kind=kind, mask_max=top)


def _phash_before(im):
    """``deep.phash_image`` as it was before DA6xx (commit 8e13ccc^)."""
    from PIL import Image

    from dis_audit import deep

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = float(arr.max()) or 1.0
        im = Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8))
    elif im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    small = im.resize((deep.HASH_SIDE, deep.HASH_SIDE), Image.Resampling.BOX, reducing_gap=2.0).convert("L")
    return deep.phash_array(np.asarray(small, dtype=np.float64))


def _mask_stats_before(grey):
    """``deep.mask_stats`` as it was before DA6xx (commit 8e13ccc^)."""
    from dis_audit import deep

    n = grey.size
    if n == 0:
        return 0.0, "empty", 0
    n0 = int(np.count_nonzero(grey == 0))
    n255 = int(np.count_nonzero(grey == 255))
    fg = grey >= deep.FG_THRESHOLD
    nfg = int(np.count_nonzero(fg))
    top = 255 if n255 else int(grey.max())
    other = n - n0 - n255
    if nfg == 0:
        kind = "empty"
    elif nfg == n:
        kind = "full"
    elif other == 0:
        kind = "binary"
    elif other > deep.GREY_SHARE * n:
        kind = "grey"
    else:
        edges = int(np.count_nonzero(fg[:, 1:] != fg[:, :-1])) + int(np.count_nonzero(fg[1:, :] != fg[:-1, :]))
        kind = "antialiased" if other <= deep.ANTIALIAS_PER_EDGE * max(edges, 1) else "soft"
    return nfg / n, kind, top


def truth_from_names(root: Path) -> dict[str, str]:
    """Image path -> planted kind, read back from the names ``build`` gives (``...#<kind><seed>_o.jpg``)."""
    truth = {}
    for path in sorted((root / "DIS-TR" / "im").iterdir()):
        kind = path.stem.rsplit("#", 1)[1].rstrip("_o").rstrip("0123456789")
        truth[f"DIS-TR/im/{path.name}"] = f"clean-{kind}" if kind in quality_defects.STYLES else kind
    return truth


def timed_scan(root: Path, workers: int, before: bool) -> float:
    from dis_audit import deep
    from dis_audit.scan import scan

    saved = deep.decode_pair
    if before:
        deep.decode_pair = decode_pair_before  # the workers fork from here and inherit it
    try:
        start = time.perf_counter()
        scan(root, deep=True, workers=workers)
        return time.perf_counter() - start
    finally:
        deep.decode_pair = saved


def decode_pair_core(root, image_path, mask_path, image_info, mask_info, max_pixels):
    """What the deep decode did before DA6xx, done with today's code (its hash, and its mask statistics read
    without a copy and counted in C where dis_audit._fastpixels is built): the part of ``decode_pair`` that is not
    the DA6xx measures, so that ``decode_pair`` minus this is their own cost."""
    from dis_audit import deep
    from dis_audit.pixels import array_of

    image = mask = None
    phash = fg_ratio = kind = top = None
    if deep._usable(image_info):
        image, im = deep.decode_file(os.path.join(root, image_path), image_info, max_pixels, want_sha1=True)
        if im is not None:
            phash = deep.phash_image(im)
            im.close()
    if mask_path is not None and deep._usable(mask_info):
        mask, mim = deep.decode_file(os.path.join(root, mask_path), mask_info, max_pixels, want_sha1=False)
        if mim is not None:
            grey = mim if mim.mode == "L" else mim.convert("L")
            fg_ratio, kind, top = deep.mask_stats(array_of(grey))
            mim.close()
    return deep.DeepInfo(image=image, mask=mask, phash=phash, fg_ratio=fg_ratio, mask_kind=kind, mask_max=top)


def decode_cpu(root: Path, sample: int = 200) -> tuple[float, float, float]:
    """CPU ms per pair of the deep decode: before DA6xx, today's code without the DA6xx measures, and with them
    (one process).

    CPU time, not wall time, and the three interleaved pair by pair (best of 3 each, the order rotated from one
    pair to the next): on a shared machine they then run under the same load, and the ratios are fair even when
    the absolute times are not.
    """
    from dis_audit import deep
    from dis_audit.probe import probe_file

    images = sorted((root / "DIS-TR" / "im").iterdir())
    pairs = [(f"DIS-TR/im/{p.name}", f"DIS-TR/gt/{p.stem}.png") for p in images[:: max(1, len(images) // sample)]]
    infos = [(probe_file(f"{root}/{a}"), probe_file(f"{root}/{b}")) for a, b in pairs]
    fns = (decode_pair_before, decode_pair_core, deep.decode_pair)
    total = [0.0, 0.0, 0.0]
    for k, ((a, b), (ia, ib)) in enumerate(zip(pairs, infos)):
        for j in (k % 3, (k + 1) % 3, (k + 2) % 3):
            best = float("inf")
            for _ in range(3):
                start = time.process_time()
                fns[j](str(root), a, b, ia, ib, 10**9)
                best = min(best, time.process_time() - start)
            total[j] += best
    before, core, with_ = (t / len(pairs) * 1e3 for t in total)
    return before, core, with_


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=20)
    ap.add_argument("--clean", type=int, default=40, help="clean pairs per style")
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=4, help="scan timings of each kind, alternating (best kept)")
    ap.add_argument("--seed", type=int, default=0, help="first scene seed: another value builds a held-out tree")
    ap.add_argument("--no-timing", action="store_true", help="recall and false positives only")
    ap.add_argument("--quality-threshold", action="append", default=[], metavar="NAME=VALUE",
                    help="a DA6xx threshold for the recall scan (as the scan's flag), e.g. swap_off_peak=3.5")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "dis-audit-quality-bench")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from dis_audit.quality import QualityThresholds
    from dis_audit.scan import scan

    marker = args.out / f".tree-{args.per_kind}-{args.clean}-{args.size}-{args.seed}"
    start = time.perf_counter()
    if marker.exists():
        truth = truth_from_names(args.out)
        how = "reused"
    else:
        if args.out.exists():
            shutil.rmtree(args.out)
        truth = quality_defects.build(args.out, args.per_kind, args.clean, (width, height), args.seed)
        marker.touch()
        how = f"generated in {time.perf_counter() - start:.0f} s"
    print(f"tree: {len(truth)} pairs ({args.clean} clean per style x {len(quality_defects.STYLES)}, "
          f"{args.per_kind} per defect kind), {width}x{height}, {how}")

    thresholds = QualityThresholds.items_of(args.quality_threshold) or None
    if thresholds:
        print(f"thresholds: {thresholds}")
    result = scan(args.out, deep=True, workers=args.workers, quality_thresholds=thresholds)
    flagged: dict[str, set[str]] = defaultdict(set)  # code -> image paths
    mask_to_image = {p.replace("/gt/", "/im/")[:-4] + ".jpg": p for p in truth}
    for f in result.findings:
        if f.code.startswith("DA6"):
            path = f.path if f.path in truth else f.path.replace("/gt/", "/im/")[:-4] + ".jpg"
            flagged[f.code].add(mask_to_image.get(path, path))
    clean = {p: kind.split("-", 1)[1] for p, kind in truth.items() if kind.startswith("clean-")}
    styles = quality_defects.STYLES
    print()
    print("| check | planted kind | recall | FPR on clean | " + " | ".join(f"FP {s}" for s in styles) + " |")
    print("|---|---|---|---|" + "---|" * len(styles))
    for code, kinds in CHECKS.items():
        planted = [p for p, k in truth.items() if k in kinds.split("+")]
        hits = flagged[code] | (flagged["DA608" if code == "DA609" else "DA609"] if code in ("DA608", "DA609") else set())
        found = sum(p in hits for p in planted)
        fps = [p for p in clean if p in flagged[code]]
        per_style = " | ".join(f"{sum(clean[p] == s for p in fps)}/{sum(v == s for v in clean.values())}" for s in styles)
        print(f"| {code} | {kinds} | {found}/{len(planted)} = {found / max(len(planted), 1):.2f} | "
              f"{len(fps)}/{len(clean)} = {len(fps) / max(len(clean), 1):.1%} | {per_style} |")
    cross = defaultdict(int)
    for code, paths in flagged.items():
        for p in paths:
            kind = truth.get(p, "?")
            if not kind.startswith("clean") and kind not in CHECKS.get(code, "").split("+"):
                cross[(code, kind)] += 1
    if cross:
        print("\nflags on pairs planted with another defect: "
              + ", ".join(f"{code} on {kind}: {n}" for (code, kind), n in sorted(cross.items())))

    print()
    if args.no_timing:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
        return
    cpu_before, cpu_core, cpu_after = decode_cpu(args.out)
    print(f"deep decode of one pair, CPU time (1 process, interleaved, best of 3 per pair): before {cpu_before:.2f} ms, with the quality "
          f"measures {cpu_after:.2f} ms: {cpu_after / cpu_before - 1:+.1%}")
    print(f"  today's code without the DA6xx measures {cpu_core:.2f} ms ({cpu_core / cpu_before - 1:+.1%} on before): "
          f"the measures' own cost {cpu_after - cpu_core:.2f} ms a pair ({cpu_after / cpu_core - 1:+.1%})")
    times: dict[bool, float] = {True: float("inf"), False: float("inf")}
    for r in range(args.repeats):
        for before in (True, False) if r % 2 == 0 else (False, True):  # ABBA: neither always runs first
            times[before] = min(times[before], timed_scan(args.out, args.workers, before))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) after the timing: {load:.2f} on {os.cpu_count()} cores")
    print(f"scan --deep, {args.workers} workers, {len(truth)} pairs (best of {args.repeats}): "
          f"before {times[True]:.2f} s, with DA6xx {times[False]:.2f} s: "
          f"{times[False] / times[True] - 1:+.1%} (target <= +25 %)")
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
