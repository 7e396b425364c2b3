"""Loading the scanned splits, each condition's sample order, and one training + evaluation run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import torch
import torch.nn.functional as F

from dis_audit import ScanResult, scan
from dis_audit.torch import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClassBalancedSampler,
    DifficultyMixBatchSampler,
    HardExampleSampler,
    ManifestDataset,
    PerClassLossTracker,
    class_weights,
    per_class_mean,
    per_image_iou,
)

from .config import PIXEL_ONLY, PIXEL_WEIGHT_SCHEMES, Config, RunResult
from .data import DIFFICULTIES
from .metrics import pooled_iou, summary_metrics
from .model import SmallUNet, logit_adjusted_ce, pixel_loss_per_sample, weighted_pixel_loss

# ----------------------------------------------------------------------------- data


@dataclass
class Split:
    """A scanned split decoded into memory: the network's inputs and what it is measured against."""

    images: torch.Tensor  # N×3×H×W uint8
    masks: torch.Tensor  # N×1×H×W uint8 (0..255)
    labels: np.ndarray  # N int64
    difficulties: np.ndarray  # N str


def load_split(table: pa.Table, root: Path, size: int | None) -> Split:
    """Every sample of a scanned split, decoded once by ManifestDataset (the data is small)."""
    ds = ManifestDataset(table, root=root, size=size, output="uint8")
    items = [ds[i] for i in range(len(ds))]
    return Split(
        torch.stack([it[0] for it in items]),
        torch.stack([it[1] for it in items]),
        np.asarray(ds.labels, dtype=np.int64),
        np.asarray(ds.difficulties).astype(str),
    )


def scan_clean(root: Path, classes_file: Path) -> ScanResult:
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
    if condition in ("d", "i"):
        return math.ceil(n / HARD_ROUNDS_PER_EPOCH), HARD_ROUNDS_PER_EPOCH
    if condition == "e":  # DifficultyMixBatchSampler yields whole batches only (len // batch_size)
        return (n // batch_size) * batch_size, 1
    return n, 1


def hard_example_sampler(labels: np.ndarray, cfg: Config, seed: int) -> HardExampleSampler:
    """Condition (d)'s and (i)'s sampler: a draw of a quarter epoch at a time from the latest losses."""
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


def deferred_start(cfg: Config, n: int) -> int:
    """(j): the first round drawn class-balanced, the first epoch start in the last ``defer_share``."""
    return math.ceil(cfg.samples * (1 - cfg.defer_share) / n)


def batches(
    condition: str, train: Split, cfg: Config, seed: int, hard: HardExampleSampler | None
) -> Iterator[tuple[int, np.ndarray]]:
    """``(epoch, indices)`` batches until ``cfg.samples`` samples were drawn."""
    n = len(train.labels)
    per_round, rounds_per_epoch = _round_lengths(condition, n, cfg.batch_size)
    rounds = math.ceil(cfg.samples / per_round)
    epochs = math.ceil(rounds / rounds_per_epoch)
    sampler: Any  # each condition's own sampler type; (a) and (b) need none
    if condition in ("c", "f", "h"):
        sampler = ClassBalancedSampler(train.labels, power=cfg.balance_power, seed=seed)
    elif condition == "j":
        sampler = ClassBalancedSampler(train.labels, power=cfg.defer_power, seed=seed)
    elif condition == "e":
        sampler = DifficultyMixBatchSampler(
            train.difficulties, cfg.batch_size, schedule=curriculum(epochs), seed=seed
        )
    else:
        sampler = hard
    left = cfg.samples
    for r in range(rounds):
        natural = condition in ("a", "b", "g", "g-inv", "k")
        if natural or (condition == "j" and r < deferred_start(cfg, n)):
            order = np.random.default_rng([seed, r]).permutation(n)
        elif condition == "e":
            sampler.set_epoch(r)
            order = np.concatenate([np.asarray(b) for b in sampler])
        else:
            sampler.set_epoch(r)  # for (d) a new draw from the weights as updated so far
            order = sampler.draw()  # (j): class-balanced from its deferred start on
        order = order[: min(len(order), left)]
        for start in range(0, len(order), cfg.batch_size):
            yield r // rounds_per_epoch, order[start : start + cfg.batch_size]
        left -= len(order)


def _augment(
    images: torch.Tensor, masks: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal and vertical flips per sample."""
    for dim in (3, 2):
        flip = torch.rand(len(images), generator=gen) < 0.5
        images[flip] = images[flip].flip(dim)
        masks[flip] = masks[flip].flip(dim)
    return images, masks


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``N×3×H×W`` images as the network's float input (ImageNet mean/std, channels-last)."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((images.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)


def train_and_evaluate(
    condition: str,
    seed: int,
    train: Split,
    test: Split,
    test_inputs: torch.Tensor,
    class_names: Sequence[str],
    train_counts: Sequence[int],
    cfg: Config,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Train one condition from seed ``seed`` and measure it on the test split.

    ``log`` gets one progress line per epoch (mean pixel loss and the class that is hardest to segment).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    device = torch.device(cfg.device)
    torch.manual_seed(seed)  # same initial weights for every condition of one seed
    n_classes = len(class_names)
    # Module.to accepts memory_format at run time; the type stubs leave it out.
    model = SmallUNet(n_classes, cfg.width, detach_head=condition in PIXEL_ONLY).to(
        device, memory_format=torch.channels_last
    )  # type: ignore[call-overload]
    steps = count_steps(condition, len(train.labels), cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    counts = np.bincount(train.labels, minlength=n_classes)
    weight = (
        class_weights(counts, cfg.weight_scheme, beta=cfg.weight_beta).to(device) if condition == "c" else None
    )
    pixel_weight = (
        class_weights(counts, PIXEL_WEIGHT_SCHEMES[condition]) if condition in PIXEL_WEIGHT_SCHEMES else None
    )
    prior = torch.as_tensor(counts / counts.sum(), dtype=torch.float32, device=device)
    hard = hard_example_sampler(train.labels, cfg, seed) if condition in ("d", "i") else None
    tracker = PerClassLossTracker(class_names, difficulties=DIFFICULTIES)
    gen = torch.Generator().manual_seed(seed)
    epoch_log: list[dict[str, float | None]] = []
    current, seen = 0, 0

    def close_epoch(epoch: int) -> None:
        row = {"epoch": epoch, **tracker.compute()}
        if log is not None:
            seg = {
                k.split("/", 1)[1]: v
                for k, v in row.items()
                if k.startswith("loss_seg/") and not math.isnan(v)
            }
            hardest = max(seg, key=lambda name: seg[name])
            log(
                f"  ({condition}) seed {seed} epoch {epoch}: pixel loss {np.mean(list(seg.values())):.3f} "
                f"(class mean), hardest class {hardest} {seg[hardest]:.3f}"
            )
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
        dev_labels = labels.to(device)
        logits, logits_cls = model(normalize(images.to(device)))
        pix = pixel_loss_per_sample(logits, masks.to(device).float() / 255)
        if condition == "k":
            ce = logit_adjusted_ce(logits_cls, dev_labels, prior, cfg.la_tau)
        else:
            ce = F.cross_entropy(logits_cls, dev_labels, weight=weight, reduction="none")
        # With weights, normalise like CrossEntropyLoss(weight=...) does: by the weights' sum.
        cls_loss = ce.sum() / weight[dev_labels].sum() if weight is not None else ce.mean()
        pix_loss = pix.mean() if pixel_weight is None else weighted_pixel_loss(pix, dev_labels, pixel_weight)
        loss = pix_loss + cfg.aux_weight * cls_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        pix_cpu = pix.detach().cpu()
        if hard is not None:
            hard.update(idx, pix_cpu)
        difficulty = [str(d) for d in train.difficulties[idx]]
        tracker.update(pix_cpu, labels, difficulty=difficulty, loss="seg")
        tracker.update(
            F.cross_entropy(logits_cls.detach().cpu(), labels, reduction="none"),
            labels,
            difficulty=difficulty,
            loss="cls",
        )
        seen += len(idx)
    close_epoch(current)

    model.eval()
    ious, correct, preds = [], [], []
    with torch.no_grad():
        for start in range(0, len(test.labels), 32):
            logits, logits_cls = model(test_inputs[start : start + 32].to(device))
            full = F.interpolate(logits, size=test.masks.shape[-2:], mode="bilinear", align_corners=False)
            pred = (full[:, 0] > 0).cpu()
            target = test.masks[start : start + 32, 0] > 127
            ious.append(per_image_iou(pred, target))
            preds.append(pred)
            correct.append(logits_cls.argmax(1).cpu().numpy() == test.labels[start : start + 32])
    image_iou = torch.cat(ious).numpy()
    class_iou = per_class_mean(image_iou, test.labels, num_classes=n_classes)
    metrics = summary_metrics(class_iou, train_counts)
    return RunResult(
        condition=condition,
        seed=seed,
        class_iou=[float(v) for v in class_iou],
        pixel_iou=pooled_iou(torch.cat(preds), test.masks[:, 0] > 127),
        aux_accuracy=float(np.concatenate(correct).mean()),
        wall_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu_started,
        samples_seen=seen,
        difficulty_iou={
            d: float(image_iou[test.difficulties == d].mean()) for d in np.unique(test.difficulties)
        },
        epoch_log=epoch_log,
        **metrics,
    )
