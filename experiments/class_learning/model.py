"""The network trained by every condition: a small U-Net with a class head, and its pixel loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallUNet(nn.Module):
    """A 4-level U-Net (widths w, 2w, 4w, 8w) with a class head on the pooled bottleneck.

    ``detach_head=True`` stops the class loss at the head: it learns a linear probe of the
    bottleneck while the backbone trains on the pixel loss alone.
    """

    def __init__(self, num_classes: int, width: int = 8, detach_head: bool = False) -> None:
        super().__init__()
        w = [width * 2**i for i in range(4)]
        self.enc = nn.ModuleList(
            [_block(3, w[0]), _block(w[0], w[1]), _block(w[1], w[2]), _block(w[2], w[3])]
        )
        self.dec = nn.ModuleList(
            [_block(w[3] + w[2], w[2]), _block(w[2] + w[1], w[1]), _block(w[1] + w[0], w[0])]
        )
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


def weighted_pixel_loss(pix: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-sample pixel losses averaged with their class's weight: ``sum(w[y] * l) / sum(w[y])``.

    Normalised by the batch's weight sum, as ``CrossEntropyLoss(weight=...)`` is, so the loss keeps
    its scale whatever classes a batch holds.
    """
    w = weight.to(pix.device)[labels]
    return (w * pix).sum() / w.sum()


def logit_adjusted_ce(
    logits: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    """Cross-entropy on ``logits + tau * log(prior)`` (per sample): the logit-adjusted loss.

    Training against the prior-shifted logits makes the unshifted ones estimate a class-balanced
    posterior (Menon et al., ICLR 2021); ``prior`` is the training class frequency.
    """
    shift = tau * torch.log(prior.to(logits.device).clamp_min(1e-12))
    return F.cross_entropy(logits + shift, labels, reduction="none")
