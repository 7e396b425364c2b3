"""Manual benchmark: plan + apply and undo of `dis-audit rename` on N generated pairs.

    python benchmarks/rename_bench.py --pairs 100000 [--dir /tmp/rename-bench] [--manifest]

Files are a few bytes each (renaming never reads pixels); classes come from a map CSV of
N rows, the realistic case of a user with ``IMG_*.jpg`` files and a class list. With
``--manifest`` a manifest is built first (a scan of fake pixels, so labels are -1 for
unreadable images, but the rewrite cost is real).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dis_audit.rename import apply_plan, plan_rename, undo

CLASSES = ("Bag", "Chair", "Kite", "Umbrella", "Airplane", "Bicycle", "Tree", "Ladder")


def build(root: Path, pairs: int) -> None:
    im, gt = root / "DS" / "im", root / "DS" / "gt"
    im.mkdir(parents=True)
    gt.mkdir(parents=True)
    lines = ["key,class"]
    for i in range(pairs):
        stem = f"IMG_{i:07d}"
        with open(im / f"{stem}.jpg", "wb") as fh:
            fh.write(b"\xff\xd8" + stem.encode())
        with open(gt / f"{stem}.png", "wb") as fh:
            fh.write(b"\x89PNG" + stem.encode())
        lines.append(f"{stem},{CLASSES[i % len(CLASSES)]}")
    (root / "classes.csv").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/rename-bench"))
    ap.add_argument("--manifest", action="store_true", help="build and keep a manifest in the loop")
    ap.add_argument("--keep", action="store_true", help="leave the tree behind")
    args = ap.parse_args()
    root = args.dir
    if root.exists():
        shutil.rmtree(root)
    t0 = time.perf_counter()
    build(root, args.pairs)
    print(f"generated {args.pairs} pairs in {time.perf_counter() - t0:.1f}s")
    if args.manifest:
        from dis_audit.scan import scan

        t0 = time.perf_counter()
        scan(root).write_manifest()
        print(f"scan + manifest: {time.perf_counter() - t0:.1f}s")
    names_before = sorted(os.listdir(root / "DS" / "im")) + sorted(os.listdir(root / "DS" / "gt"))

    t0 = time.perf_counter()
    plan = plan_rename(root, class_from=[f"map:{root / 'classes.csv'}"])
    t_plan = time.perf_counter() - t0
    assert len(plan.moves) == 2 * args.pairs and not plan.problems, plan.problems[:5]
    t0 = time.perf_counter()
    result = apply_plan(plan)
    t_apply = time.perf_counter() - t0
    print(f"plan {t_plan:.1f}s + apply {t_apply:.1f}s = {t_plan + t_apply:.1f}s "
          f"({result.moved} files, {result.method}); target < 60 s")
    t0 = time.perf_counter()
    back = undo(root)
    t_undo = time.perf_counter() - t0
    print(f"undo {t_undo:.1f}s ({back.moved} files); target < 60 s")
    names_after = sorted(os.listdir(root / "DS" / "im")) + sorted(os.listdir(root / "DS" / "gt"))
    assert names_after == names_before, "undo did not restore the names"
    print("names restored: ok")
    if not args.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
