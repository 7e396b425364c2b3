"""Do two checkouts' CLI scans give the same results? Stdout, stderr, exit code and manifest bytes.

    python benchmarks/scan_equivalence.py --compare DIR [--dir /tmp/dis-audit-equiv]

A speed change must not change a result. This runs ``dis-audit scan`` with this checkout and with
``DIR`` (e.g. ``git archive BASE | tar -x -C DIR``) on the same trees and command lines and compares
everything they give: the exit code, stdout (the elapsed time masked, in the JSON summary and the
text report's last line: the one value that may differ), stderr, and the manifest's bytes. Trees: the example in
``examples/dis-mini``; a hostile tree built with ``dis_audit.testing`` (truncated, empty, FIFO,
folder-named, garbage, mislabelled and odd-format files, broken links, bad names, orphans, nested
and clutter files), large enough for the worker pool; and the same tree after edits, for
``--incremental`` from one old manifest copied for each code. Prints one line per difference and
exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def hostile_tree(root: Path, pairs: int) -> None:
    """Good pairs with every kind of bad file mixed in (``pairs`` good pairs, then the bad ones)."""
    from PIL import Image

    from dis_audit.testing import image_array, make_pair, mask_array, write_image

    if root.exists():
        shutil.rmtree(root)
    classes = ["Bag", "Chair", "Violin", "Lamp"]
    for i in range(pairs):
        make_pair(root, "DS-A" if i % 2 else "DS-B", f"1#Group#{i % 4}#{classes[i % 4]}#{i}", size=(24 + i % 5, 16))
    im, gt = root / "DS-A" / "im", root / "DS-A" / "gt"
    good_jpg = (im / "1#Group#1#Chair#1.jpg").read_bytes()
    good_png = (gt / "1#Group#1#Chair#1.png").read_bytes()

    def bad(name: str, data: bytes, folder: Path = im) -> None:
        (folder / name).write_bytes(data)

    big = io.BytesIO()
    Image.fromarray(image_array(200, 150)).save(big, "JPEG", quality=95)
    big_jpg = big.getvalue()
    bad("1#G#1#Bag#cut-head.jpg", good_jpg[:30])
    bad("1#G#1#Bag#cut-scan.jpg", big_jpg[: len(big_jpg) - 500])
    bad("1#G#1#Bag#cut-small.jpg", good_jpg[: len(good_jpg) - 3])
    bad("1#G#1#Bag#padded.jpg", good_jpg + b"\0" * 100)
    bad("1#G#1#Bag#empty.jpg", b"")
    bad("1#G#1#Bag#garbage.jpg", b"not an image at all, just words")
    bad("1#G#1#Bag#png-named-jpg.jpg", good_png)
    bad("1#G#1#Bag#cut-mask.jpg", good_jpg)
    bad("1#G#1#Bag#cut-mask.png", good_png[:-12], gt)
    bad("1#G#1#Bag#empty-mask.jpg", good_jpg)
    bad("1#G#1#Bag#empty-mask.png", b"", gt)
    bad("1#G#1#Bag#jpeg-mask.jpg", good_jpg)
    bad("1#G#1#Bag#jpeg-mask.png", good_jpg, gt)
    bad("1#G#1#Bag#exactly-4096.jpg", good_jpg + b"\0" * (4096 - len(good_jpg)))
    huge_png = bytearray(good_png)
    huge_png[16:20] = (2**31).to_bytes(4, "big")
    bad("1#G#1#Bag#huge.png", bytes(huge_png))
    over_cv2 = bytearray(good_png)
    over_cv2[16:24] = (40000).to_bytes(4, "big") + (30000).to_bytes(4, "big")
    bad("1#G#1#Bag#over-limit.png", bytes(over_cv2))
    exif = Image.Exif()
    exif[0x010E] = "x" * 6000  # the frame header lies past the first read
    buf = io.BytesIO()
    Image.fromarray(image_array(30, 20)).save(buf, "JPEG", exif=exif)
    bad("1#G#1#Bag#big-exif.jpg", buf.getvalue())
    for mode, ext in (("CMYK", ".jpg"), ("RGBA", ".png"), ("P", ".gif"), ("RGB", ".bmp"), ("RGB", ".webp"),
                      ("RGB", ".tif"), ("I;16", ".png")):
        path = im / f"1#G#1#Bag#mode-{mode.replace(';', '')}{ext}"
        if mode == "I;16":
            Image.fromarray(mask_array(24, 16)).convert("I").convert("I;16").save(path)
        else:
            write_image(path, image_array(24, 16), mode=mode)
        write_image(gt / f"{path.stem}.png", mask_array(24, 16))
    write_image(gt / "1#G#1#Bag#mode-CMYK.png", mask_array(24, 16), mode="RGB")  # a colour mask
    write_image(gt / "1#G#1#Bag#padded.png", mask_array(30, 16))  # size mismatch
    os.mkfifo(im / "1#G#1#Bag#fifo.jpg")
    (im / "1#G#1#Bag#folder.jpg").mkdir()
    (im / "1#G#1#Bag#broken.jpg").symlink_to(im / "nowhere.jpg")
    (im / "1#G#1#Bag#link.jpg").symlink_to(im / "1#G#1#Chair#1.jpg")
    for stem in ("3#fields#only", "1#G#1#Bag", "1#G#1#Bagg#typo", "x#G#y#Bag#idx", "1#G#1#Bag#a#b#c", "1#G#1#Caf\u0065\u0301#nfd",
                 "1#G#1#Bag#caf\u00e9", "1#G#1##empty-class", "UPPER"):
        make_pair(root, "DS-A", stem)
    make_pair(root, "DS-A", "1#G#1#Bag#no-mask", mask_ext=None)
    make_pair(root, "DS-A", "1#G#1#Bag#upper-ext", image_ext=".JPG", mask_ext=".PNG")
    write_image(gt / "1#G#1#Bag#orphan.png", mask_array(24, 16))
    write_image(im / "sub" / "1#G#1#Bag#nested.jpg", image_array(24, 16))
    (im / "notes.txt").write_text("clutter")
    # A dataset whose folders are a loader's own in another case, and one without a mask folder.
    make_pair(root, "DS-C", "1#G#1#Bag#c", image_dir="IM", mask_dir="GT")
    make_pair(root, "DS-D", "1#G#1#Bag#d", mask_ext=None)


def edit_tree(root: Path) -> None:
    """Changes for --incremental: new, changed, touched, removed and damaged files."""
    from dis_audit.testing import make_pair

    im, gt = root / "DS-B" / "im", root / "DS-B" / "gt"
    files = sorted(im.iterdir())
    files[0].write_bytes(files[0].read_bytes() + b"\0")
    os.utime(files[1], ns=(1_000_000_000, 1_000_000_123))
    files[2].unlink()
    os.utime(gt / f"{files[3].stem}.png", ns=(5, 5))
    files[4].write_bytes(files[4].read_bytes()[:40])
    make_pair(root, "DS-B", "1#Group#1#Chair#added")


ELAPSED = re.compile(rb'"elapsed_s": ?[0-9.e-]+')


def run(code: Path, args: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    proc = subprocess.run([sys.executable, "-m", "dis_audit", *args], capture_output=True, cwd=code,
                          env=dict(env, PYTHONPATH=str(code)), timeout=900)
    out = ELAPSED.sub(b'"elapsed_s": X', proc.stdout)
    out = re.sub(rb"\([0-9.]+ s\)", b"(X s)", out)  # the text report's timing
    return proc.returncode, out, proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=Path, required=True, help="the other checkout")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dis-audit-equiv"))
    parser.add_argument("--pairs", type=int, default=4200, help="good pairs of the hostile tree (>= 4000: the pool)")
    args = parser.parse_args()
    work = args.dir
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    trees = {"mini": work / "mini", "hostile": work / "hostile", "small": work / "small"}
    if trees["mini"].exists():
        shutil.rmtree(trees["mini"])
    shutil.copytree(REPO / "examples" / "dis-mini", trees["mini"], ignore=shutil.ignore_patterns("manifest.parquet"))
    hostile_tree(trees["hostile"], args.pairs)
    hostile_tree(trees["small"], 40)
    runs: list[tuple[str, list[str], str | None]] = []  # (tree, args, incremental base)
    for tree in trees:
        for extra in ([], ["--json"], ["--json", "--workers", "1"], ["--output-format", "json"],
                      ["--json", "--loader", "dis-audit"], ["--json", "--loader", "birefnet-fork"],
                      ["--json", "--ignore", "DA301,DA308"], ["--json", "--select", "DA3,DA4"],
                      ["--json", "--shard", "1/3"], ["--json", "--classes", "infer"], ["--json", "--extend-vocab"],
                      ["--json", "--datasets", "DS-A"], ["--json", "--max-examples", "3"]):
            runs.append((tree, extra, None))
        runs.append((tree, ["--json", "--incremental"], "same"))
        runs.append((tree, ["--json", "--incremental", "--loader", "dis-audit"], "same"))
    for tree in ("mini", "small"):
        runs.append((tree, ["--json", "--deep"], None))
    runs.append(("hostile", ["--json", "--incremental"], "edited"))
    runs.append(("small", ["--json", "--incremental"], "edited"))
    codes = {"this": REPO, "other": args.compare}
    differences = 0
    done = 0
    for tree, extra, incremental in runs:
        root = trees[tree]
        if incremental is not None:
            base = work / f"{tree}-base.parquet"
            if not base.exists():  # one old manifest (by this code) for both codes' incremental runs
                run(REPO, ["scan", str(root), "--manifest", str(base)], env)
            if incremental == "edited" and not (work / f"{tree}.edited").exists():
                edit_tree(root)
                (work / f"{tree}.edited").touch()
        results = {}
        for label, code in codes.items():
            manifest = work / f"{tree}.parquet"  # one path for both codes: the reports name it
            manifest.unlink(missing_ok=True)
            if incremental is not None:
                shutil.copyfile(work / f"{tree}-base.parquet", manifest)
            rc, out, err = run(code, ["scan", str(root), "--manifest", str(manifest), *extra], env)
            data = manifest.read_bytes() if manifest.exists() else None
            results[label] = (rc, out, err, data)
        done += 1
        this, other = results["this"], results["other"]
        for name, k in (("exit code", 0), ("stdout", 1), ("stderr", 2), ("manifest bytes", 3)):
            if this[k] != other[k]:
                differences += 1
                print(f"DIFFERENT {name}: {tree} {' '.join(extra)}"
                      + (f" ({this[k]!r} vs {other[k]!r})" if k == 0 else ""))
        print(f"{'same' if this == other else 'DIFF'}: {tree:8s} exit {this[0]}  {' '.join(extra)}"
              + (f"  [incremental from the {incremental} tree]" if incremental else ""))
    print(f"{done} command lines, each run with both codes: {differences} difference(s)")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
