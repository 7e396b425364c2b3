"""Class-aware training on a dis-audit manifest, end to end, on the CPU.

manifest -> ManifestDataset -> ClassBalancedSampler (first epoch) -> tiny segmentation net with
an auxiliary class head -> class-weighted CE + pixel loss -> per-class loss table every epoch ->
HardExampleSampler (fed every step, used from the second epoch on).

    python examples/make_example.py /tmp/example          # the bundled example dataset
    python examples/train_classes.py --manifest /tmp/example/manifest.parquet --epochs 3

``--short`` runs a couple of small steps per epoch (the test suite uses it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Run from a checkout without installing: make the repo root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from dis_audit.manifest import ManifestError
from dis_audit.torch import (
    ClassBalancedSampler,
    HardExampleSampler,
    ManifestDataset,
    PerClassLossTracker,
    SampleReadError,
    class_weights,
)


class TinySegNet(nn.Module):
    """A 3-level encoder-decoder with a classification head on the bottleneck (like BiRefNet's aux head)."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.enc1, self.enc2, self.enc3 = block(3, width), block(width, 2 * width), block(2 * width, 4 * width)
        self.dec2, self.dec1 = block(6 * width, 2 * width), block(3 * width, width)
        self.out = nn.Conv2d(width, 1, 1)
        self.cls = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        logits_cls = self.cls(e3.mean((2, 3)))
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[-2:]), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:]), e1], 1))
        return self.out(d1), logits_cls


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", required=True, type=Path, help="manifest parquet written by `dis-audit scan`")
    p.add_argument("--root", type=Path, default=None, help="dataset root (default: the one the manifest records)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--size", type=int, default=96, help="training resolution (square)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--short", action="store_true", help="tiny run: 32 px, 3 steps per epoch, no workers")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if args.short:
        args.size, args.workers = 32, 0
    torch.manual_seed(args.seed)
    try:
        # Unlabelled samples still train the mask (their class loss is ignored); the bundled
        # example also has a truncated image, which is stepped over and counted, not fatal.
        ds = ManifestDataset(
            args.manifest, root=args.root, size=(args.size, args.size), return_info=True, on_error="skip",
        )
    except (ManifestError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if len(ds) == 0:
        console.print(f"[red]error:[/red] {args.manifest} has no sample with a mask to train on")
        return 2

    counts = ds.class_counts()
    present = int((counts > 0).sum())
    console.print(
        f"{len(ds)} samples, {present} of {len(ds.vocabulary)} classes present, "
        f"{int((ds.labels < 0).sum())} unlabeled (ignored by the class loss)"
    )
    # Classes absent from the data get weight 0: they never appear as a target.
    weight = class_weights(counts, "effective", beta=0.999) if present else None
    steps = 3 if args.short else None
    num_samples = steps * args.batch_size if steps else len(ds)
    balanced = ClassBalancedSampler(ds.labels, power=0.5, num_samples=num_samples, seed=args.seed)
    hard = HardExampleSampler(ds.labels, num_samples=num_samples, seed=args.seed)
    tracker = PerClassLossTracker(ds.vocabulary, ignore_index=ds.ignore_index)

    model = TinySegNet(max(len(ds.vocabulary), 1))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        sampler = balanced if epoch == 0 else hard  # warm up balanced, then mine hard examples
        sampler.set_epoch(epoch)
        loader = DataLoader(
            ds, batch_size=args.batch_size, sampler=sampler, num_workers=args.workers,
            persistent_workers=False, drop_last=False,
        )
        tracker.reset()
        model.train()
        start, seen = time.perf_counter(), 0
        try:
            for images, masks, class_ids, info in loader:
                seg_logits, cls_logits = model(images)
                seg_ps = F.binary_cross_entropy_with_logits(seg_logits, masks, reduction="none").mean((1, 2, 3))
                valid = class_ids != ds.ignore_index
                if valid.any() and weight is not None:
                    ce = F.cross_entropy(cls_logits, class_ids, weight=weight, ignore_index=ds.ignore_index,
                                         reduction="sum")
                    loss_cls = ce / weight[class_ids[valid]].sum()
                else:
                    loss_cls = seg_ps.new_zeros(())
                loss = seg_ps.mean() + 0.3 * loss_cls
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                # Unweighted per-sample CE measures how hard a class is to classify.
                ce_ps = F.cross_entropy(cls_logits.detach(), class_ids.clamp(min=0), reduction="none")
                tracker.update(ce_ps, class_ids, difficulty=info["difficulty"], loss="cls")
                tracker.update(seg_ps.detach(), class_ids, difficulty=info["difficulty"], loss="seg")
                hard.update(info["index"], seg_ps.detach())
                seen += len(images)
        except SampleReadError as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 2
        dt = time.perf_counter() - start
        per_diff = {k.split("/", 1)[1]: v for k, v in tracker.compute().items() if k.startswith("loss_seg_difficulty/")}
        console.print(
            f"epoch {epoch} ({type(sampler).__name__}): {seen} samples in {dt:.1f}s, "
            f"seg loss by difficulty: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(per_diff.items()))
        )
        if tracker.losses:
            console.print(tracker.table(k=8, loss="seg"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
