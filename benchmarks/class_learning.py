"""Does class-aware training help segmentation? A controlled experiment on generated data.

The data (``class_learning_data.py``): 20 classes of thin/complex DIS-like objects, a long-tailed
training split (150 down to 3 images per class, easy/medium/hard folders) and a balanced test
split from another seed. The pipeline is the one users run: ``dis_audit.scan`` (must be clean)
→ ``ManifestDataset`` → a sampler from ``dis_audit.torch`` → a small U-Net with an auxiliary class
head on the bottleneck. Every condition sees the same number of training samples:

    a  natural   natural order (a permutation per epoch), pixel loss only — BiRefNet's default.
                 The class head trains on detached features (a linear probe), so it reports an
                 accuracy without touching the segmentation network.
    b  aux       natural order + auxiliary CE (unweighted) into the backbone.
    c  balanced  ClassBalancedSampler(power=0.5) + CE weighted by class_weights(..., "effective").
    d  hard      HardExampleSampler fed the per-sample pixel loss every step, + aux CE.
    e  curriculum DifficultyMixBatchSampler whose mix moves from easy to hard, + aux CE.
    f  (ablation, not run by default) (c)'s sampler with the unweighted aux CE of (b).

Metrics on the balanced test set (threshold 0.5, full 256×256 resolution): per-class IoU (the
mean of per-image IoU over the class's test images), mean IoU over classes, mean IoU of the 5
rarest training classes and of the run's 5 worst classes, pooled pixel IoU, aux-head accuracy,
wall time. Per-class pixel and class losses are logged per epoch with PerClassLossTracker.

    python benchmarks/class_learning.py                 # the full run (docs/class_learning.md)
    python benchmarks/class_learning.py --quick         # a smoke run in seconds

Writes ``results.json``, ``table.md`` and ``per_class_iou.svg`` into ``--out``.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# Run from a checkout without installing: make the repo root and this folder importable.
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import class_learning_data as data  # noqa: E402
from dis_audit import scan  # noqa: E402
from dis_audit.manifest import atomic_write_bytes  # noqa: E402
from dis_audit.torch import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClassBalancedSampler,
    DifficultyMixBatchSampler,
    HardExampleSampler,
    ManifestDataset,
    PerClassLossTracker,
    class_weights,
)

CONDITIONS = {
    "a": "natural, pixel loss only",
    "b": "natural + aux CE",
    "c": "class-balanced (p=0.5) + effective-number CE",
    "d": "hard-example sampler + aux CE",
    "e": "difficulty curriculum + aux CE",
    # Not in the default run: an ablation that separates (c)'s sampler from its class weights.
    "f": "class-balanced (p=0.5) + aux CE (unweighted)",
}
DEFAULT_CONDITIONS = ("a", "b", "c", "d", "e")
#: Legend labels for the plot.
SHORT_NAMES = {"a": "natural, pixel loss only", "b": "natural + aux CE", "c": "balanced + weighted CE",
               "d": "hard-example + aux CE", "e": "curriculum + aux CE", "f": "balanced + aux CE"}
#: Columns of the results table, in order (the test suite checks them).
TABLE_COLUMNS = (
    "condition",
    "mean IoU (classes)",
    "rarest-5 IoU",
    "worst-5 IoU",
    "pixel IoU",
    "aux accuracy",
    "wall s / run",
)


@dataclass
class Config:
    """Everything that decides a run's result (recorded in results.json)."""

    samples: int = 6000  # training samples seen per run, identical for every condition
    batch_size: int = 16
    train_size: int = 128  # network input side; the data is 256×256
    image_size: int = 256
    width: int = 8  # channels of the first U-Net level (doubling per level)
    lr: float = 3e-3
    aux_weight: float = 0.3
    balance_power: float = 0.5
    weight_scheme: str = "effective"  # class_weights scheme of condition (c)
    weight_beta: float = 0.999
    # A sample is seen about once per epoch: a low EMA momentum lets its score follow the current
    # network instead of remembering its loss under the random initialisation.
    hard_momentum: float = 0.5
    seeds: tuple[int, ...] = (0, 1, 2)
    conditions: tuple[str, ...] = DEFAULT_CONDITIONS
    data_seed: int = 0
    test_seed: int = 1000
    test_per_class: int = 12
    data_scale: float = 1.0
    threads: int = 2


QUICK = dict(samples=160, batch_size=8, train_size=32, image_size=64, width=4, seeds=(0, 1),
             test_per_class=2, data_scale=0.05)


# ----------------------------------------------------------------------------- metrics


def iou_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of boolean masks ``B×H×W`` per image; an image where both are empty scores 1."""
    pred, target = pred.reshape(len(pred), -1).bool(), target.reshape(len(target), -1).bool()
    inter = (pred & target).sum(1).double()
    union = (pred | target).sum(1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def pooled_iou(pred: torch.Tensor, target: torch.Tensor) -> float:
    """IoU over all pixels of all images together."""
    pred, target = pred.bool(), target.bool()
    union = int((pred | target).sum())
    return float((pred & target).sum()) / union if union else 1.0


def per_class_mean(values: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, n_classes: int) -> np.ndarray:
    """Mean of ``values`` per class id (NaN for a class without values)."""
    values, labels = np.asarray(values, dtype=np.float64), np.asarray(labels)
    out = np.full(n_classes, np.nan)
    for c in range(n_classes):
        hit = labels == c
        if hit.any():
            out[c] = values[hit].mean()
    return out


def summary_metrics(class_iou: np.ndarray, train_counts: Sequence[int], k: int = 5) -> dict[str, float]:
    """Mean over classes, mean of the ``k`` rarest training classes and of the ``k`` worst classes."""
    counts = np.asarray(train_counts)
    rarest = np.lexsort((np.arange(len(counts)), counts))[:k]  # fewest samples first, ties by id
    return {
        "mean_iou": float(np.nanmean(class_iou)),
        "rarest5_iou": float(np.nanmean(class_iou[rarest])),
        "worst5_iou": float(np.sort(class_iou[~np.isnan(class_iou)])[:k].mean()),
    }


# ----------------------------------------------------------------------------- model


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class SmallUNet(nn.Module):
    """A 4-level U-Net (widths w, 2w, 4w, 8w) with a class head on the pooled bottleneck.

    ``detach_head=True`` stops the class loss at the head: it learns a linear probe of the
    bottleneck while the backbone trains on the pixel loss alone.
    """

    def __init__(self, num_classes: int, width: int = 8, detach_head: bool = False) -> None:
        super().__init__()
        w = [width * 2**i for i in range(4)]
        self.enc = nn.ModuleList([_block(3, w[0]), _block(w[0], w[1]), _block(w[1], w[2]), _block(w[2], w[3])])
        self.dec = nn.ModuleList([_block(w[3] + w[2], w[2]), _block(w[2] + w[1], w[1]), _block(w[1] + w[0], w[0])])
        self.out = nn.Conv2d(w[0], 1, 1)
        self.cls = nn.Linear(w[3], num_classes)
        self.detach_head = detach_head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        pooled = x.mean((2, 3))
        logits_cls = self.cls(pooled.detach() if self.detach_head else pooled)
        for block, skip in zip(self.dec, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], 1))
        return self.out(x), logits_cls


def pixel_loss_per_sample(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft IoU loss per sample (BiRefNet's pixel loss without the SSIM/structure terms)."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2, 3))
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum((1, 2, 3))
    union = (prob + target - prob * target).sum((1, 2, 3))
    return bce + 1 - (inter + 1) / (union + 1)


# ----------------------------------------------------------------------------- data


@dataclass
class Split:
    images: torch.Tensor  # N×3×H×W uint8
    masks: torch.Tensor  # N×1×H×W uint8 (0..255)
    labels: np.ndarray  # N int64
    difficulties: np.ndarray  # N str


def load_split(table, root: Path, size: int | None) -> Split:
    """Every sample of a scanned split, decoded once by ManifestDataset (the data is small)."""
    ds = ManifestDataset(table, root=root, size=size, output="uint8")
    items = [ds[i] for i in range(len(ds))]
    return Split(
        torch.stack([it[0] for it in items]),
        torch.stack([it[1] for it in items]),
        np.asarray(ds.labels, dtype=np.int64),
        np.asarray(ds.difficulties).astype(str),
    )


def scan_clean(root: Path, classes_file: Path) -> object:
    """Scan a split with the benchmark's class list; any finding means the generator is broken."""
    result = scan(root, classes=classes_file, workers=1)
    if result.findings:
        codes = sorted({f.code for f in result.findings})
        raise SystemExit(f"error: the generated data under {root} has findings {codes}; regenerate it")
    result.write_manifest()
    return result


# ----------------------------------------------------------------------------- training


def curriculum(epochs: int) -> Callable[[int], dict[str, float]]:
    """Difficulty mix by training progress: mostly easy first, mostly hard at the end."""

    def mix(epoch: int) -> dict[str, float]:
        p = epoch / max(epochs - 1, 1)
        return {"easy": 0.6 - 0.4 * p, "medium": 0.3, "hard": 0.1 + 0.4 * p}

    return mix


#: The hard-example sampler redraws this many times per epoch, so it follows the losses closely.
HARD_ROUNDS_PER_EPOCH = 4


def _round_lengths(condition: str, n: int, batch_size: int) -> tuple[int, int]:
    """``(samples per draw, draws per epoch)`` of a condition's sampler."""
    if condition == "d":
        return math.ceil(n / HARD_ROUNDS_PER_EPOCH), HARD_ROUNDS_PER_EPOCH
    if condition == "e":  # DifficultyMixBatchSampler yields whole batches only (len // batch_size)
        return (n // batch_size) * batch_size, 1
    return n, 1


def hard_example_sampler(labels: np.ndarray, cfg: Config, seed: int) -> HardExampleSampler:
    """Condition (d)'s sampler: a draw of a quarter epoch at a time from the latest losses."""
    per_round, _ = _round_lengths("d", len(labels), cfg.batch_size)
    return HardExampleSampler(labels, num_samples=per_round, momentum=cfg.hard_momentum, seed=seed)


def count_steps(condition: str, n: int, cfg: Config) -> int:
    """Optimizer steps :func:`batches` will yield (the learning-rate schedule needs it up front)."""
    per_round, _ = _round_lengths(condition, n, cfg.batch_size)
    left, steps = cfg.samples, 0
    while left > 0:
        take = min(per_round, left)
        steps += math.ceil(take / cfg.batch_size)
        left -= take
    return steps


def batches(condition: str, train: Split, cfg: Config, seed: int, hard: HardExampleSampler | None) -> Iterator[tuple[int, np.ndarray]]:
    """``(epoch, indices)`` batches until ``cfg.samples`` samples were drawn."""
    n = len(train.labels)
    per_round, rounds_per_epoch = _round_lengths(condition, n, cfg.batch_size)
    rounds = math.ceil(cfg.samples / per_round)
    epochs = math.ceil(rounds / rounds_per_epoch)
    if condition in ("c", "f"):
        sampler = ClassBalancedSampler(train.labels, power=cfg.balance_power, seed=seed)
    elif condition == "e":
        sampler = DifficultyMixBatchSampler(train.difficulties, cfg.batch_size, schedule=curriculum(epochs), seed=seed)
    else:
        sampler = hard
    left = cfg.samples
    for r in range(rounds):
        if condition in ("a", "b"):
            order = np.random.default_rng([seed, r]).permutation(n)
        elif condition == "e":
            sampler.set_epoch(r)
            order = np.concatenate([np.asarray(b) for b in sampler])
        else:
            sampler.set_epoch(r)  # for (d) a new draw from the weights as updated so far
            order = sampler.draw()
        order = order[: min(len(order), left)]
        for start in range(0, len(order), cfg.batch_size):
            yield r // rounds_per_epoch, order[start : start + cfg.batch_size]
        left -= len(order)


@dataclass
class RunResult:
    condition: str
    seed: int
    class_iou: list[float]
    mean_iou: float
    rarest5_iou: float
    worst5_iou: float
    pixel_iou: float
    aux_accuracy: float
    wall_s: float
    samples_seen: int
    difficulty_iou: dict[str, float] = field(default_factory=dict)
    epoch_log: list[dict[str, float]] = field(default_factory=list)


def _augment(images: torch.Tensor, masks: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal and vertical flips per sample."""
    for dim in (3, 2):
        flip = torch.rand(len(images), generator=gen) < 0.5
        images[flip] = images[flip].flip(dim)
        masks[flip] = masks[flip].flip(dim)
    return images, masks


def _normalize(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((images.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)


def train_and_evaluate(condition: str, seed: int, train: Split, test: Split, test_inputs: torch.Tensor,
                       class_names: Sequence[str], train_counts: Sequence[int], cfg: Config,
                       log: Callable[[str], None] | None = None) -> RunResult:
    """Train one condition from seed ``seed`` and measure it on the test split.

    ``log`` gets one progress line per epoch (mean pixel loss and the class that is hardest to segment).
    """
    started = time.perf_counter()
    torch.manual_seed(seed)  # same initial weights for every condition of one seed
    n_classes = len(class_names)
    model = SmallUNet(n_classes, cfg.width, detach_head=condition == "a").to(memory_format=torch.channels_last)
    steps = count_steps(condition, len(train.labels), cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    weight = class_weights(np.bincount(train.labels, minlength=n_classes), cfg.weight_scheme, beta=cfg.weight_beta) \
        if condition == "c" else None
    hard = hard_example_sampler(train.labels, cfg, seed) if condition == "d" else None
    tracker = PerClassLossTracker(class_names, difficulties=data.DIFFICULTIES)
    gen = torch.Generator().manual_seed(seed)
    epoch_log: list[dict[str, float]] = []
    current, seen = 0, 0

    def close_epoch(epoch: int) -> None:
        row = {"epoch": epoch, **tracker.compute()}
        if log is not None:
            seg = {k.split("/", 1)[1]: v for k, v in row.items() if k.startswith("loss_seg/") and not math.isnan(v)}
            hardest = max(seg, key=seg.get)
            log(f"  ({condition}) seed {seed} epoch {epoch}: pixel loss {np.mean(list(seg.values())):.3f} "
                f"(class mean), hardest class {hardest} {seg[hardest]:.3f}")
        epoch_log.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
        tracker.reset()

    model.train()
    for epoch, idx in batches(condition, train, cfg, seed, hard):
        if epoch != current:
            close_epoch(current)
            current = epoch
        index = torch.as_tensor(idx, dtype=torch.long)
        images, masks = _augment(train.images[index].clone(), train.masks[index].clone(), gen)
        labels = torch.as_tensor(train.labels[idx])
        logits, logits_cls = model(_normalize(images))
        pix = pixel_loss_per_sample(logits, masks.float() / 255)
        ce = F.cross_entropy(logits_cls, labels, weight=weight, reduction="none")
        # With weights, normalise like CrossEntropyLoss(weight=...) does: by the weights' sum.
        cls_loss = ce.sum() / weight[labels].sum() if weight is not None else ce.mean()
        loss = pix.mean() + cfg.aux_weight * cls_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if hard is not None:
            hard.update(idx, pix.detach())
        difficulty = [str(d) for d in train.difficulties[idx]]
        tracker.update(pix.detach(), labels, difficulty=difficulty, loss="seg")
        tracker.update(F.cross_entropy(logits_cls.detach(), labels, reduction="none"), labels, difficulty=difficulty,
                       loss="cls")
        seen += len(idx)
    close_epoch(current)

    model.eval()
    ious, correct, preds = [], [], []
    with torch.no_grad():
        for start in range(0, len(test.labels), 32):
            logits, logits_cls = model(test_inputs[start : start + 32])
            full = F.interpolate(logits, size=test.masks.shape[-2:], mode="bilinear", align_corners=False)
            pred = full[:, 0] > 0
            target = test.masks[start : start + 32, 0] > 127
            ious.append(iou_per_image(pred, target))
            preds.append(pred)
            correct.append(logits_cls.argmax(1).numpy() == test.labels[start : start + 32])
    image_iou = torch.cat(ious).numpy()
    class_iou = per_class_mean(image_iou, test.labels, n_classes)
    metrics = summary_metrics(class_iou, train_counts)
    return RunResult(
        condition=condition,
        seed=seed,
        class_iou=[float(v) for v in class_iou],
        pixel_iou=pooled_iou(torch.cat(preds), test.masks[:, 0] > 127),
        aux_accuracy=float(np.concatenate(correct).mean()),
        wall_s=time.perf_counter() - started,
        samples_seen=seen,
        difficulty_iou={d: float(image_iou[test.difficulties == d].mean()) for d in np.unique(test.difficulties)},
        epoch_log=epoch_log,
        **metrics,
    )


# ----------------------------------------------------------------------------- reporting

_METRIC_KEYS = ("mean_iou", "rarest5_iou", "worst5_iou", "pixel_iou", "aux_accuracy", "wall_s")


def aggregate(runs: Sequence[RunResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per condition: metric → (mean, sample std over seeds; 0 with one seed)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for cond in dict.fromkeys(r.condition for r in runs):
        rows = [r for r in runs if r.condition == cond]
        out[cond] = {}
        for key in _METRIC_KEYS:
            vals = np.array([getattr(r, key) for r in rows], dtype=np.float64)
            out[cond][key] = (float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0)
    return out


def paired_differences(runs: Sequence[RunResult], baseline: str, key: str = "mean_iou") -> dict[str, tuple[float, float]]:
    """Per condition: mean and sample std over seeds of ``metric(condition) - metric(baseline)`` (same seed)."""
    by = {(r.condition, r.seed): getattr(r, key) for r in runs}
    out = {}
    for cond in dict.fromkeys(r.condition for r in runs):
        diffs = np.array([by[(cond, s)] - by[(baseline, s)] for (c, s) in by if c == cond and (baseline, s) in by])
        if len(diffs):
            out[cond] = (float(diffs.mean()), float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0)
    return out


def all_paired_differences(runs: Sequence[RunResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{"<metric>_vs_<a|b>": paired_differences(...)}`` for the summary IoUs, against (a) and (b) when run."""
    conditions = {r.condition for r in runs}
    return {f"{key}_vs_{base}": paired_differences(runs, base, key)
            for base in ("a", "b") if base in conditions and len(conditions) > 1 for key in _PAIRED_KEYS}


def condition_labels(config: dict) -> dict[str, str]:
    """Table labels for a run's config: the defaults, with any changed class-loss setting spelled out."""
    labels = dict(CONDITIONS)
    scheme = config.get("weight_scheme", Config.weight_scheme)
    if scheme != Config.weight_scheme or config.get("weight_beta", Config.weight_beta) != Config.weight_beta:
        beta = f", beta={config['weight_beta']}" if scheme == "effective" else ""
        labels["c"] = f"class-balanced (p={config.get('balance_power', 0.5)}) + {scheme}-weighted CE{beta}"
    aux = config.get("aux_weight", Config.aux_weight)
    if aux != Config.aux_weight:
        labels = {c: (text if c == "a" else f"{text} [aux weight {aux}]") for c, text in labels.items()}
    return labels


def markdown_table(runs: Sequence[RunResult], labels: dict[str, str] | None = None) -> str:
    """The results table: mean ± std over seeds for every condition."""
    agg = aggregate(runs)
    labels = labels or CONDITIONS
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for cond, m in agg.items():
        cells = [f"({cond}) {labels[cond]}"]
        for key in _METRIC_KEYS:
            mean, std = m[key]
            cells.append(f"{mean:.0f} ± {std:.0f}" if key == "wall_s" else f"{mean:.3f} ± {std:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def per_class_table(runs: Sequence[RunResult], class_names: Sequence[str], train_counts: Sequence[int]) -> str:
    """Per-class IoU (mean over seeds) per condition, classes from most to least frequent."""
    conds = list(dict.fromkeys(r.condition for r in runs))
    lines = ["| class | train images | " + " | ".join(f"({c})" for c in conds) + " |",
             "|---|---:|" + "---:|" * len(conds)]
    for cid in sorted(range(len(class_names)), key=lambda c: (-train_counts[c], c)):
        cells = [class_names[cid], str(train_counts[cid])]
        for c in conds:
            cells.append(f"{np.mean([r.class_iou[cid] for r in runs if r.condition == c]):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_PAIRED_KEYS = ("mean_iou", "rarest5_iou", "worst5_iou")


def paired_table(paired: dict[str, dict[str, tuple[float, float]]]) -> str:
    """Markdown: per condition, the same-seed difference to (a) and (b), mean ± std over seeds."""
    cols = list(paired)
    if not cols:  # neither (a) nor (b) was run
        return ""
    conds = list(dict.fromkeys(c for k in cols for c in paired[k]))
    lines = ["| condition | " + " | ".join(k.replace("_vs_", " − (") + ")" for k in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for c in conds:
        cells = [f"({c})"]
        for k in cols:
            m = paired[k].get(c)
            if m is None or k.endswith(f"_vs_{c}"):
                cells.append("—")
            else:
                text = f"{m[0]:+.3f} ± {m[1]:.3f}"
                cells.append(f"**{text}**" if abs(m[0]) > 2 * m[1] else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("\nSame-seed differences, mean ± std over seeds; **bold**: |mean| > 2 × std (beyond the seed spread).")
    return "\n".join(lines) + "\n"


_COLOURS = {"a": "#444444", "b": "#1f77b4", "c": "#d62728", "d": "#2ca02c", "e": "#9467bd", "f": "#ff7f0e"}


def svg_plot(runs: Sequence[RunResult], train_counts: Sequence[int], title: str) -> str:
    """Per-class IoU (mean over seeds) against training images per class (log axis), one line per condition."""
    W, H, left, right, top, bottom = 760, 440, 60, 210, 36, 50
    pw, ph = W - left - right, H - top - bottom
    counts = np.asarray(train_counts, dtype=np.float64)
    lo, hi = math.log10(max(counts.min(), 1) * 0.8), math.log10(counts.max() * 1.25)

    def px(count: float) -> float:
        return left + (math.log10(count) - lo) / (hi - lo) * pw

    def py(iou: float) -> float:
        return top + (1 - iou) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">{html.escape(title, quote=False)}</text>']
    for v in np.linspace(0, 1, 6):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    for tick in (1, 2, 3, 5, 10, 20, 30, 50, 100, 150, 200, 300, 500):
        if lo <= math.log10(tick) <= hi:
            x = px(tick)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>')
            out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{tick}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{left + pw / 2}" y="{H - 10}" text-anchor="middle">training images of the class (log)</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 {top + ph / 2})">'
               'test IoU of the class (mean over seeds)</text>')
    order = np.argsort(counts, kind="stable")
    conds = list(dict.fromkeys(r.condition for r in runs))
    for k, cond in enumerate(conds):
        colour = _COLOURS.get(cond, "#000")
        iou = np.mean([r.class_iou for r in runs if r.condition == cond], axis=0)
        pts = [(px(counts[c]), py(iou[c])) for c in order if not math.isnan(iou[c])]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" stroke-opacity="0.6" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        ly = top + 14 + 18 * k
        out.append(f'<circle cx="{left + pw + 16}" cy="{ly - 4}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{left + pw + 26}" y="{ly}">({cond}) {html.escape(SHORT_NAMES[cond], quote=False)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


# ----------------------------------------------------------------------------- main


def prepare_data(data_dir: Path, cfg: Config) -> data.GeneratedBenchmark:
    """Generate the benchmark data once; reuse it when it was generated with the same parameters."""
    params = {"seed": cfg.data_seed, "test_seed": cfg.test_seed, "test_per_class": cfg.test_per_class,
              "size": cfg.image_size, "scale": cfg.data_scale, "generator": 2}
    stamp = data_dir / "params.json"
    if stamp.exists():
        if json.loads(stamp.read_text()) != params:
            raise SystemExit(f"error: {data_dir} holds data generated with other parameters; use another --data")
        counts = data.train_counts(scale=cfg.data_scale)
        return data.GeneratedBenchmark(data_dir, data_dir / "train", data_dir / "test", data_dir / "classes.txt",
                                       counts, cfg.test_per_class)
    print(f"generating the benchmark data in {data_dir} ...", file=sys.stderr)
    bench = data.generate(data_dir, seed=cfg.data_seed, test_seed=cfg.test_seed, test_per_class=cfg.test_per_class,
                          size=cfg.image_size, scale=cfg.data_scale)
    _write_text(stamp, json.dumps(params))
    return bench


def run_experiment(cfg: Config, out: Path, data_dir: Path, log: Callable[[str], None] = print) -> list[RunResult]:
    """Generate/scan the data, run every (condition, seed), write results.json, table.md and the SVG."""
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    bench = prepare_data(data_dir, cfg)
    class_names = list(data.CLASS_NAMES)
    train_scan = scan_clean(bench.train_root, bench.classes_file)
    test_scan = scan_clean(bench.test_root, bench.classes_file)
    train = load_split(train_scan.table, bench.train_root, cfg.train_size)
    # The network sees the test images decoded and resized exactly like the training images;
    # IoU is measured against the masks at full size.
    test = load_split(test_scan.table, bench.test_root, None)
    test_inputs = _normalize(load_split(test_scan.table, bench.test_root, cfg.train_size).images)
    counts = np.bincount(train.labels, minlength=len(class_names)).tolist()
    log(f"train {len(train.labels)} samples ({min(counts)}..{max(counts)} per class), "
        f"test {len(test.labels)} ({cfg.test_per_class} per class); scans clean")

    machine = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or
               platform.machine(), "cores": os.cpu_count(), "threads": cfg.threads}
    runs: list[RunResult] = []
    total = len(cfg.seeds) * len(cfg.conditions)
    for seed in cfg.seeds:
        for cond in cfg.conditions:
            r = train_and_evaluate(cond, seed, train, test, test_inputs, class_names, counts, cfg, log)
            runs.append(r)
            log(f"({cond}) seed {seed}: mean IoU {r.mean_iou:.3f}, rarest-5 {r.rarest5_iou:.3f}, "
                f"worst-5 {r.worst5_iou:.3f}, pixel {r.pixel_iou:.3f}, aux acc {r.aux_accuracy:.3f}, "
                f"{r.wall_s:.0f} s [{len(runs)}/{total}]")
            # Saved after every run, so an interrupted experiment keeps what it finished.
            report = {"config": asdict(cfg), "machine": machine, "class_names": class_names, "train_counts": counts,
                      "complete": len(runs) == total, "aggregate": aggregate(runs),
                      "paired": all_paired_differences(runs), "runs": [asdict(r) for r in runs]}
            _write_text(out / "results.json", json.dumps(report, indent=1))
    log("\n" + write_outputs(report, out))
    return runs


def write_outputs(report: dict, out: Path) -> str:
    """Write ``table.md`` and ``per_class_iou.svg`` from a results.json report; return the tables."""
    runs = [RunResult(**r) for r in report["runs"]]
    tables = markdown_table(runs, condition_labels(report["config"])) + "\n" + paired_table(all_paired_differences(runs))
    _write_text(out / "table.md", tables + "\n" + per_class_table(runs, report["class_names"], report["train_counts"]))
    seeds = len({r.seed for r in runs})
    _write_text(out / "per_class_iou.svg", svg_plot(runs, report["train_counts"], (
        f"Per-class test IoU vs class frequency ({seeds} seeds, {report['config']['samples']} samples/run)")))
    return tables


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data, tiny net, 2 seeds: a smoke run in seconds")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results/class_learning"
                        "[-quick])")
    parser.add_argument("--data", type=Path, default=None, help="generated data folder (default OUT/data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--conditions", nargs="+", choices=sorted(CONDITIONS), default=None)
    parser.add_argument("--samples", type=_positive_int, default=None, help="training samples seen per run")
    parser.add_argument("--retable", action="store_true",
                        help="only rebuild table.md and the SVG from OUT/results.json (no training)")
    parser.add_argument("--aux-weight", type=float, default=None, help="weight of the auxiliary class loss (0.3)")
    parser.add_argument("--weight-scheme", choices=("effective", "sqrt", "inverse"), default=None,
                        help="class_weights scheme of condition (c) (effective)")
    parser.add_argument("--weight-beta", type=float, default=None, help="beta of the effective-number scheme (0.999)")
    parser.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default 2)")
    args = parser.parse_args(argv)

    cfg = Config(**QUICK) if args.quick else Config()
    for name in ("seeds", "conditions"):
        if getattr(args, name):
            setattr(cfg, name, tuple(getattr(args, name)))
    if args.samples:
        cfg.samples = args.samples
    if args.aux_weight is not None:
        cfg.aux_weight = args.aux_weight
    if args.weight_scheme:
        cfg.weight_scheme = args.weight_scheme
    if args.weight_beta is not None:
        cfg.weight_beta = args.weight_beta
    if args.threads:
        cfg.threads = args.threads
    out = args.out or HERE / "results" / ("class_learning-quick" if args.quick else "class_learning")
    data_dir = args.data or out / "data"
    started = time.perf_counter()
    try:
        if args.retable:
            print(write_outputs(json.loads((out / "results.json").read_text(encoding="utf-8")), out))
            return 0
        run_experiment(cfg, out, data_dir)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"total {time.perf_counter() - started:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
