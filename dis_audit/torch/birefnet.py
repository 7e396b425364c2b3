"""Class learning inside BiRefNet's own ``train.py``: the adapter that docs/birefnet.md patches in.

BiRefNet keeps loading and augmenting its images (``dataset.MyData``); this module adds what the
manifest knows and BiRefNet does not:

* labels from the manifest, aligned to ``MyData.image_paths`` (BiRefNet's own sample order), with
  ``class_id`` -1 turned into ``ignore_index``, so relabelled and unknown classes train as the
  manifest says instead of raising ``KeyError`` in ``MyData.__getitem__``;
* an epoch-seeded sampler (shuffle, class-balanced, hard-example or difficulty-mix) that gives
  each process its own share of one global order exactly once per epoch, plain, under
  ``torchrun`` (``DistributedDataParallel``) and under HF accelerate, whose ``prepare()`` re-shards
  the batches of any map-style loader (so there the sampler yields the global order and
  accelerate deals out the batches);
* a class-weighted, NaN-safe auxiliary class loss sized to the manifest's vocabulary;
* :class:`~dis_audit.torch.PerClassLossTracker` per class and per difficulty folder, all-reduced
  and logged once per epoch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler, default_collate

from dis_audit.manifest import ManifestError, manifest_root, read_manifest_meta, read_manifest_table

from .samplers import (
    ClassBalancedSampler,
    DifficultyMixBatchSampler,
    HardExampleSampler,
    _dist_defaults,
    _ShardedSampler,
)
from .tracker import PerClassLossTracker
from .weights import class_weights

__all__ = ["TRACE_ENV", "BiRefNetClasses", "ManifestClassLoss", "manifest_vocabulary"]

#: Set to a file prefix to make every process append, per batch, the sample indices it trained on
#: and the class loss to ``<prefix>.rank<R>.jsonl`` (how the end-to-end test checks the sharding).
TRACE_ENV = "DIS_AUDIT_BIREFNET_TRACE"
SAMPLINGS = ("shuffle", "balanced", "hard", "mix")


def manifest_vocabulary(manifest: str | os.PathLike) -> list[str]:
    """The manifest's class names in id order: what BiRefNet's ``class_labels_TR_sorted`` must be.

    BiRefNet sizes its class head (``models/birefnet.py``) and ``MyData.cls_name2id`` from that
    list, so assigning this to it makes an ``--extend-vocab`` manifest's new classes trainable.
    """
    return list(read_manifest_meta(manifest).vocabulary)


class _AnyClass(dict):
    """``MyData.cls_name2id`` that never raises: the label it computes is replaced by the manifest's."""

    def __missing__(self, key: str) -> int:
        return -1


class _Labelled(Dataset):
    """BiRefNet's dataset with the manifest's class id as item 2 and the sample index appended last."""

    def __init__(self, inner: Any, labels: np.ndarray) -> None:
        self.inner = inner
        self.labels = labels

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> tuple:
        item = tuple(self.inner[index])
        return (*item[:2], int(self.labels[index]), *item[3:], int(index))

    def __getattr__(self, name: str) -> Any:
        # The fork's train.py calls train_loader.dataset.get_batch_composition / .dataset_names.
        if name in ("inner", "labels"):
            raise AttributeError(name)
        return getattr(self.inner, name)


class _IndexCollate:
    """Collate with BiRefNet's own ``collate_fn`` (or the default) and append the index tensor."""

    def __init__(self, inner: Callable[[list], Any] | None) -> None:
        self.inner = inner

    def __call__(self, batch: list[tuple]) -> list:
        collated = (self.inner or default_collate)([b[:-1] for b in batch])
        return [*collated, torch.tensor([b[-1] for b in batch], dtype=torch.int64)]


class _EpochOrder(Sampler):
    """Wraps a dis-audit sampler: advances the epoch by itself on every pass, honours ``set_epoch``.

    BiRefNet's ``train_epoch`` never calls ``set_epoch``; accelerate's loader calls it with its own
    pass count before each pass. Either way every process uses the same epoch on the same pass.
    With ``whole=True`` (accelerate) it yields every rank's share and accelerate deals out batches.
    """

    def __init__(self, inner: _ShardedSampler | DifficultyMixBatchSampler, whole: bool) -> None:
        self.inner = inner
        self.whole = whole
        self.epoch = 0
        self.epoch_in_use = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator:
        self.inner.set_epoch(self.epoch)
        self.epoch_in_use, self.epoch = self.epoch, self.epoch + 1
        return iter(self.inner.global_order().tolist() if self.whole else self.inner)

    def __len__(self) -> int:
        per_rank = len(self.inner)
        return per_rank * self.inner.num_replicas if self.whole else per_rank


class _Shuffle(_ShardedSampler):
    """A fresh permutation per epoch (BiRefNet's ``shuffle=True``, but seeded and sharded)."""

    def __init__(self, n: int, seed: int, num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__(n, seed, num_replicas, rank)
        self.n = n

    def _global_draw(self, rng: np.random.Generator, total: int) -> np.ndarray:
        order = rng.permutation(self.n)
        # Pad by wrapping around, as DistributedSampler does, so every rank is equally long.
        return np.resize(order, total)


class ManifestClassLoss(torch.nn.Module):
    """BiRefNet's ``ClsLoss`` call signature with class weights, ``ignore_index`` and no NaN.

    ``loss(class_preds_lst, class_labels, index)``: the weighted cross-entropy of each non-None
    prediction level, averaged over the labelled samples by their weights, times ``lambda_``,
    summed over levels. A batch without a labelled sample gives 0 (connected to the graph), not NaN.
    """

    weight: torch.Tensor

    def __init__(self, owner: BiRefNetClasses, weight: torch.Tensor, lambda_: float) -> None:
        super().__init__()
        self.owner = owner
        self.register_buffer("weight", weight.float())
        self.lambda_ = float(lambda_)

    def forward(self, preds: Sequence[torch.Tensor | None], labels: torch.Tensor,
                index: torch.Tensor | None = None) -> torch.Tensor:
        total: torch.Tensor | None = None
        per_sample: torch.Tensor | None = None
        for logits in preds:
            if logits is None:
                continue
            if logits.shape[-1] != len(self.weight):
                raise ValueError(
                    f"the class head has {logits.shape[-1]} outputs but the manifest has {len(self.weight)} classes: "
                    "set class_labels_TR_sorted = manifest_vocabulary(...) in dataset.py (docs/birefnet.md)"
                )
            y = labels.to(logits.device).long()
            valid = (y >= 0) & (y != self.owner.ignore_index)
            safe = torch.where(valid, y, torch.zeros_like(y))
            ce = F.cross_entropy(logits.float(), safe, reduction="none") * valid
            w = self.weight.to(logits.device)[safe] * valid
            denom = w.sum()
            level = (ce * w).sum() / denom if bool(denom > 0) else logits.sum() * 0.0
            total = level * self.lambda_ if total is None else total + level * self.lambda_
            per_sample = ce.detach() if per_sample is None else per_sample + ce.detach()
        if total is None:
            raise ValueError("no class predictions: set config.auxiliary_classification = True")
        assert per_sample is not None
        self.owner._record(per_sample, labels, index, float(total.detach()))
        return total


class BiRefNetClasses:
    """The manifest's classes for a BiRefNet ``MyData``: labels, sampler, class loss, per-class log.

    Args:
        manifest: the dis-audit manifest of the task folder (written OUTSIDE it: see docs/birefnet.md).
        dataset: BiRefNet's training ``MyData`` (``is_train=True``).
        sampling: ``"shuffle"`` (a permutation per epoch), ``"balanced"`` (:class:`ClassBalancedSampler`),
            ``"hard"`` (:class:`HardExampleSampler`, fed with each sample's class loss) or ``"mix"``
            (:class:`DifficultyMixBatchSampler` over the difficulty folders; ``mix=`` required).
        seed: the sampler seed; the order of an epoch depends on ``(seed, epoch)`` only.
        ignore_index: the class id of samples the manifest leaves unlabelled (-1).
        **sampler_options: passed to the sampler (``power=``, ``mix=``, ``schedule=``, ``floor=`` ...).
    """

    def __init__(self, manifest: str | os.PathLike, dataset: Any, sampling: str = "shuffle", seed: int = 0,
                 ignore_index: int = -100, **sampler_options: Any) -> None:
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, not {sampling!r}")
        table, meta = read_manifest_table(manifest)
        root = os.path.realpath(manifest_root(manifest, meta))
        rows = {p: i for i, p in enumerate(table.column("image_path").to_pylist())}
        ids = table.column("class_id").to_numpy()
        folders = table.column("difficulty").to_pylist()
        picked, missing = [], []
        for path in dataset.image_paths:
            # Resolve the folders only: an image that is itself a symlink keeps its own name in the manifest.
            real = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
            rel = Path(os.path.relpath(real, root)).as_posix()
            if rel in rows:
                picked.append(rows[rel])
            else:
                missing.append(rel)
        if missing:
            raise ManifestError(
                f"{len(missing)} of BiRefNet's {len(dataset.image_paths)} training images are not in {manifest} "
                f"(root {root}), e.g. {missing[:3]}: re-run `dis-audit scan` on the task folder"
            )
        short = [p for p in getattr(dataset, "label_paths", []) if len(os.path.basename(p).split("#")) < 4]
        if short:
            raise ManifestError(
                f"{len(short)} mask names have fewer than 4 '#' fields, where BiRefNet's MyData raises IndexError "
                f"with auxiliary_classification on, e.g. {short[:3]}: fix them with `dis-audit rename`"
            )
        self.ignore_index = int(ignore_index)
        self.vocabulary: list[str] = list(meta.vocabulary)
        class_ids = ids[np.asarray(picked, dtype=np.int64)].astype(np.int64)
        self.labels = np.where(class_ids >= 0, class_ids, self.ignore_index)
        self.difficulties = np.asarray([folders[i] for i in picked], dtype=object)
        # BiRefNet still computes its own label in __getitem__; never let that lookup raise.
        if hasattr(dataset, "cls_name2id"):
            dataset.cls_name2id = _AnyClass(dataset.cls_name2id)
        self.dataset = _Labelled(dataset, self.labels)
        self.sampling, self.seed, self.sampler_options = sampling, int(seed), sampler_options
        self.sampler: _EpochOrder | None = None
        # Folder codes fixed up front, so every process means the same folder by the same code.
        self.folders = sorted(set(self.difficulties.tolist()))
        self._folder_code = np.asarray([self.folders.index(d) for d in self.difficulties], dtype=np.int64)
        self.tracker = PerClassLossTracker(self.vocabulary, difficulties=self.folders, ignore_index=self.ignore_index)
        self._trace = os.environ.get(TRACE_ENV)

    def class_counts(self) -> np.ndarray:
        """Labelled training samples per class id (length ``len(vocabulary)``)."""
        known = self.labels[(self.labels >= 0) & (self.labels != self.ignore_index)]
        return np.bincount(known, minlength=len(self.vocabulary))

    def dataloader_kwargs(self, batch_size: int, accelerate: bool = False,
                          collate_fn: Callable[[list], Any] | None = None) -> dict[str, Any]:
        """``DataLoader`` keywords: dataset, sampler (or batch sampler), batch size, drop_last, collate_fn.

        ``accelerate=True`` when the loader goes through ``accelerator.prepare`` (``--use_accelerate``):
        the sampler then yields every process's share and accelerate hands each process its batches.
        Otherwise the sampler takes its own share from ``torch.distributed`` (``torchrun --dist True``)
        or everything (one process). ``collate_fn`` is BiRefNet's (e.g. ``custom_collate_fn``) or None.
        """
        world, rank = _dist_defaults(None, None)
        if accelerate:
            # accelerate's own view decides whether prepare() will deal out batches (MULTI_GPU, MULTI_CPU ...).
            from accelerate import PartialState

            state = PartialState()
            world, rank = state.num_processes, state.process_index
        n = len(self.labels)
        opts = {"num_replicas": world, "rank": rank, **self.sampler_options}
        inner: _ShardedSampler | DifficultyMixBatchSampler
        if self.sampling == "mix":
            inner = DifficultyMixBatchSampler(self.difficulties.astype(str), batch_size, seed=self.seed, **opts)
        elif self.sampling == "balanced":
            inner = ClassBalancedSampler(self.labels, seed=self.seed, **opts)
        elif self.sampling == "hard":
            inner = HardExampleSampler(self.labels, seed=self.seed, **opts)
        else:
            inner = _Shuffle(n, self.seed, **opts)
        if self.sampling != "mix" and len(inner) < batch_size:
            raise ValueError(f"{n} samples cannot fill one batch of {batch_size} on each of {world} process(es)")
        self.sampler = _EpochOrder(inner, whole=accelerate and world > 1)
        if self._trace:
            with open(f"{self._trace}.rank{_dist_defaults(None, None)[1]}.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"world": world, "accelerate": accelerate, "labels": self.labels.tolist(),
                                     "images": [os.path.basename(p) for p in self.dataset.inner.image_paths]}) + "\n")
        out: dict[str, Any] = {"dataset": self.dataset, "collate_fn": _IndexCollate(collate_fn)}
        if self.sampling == "mix":
            out["batch_sampler"] = self.sampler
        else:
            out.update(sampler=self.sampler, batch_size=batch_size, shuffle=False, drop_last=True)
        return out

    def loss(self, lambda_: float = 1.0, scheme: str = "effective") -> ManifestClassLoss:
        """The class loss to use as ``Trainer.cls_loss``; ``lambda_`` is BiRefNet's ``lambdas_cls['ce']``."""
        counts = self.class_counts()
        weight = class_weights(counts, scheme) if counts.any() else torch.ones(len(self.vocabulary))
        return ManifestClassLoss(self, weight, lambda_)

    def _record(self, per_sample: torch.Tensor, labels: torch.Tensor, index: torch.Tensor | None, total: float) -> None:
        ids = labels.detach().to("cpu", torch.int64).reshape(-1)
        if index is None:
            self.tracker.update(per_sample, ids)
            return
        idx = index.detach().to("cpu", torch.int64).reshape(-1)
        self.tracker.update(per_sample, ids, difficulty=torch.from_numpy(self._folder_code[idx.numpy()]))
        inner = self.sampler.inner if self.sampler is not None else None
        if isinstance(inner, HardExampleSampler):
            labelled = (ids >= 0) & (ids != self.ignore_index)
            inner.update(idx[labelled], per_sample.cpu()[labelled])
        if self._trace:
            _, rank = _dist_defaults(None, None)
            epoch = self.sampler.epoch_in_use if self.sampler is not None else 0
            with open(f"{self._trace}.rank{rank}.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"rank": rank, "epoch": epoch, "indices": idx.tolist(), "labels": ids.tolist(),
                                     "loss_cls": total}) + "\n")

    def end_epoch(self, log: Callable[[str], Any] | None = None) -> dict[str, float]:
        """Sum the epoch's class losses over all processes, log them once (rank 0) and start afresh.

        Every process must call it (it all-reduces under DDP/accelerate). Returns the tracker's
        ``{"loss_cls/<Class>": mean, "loss_cls_difficulty/<folder>": mean}``.
        """
        self.tracker.all_reduce()
        values = self.tracker.compute()
        self.tracker.reset()
        _, rank = _dist_defaults(None, None)
        if log is not None and rank == 0 and values:
            by_class = [f"{k.split('/', 1)[1]} {v:.4g}" for k, v in values.items() if k.startswith("loss_cls/")]
            by_folder = [f"{k.split('/', 1)[1]} {v:.4g}" for k, v in values.items() if "_difficulty/" in k]
            log("class loss per class: " + ", ".join(by_class))
            log("class loss per folder: " + ", ".join(by_folder))
        return values
