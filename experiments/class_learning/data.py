"""The class-learning experiment's data: a generated, long-tailed segmentation benchmark with known classes.

Twenty classes of DIS-like objects with thin or complex structure (rings, lattices, branching
trees, spirals, wires, glyphs, filled blobs ...), each with its own shape statistics, drawn on
textured backgrounds with distractors at 256×256. The training split is long-tailed like DIS-TR
(150 images of the most frequent class down to 3 of the rarest); the test split has the same
number of images per class and is drawn from a different seed. Every sample lands in a
difficulty folder: ``easy`` (thick structure, little clutter, high contrast), ``medium``, or
``hard`` (thin structure, many distractors, low contrast), in fixed shares per class (40/35/25 %).

Layout (``dis-audit`` / BiRefNet style, ``#`` names, binary PNG masks)::

    OUT/classes.txt                                   class names in id order
    OUT/train/{easy,medium,hard}/{im,gt}/<g>#<Group>#<c>#<Class>#tr<seed>-<n>.{jpg,png}
    OUT/test/{easy,medium,hard}/{im,gt}/...

    python -m experiments.class_learning.data OUT [--seed 0] [--test-seed 1000]

The output is a pure function of the arguments (same files, byte for byte, for the same seed).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dis_audit.testing import write_image

from .shapes import CLASS_NAMES, CLASSES, GROUP_IDS, draw_distractors, paint_blob

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "DIFFICULTIES",
    "DIFFICULTY_SHARES",
    "GeneratedBenchmark",
    "difficulty_plan",
    "generate",
    "preview",
    "render_sample",
    "sample_name",
    "train_counts",
]

DIFFICULTIES = ("easy", "medium", "hard")
#: Share of each difficulty among generated samples.
DIFFICULTY_SHARES = (0.4, 0.35, 0.25)
#: Structure width multiplier, distractor count range and foreground/background contrast per difficulty.
_THICKNESS = {"easy": 1.0, "medium": 0.7, "hard": 0.45}
_DISTRACTORS = {"easy": (0, 2), "medium": (3, 6), "hard": (8, 14)}
_CONTRAST = {"easy": (0.55, 0.8), "medium": (0.35, 0.55), "hard": (0.2, 0.35)}


#: The class-to-count shuffle of round 1 (see ``train_counts``).
COUNT_SEED = 20261127
#: Round 2's second assignment: its 5 rarest classes come from 5 different shape families, none of them is
#: among round 1's 5 rarest, and the three Solid classes rank 2nd, 10th and 12th rarest.
COUNT_SEED_2 = 12


def train_counts(
    max_count: int = 150, min_count: int = 3, scale: float = 1.0, count_seed: int = COUNT_SEED
) -> list[int]:
    """Training images per class id: a geometric long tail from ``max_count`` to ``min_count``.

    Which class gets which count is a fixed shuffle (the same for every seed), so frequency is
    not tied to class id. ``scale`` shrinks every count (at least 1 each). ``count_seed`` picks
    another shuffle: round 1's put all three Solid classes among the six rarest, round 2 adds
    :data:`COUNT_SEED_2`, which spreads the rarest classes over the shape families.
    """
    n = len(CLASSES)
    tail = [max_count * (min_count / max_count) ** (k / (n - 1)) for k in range(n)]
    order = np.random.default_rng(count_seed).permutation(n)
    counts = [0] * n
    for rank, class_id in enumerate(order):
        counts[int(class_id)] = max(1, round(tail[rank] * scale))
    return counts


# ----------------------------------------------------------------------------- rendering


def _texture(rng: np.random.Generator, size: int, colour: np.ndarray, amount: float) -> np.ndarray:
    """Smooth coloured noise plus random stripes, float HxWx3 in 0..255."""
    coarse = rng.normal(0, 1, size=(6, 6, 3)).astype(np.float32)
    low = np.asarray(
        Image.fromarray(((coarse - coarse.min()) / (np.ptp(coarse) or 1) * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC
        ),
        dtype=np.float32,
    )
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    freq, angle = rng.uniform(4, 18), rng.uniform(0, np.pi)
    stripes = np.sin(2 * np.pi * freq * (x * math.cos(angle) + y * math.sin(angle)))[..., None]
    tex = colour + amount * ((low - 128) * 0.5 + 25 * stripes) + rng.normal(0, 6, size=(size, size, 3))
    return tex


def render_sample(
    class_id: int, difficulty: str, rng: np.random.Generator, size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """One ``(image HxWx3 uint8, mask HxW uint8 0/255)`` of class ``class_id`` at ``difficulty``.

    Shapes are drawn at twice the size and averaged down, so image edges are antialiased; the
    mask is that coverage thresholded at one half.
    """
    S = 2 * size
    t = _THICKNESS[difficulty]
    canvas = Image.new("L", (S, S), 0)
    CLASSES[class_id].paint(ImageDraw.Draw(canvas), rng, S, t)
    coverage = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0
    if coverage.max() < 0.5:  # a painter that drew (almost) nothing: fall back to a visible blob
        canvas = Image.new("L", (S, S), 0)
        paint_blob(ImageDraw.Draw(canvas), rng, S, t)
        coverage = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0

    clutter = Image.new("L", (S, S), 0)
    lo, hi = _DISTRACTORS[difficulty]
    draw_distractors(ImageDraw.Draw(clutter), rng, S, int(rng.integers(lo, hi + 1)), t)
    clutter_cover = (
        np.asarray(clutter.resize((size, size), Image.Resampling.BOX), dtype=np.float32)[..., None] / 255.0
    )

    bg_colour = rng.uniform(40, 215, 3).astype(np.float32)
    contrast = rng.uniform(*_CONTRAST[difficulty])
    direction = rng.normal(0, 1, 3).astype(np.float32)
    direction /= np.linalg.norm(direction) or 1.0
    fg_colour = np.clip(bg_colour + direction * contrast * 255 * np.sign(128 - bg_colour.mean()) * -1, 0, 255)
    if np.abs(fg_colour - bg_colour).sum() < 30:  # clipped into the background: go the other way
        fg_colour = np.clip(bg_colour - direction * contrast * 255, 0, 255)
    # Hard clutter takes the object's colour half the time (camouflage); otherwise a random colour.
    clutter_colour = fg_colour if difficulty == "hard" and rng.random() < 0.5 else rng.uniform(0, 255, 3)

    background = _texture(rng, size, bg_colour, 0.6)
    foreground = _texture(rng, size, fg_colour.astype(np.float32), 0.25)
    image = background * (1 - clutter_cover) + clutter_colour * clutter_cover
    alpha = coverage[..., None]
    image = image * (1 - alpha) + foreground * alpha
    mask = np.where(coverage >= 0.5, 255, 0).astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def difficulty_plan(n: int, rng: np.random.Generator) -> list[str]:
    """Difficulties for the ``n`` samples of one class: exact shares (largest remainder), shuffled.

    Fixed quotas per class keep a class's IoU about its shape and frequency, not about how
    many hard samples it happened to draw (3 training images are one of each).
    """
    exact = [n * share for share in DIFFICULTY_SHARES]
    quota = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (quota[i] - exact[i], i))[: n - sum(quota)]:
        quota[i] += 1
    plan = [d for d, q in zip(DIFFICULTIES, quota) for _ in range(q)]
    return [plan[i] for i in rng.permutation(n)]


def sample_name(class_id: int, original_id: str) -> str:
    """``<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>`` (no extension)."""
    spec = CLASSES[class_id]
    return f"{GROUP_IDS[spec.group]}#{spec.group}#{class_id}#{spec.name}#{original_id}"


@dataclass(frozen=True)
class GeneratedBenchmark:
    root: Path
    train_root: Path
    test_root: Path
    classes_file: Path
    train_counts: list[int]
    test_per_class: int


def _write_split(
    root: Path, split: str, counts: list[int], seed: int, size: int, prefix: str, progress: bool
) -> None:
    written = 0
    total = sum(counts)
    for class_id, n in enumerate(counts):
        plan = difficulty_plan(n, np.random.default_rng([seed, class_id, 1 << 30]))
        for k in range(n):
            rng = np.random.default_rng([seed, class_id, k])
            difficulty = plan[k]
            image, mask = render_sample(class_id, difficulty, rng, size)
            stem = sample_name(class_id, f"{prefix}{seed}-{class_id:02d}{k:04d}")
            # Files are written in place: an interrupted generation never gets the params stamp that
            # the experiment requires, and generate() refuses a non-empty folder.
            folder = root / split / difficulty
            write_image(folder / "im" / f"{stem}.jpg", image, quality=92)
            write_image(folder / "gt" / f"{stem}.png", mask)
            written += 1
            if progress and (written % 100 == 0 or written == total):
                print(f"  {split}: {written}/{total} samples", file=sys.stderr)


def generate(
    out: str | Path,
    *,
    seed: int = 0,
    test_seed: int = 1000,
    test_per_class: int = 12,
    size: int = 256,
    scale: float = 1.0,
    progress: bool = False,
    count_seed: int = COUNT_SEED,
) -> GeneratedBenchmark:
    """Write the benchmark under ``out`` (train from ``seed``, test from ``test_seed``).

    ``scale`` shrinks the training counts (``--quick`` runs); the test split always has
    ``test_per_class`` images per class.
    """
    if seed == test_seed:
        raise ValueError("the test split needs a seed different from the training split")
    root = Path(out)
    for split in ("train", "test"):
        if (root / split).exists() and any((root / split).iterdir()):
            raise FileExistsError(f"{root / split} exists and is not empty; choose a new output folder")
    counts = train_counts(scale=scale, count_seed=count_seed)
    root.mkdir(parents=True, exist_ok=True)
    classes_file = root / "classes.txt"
    classes_file.write_text("".join(f"{name}\n" for name in CLASS_NAMES), encoding="utf-8")
    _write_split(root, "train", counts, seed, size, "tr", progress)
    _write_split(root, "test", [test_per_class] * len(CLASSES), test_seed, size, "te", progress)
    return GeneratedBenchmark(root, root / "train", root / "test", classes_file, counts, test_per_class)


def preview(path: str | Path, tile: int = 96, seed: int = 7) -> Path:
    """A PNG contact sheet: per class a row of (image, mask) pairs for easy, medium and hard."""
    rows = []
    for class_id in range(len(CLASSES)):
        cells = []
        for difficulty in DIFFICULTIES:
            image, mask = render_sample(class_id, difficulty, np.random.default_rng([seed, class_id]), 256)
            cells += [image, np.repeat(mask[..., None], 3, axis=2)]
        row = np.concatenate(
            [np.asarray(Image.fromarray(c).resize((tile, tile), Image.Resampling.BOX)) for c in cells], axis=1
        )
        rows.append(row)
    # Two columns of classes keep the sheet roughly square.
    half = (len(rows) + 1) // 2
    left, right = np.concatenate(rows[:half], 0), np.concatenate(rows[half:], 0)
    right = np.pad(right, ((0, left.shape[0] - right.shape[0]), (0, 0), (0, 0)), constant_values=255)
    sheet = np.concatenate([left, np.full((left.shape[0], 8, 3), 255, np.uint8), right], axis=1)
    return write_image(path, sheet, quality=75)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.class_learning.data", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "out", type=Path, nargs="?", help="output folder (must not hold a train/ or test/ split yet)"
    )
    parser.add_argument("--seed", type=int, default=0, help="training split seed")
    parser.add_argument("--test-seed", type=int, default=1000, help="test split seed")
    parser.add_argument("--test-per-class", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the training counts")
    parser.add_argument(
        "--preview",
        type=Path,
        default=None,
        help="only write a PNG contact sheet (every class at every difficulty) to this path",
    )
    args = parser.parse_args(argv)
    if args.preview is not None:
        print(f"wrote {preview(args.preview)}")
        return 0
    if args.out is None:
        parser.error("the output folder OUT is required (or --preview PATH)")
    try:
        bench = generate(
            args.out,
            seed=args.seed,
            test_seed=args.test_seed,
            test_per_class=args.test_per_class,
            size=args.size,
            scale=args.scale,
            progress=True,
        )
    except (FileExistsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"train: {sum(bench.train_counts)} samples, test: {bench.test_per_class * len(CLASSES)} samples "
        f"under {bench.root}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
