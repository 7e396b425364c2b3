"""Deterministic, DDP-aware samplers: class-balanced, difficulty-mix batches, hard-example mining.

Every sampler makes ONE global draw per epoch from ``(seed, epoch)`` (the same on every
rank) and gives rank ``r`` the positions ``r, r + num_replicas, ...`` of it, so ranks get
disjoint, equal-length shards that together are exactly the global draw. Call
``set_epoch(epoch)`` before each epoch, as with ``DistributedSampler``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

Mix = Mapping[str, float]


def _dist_defaults(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """Fill in world size and rank from ``torch.distributed`` when it is initialized."""
    initialized = torch.distributed.is_available() and torch.distributed.is_initialized()
    if num_replicas is None:
        num_replicas = torch.distributed.get_world_size() if initialized else 1
    if rank is None:
        rank = torch.distributed.get_rank() if initialized else 0
    if num_replicas < 1:
        raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be in [0, {num_replicas - 1}], got {rank}")
    return int(num_replicas), int(rank)


def _as_labels(labels: Any) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("labels is empty: nothing to sample")
    return arr


class _GroupDraw:
    """Draw sample indices with replacement where every sample's weight depends only on its group.

    Two levels: pick a group with an alias table (a few hundred entries), then a uniform
    member of that group. Exact, O(1) per draw, and free of ``torch.multinomial``'s
    2^24-category limit.
    """

    def __init__(self, groups: np.ndarray) -> None:
        self.order = np.argsort(groups, kind="stable")
        self.keys, self.starts, self.counts = np.unique(groups[self.order], return_index=True, return_counts=True)

    def draw(self, group_mass: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        prob, alias = _alias_table(group_mass)
        # Walker's alias method: one uniform picks a column k and, by its fractional part,
        # k or its alias; O(1) per draw. A second uniform picks the member in the group.
        u = rng.random(n) * len(prob)
        k = u.astype(np.int64)
        np.minimum(k, len(prob) - 1, out=k)
        g = np.where(u - k < prob[k], k, alias[k])
        within = (rng.random(n) * self.counts[g]).astype(np.int64)
        return self.order[self.starts[g] + within]


def _alias_table(mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for a small discrete distribution (built in Python: groups are few)."""
    m = len(mass)
    scaled = (np.asarray(mass, dtype=np.float64) / float(np.sum(mass)) * m).tolist()
    prob, alias = [1.0] * m, list(range(m))
    small = [i for i, v in enumerate(scaled) if v < 1.0]
    large = [i for i, v in enumerate(scaled) if v >= 1.0]
    while small and large:
        s_i, l_i = small.pop(), large.pop()
        prob[s_i], alias[s_i] = scaled[s_i], l_i
        scaled[l_i] -= 1.0 - scaled[s_i]
        (small if scaled[l_i] < 1.0 else large).append(l_i)
    return np.asarray(prob), np.asarray(alias, dtype=np.int64)


class _ShardedSampler(Sampler[int]):
    """Common epoch/seed/shard logic: subclasses implement ``_global_draw(rng, total)``."""

    def __init__(self, num_samples: int, seed: int, num_replicas: int | None, rank: int | None) -> None:
        self.num_replicas, self.rank = _dist_defaults(num_replicas, rank)
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.seed = int(seed)
        self.epoch = 0
        # Pad the global draw up to a multiple of the world size so all ranks are equally long.
        self.num_samples = math.ceil(num_samples / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the draw for ``epoch``: a new order each epoch, the same one for the same seed."""
        self.epoch = int(epoch)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    def _global_draw(self, rng: np.random.Generator, total: int) -> np.ndarray:
        raise NotImplementedError

    def global_order(self) -> np.ndarray:
        """Every rank's indices for this epoch (rank ``r`` owns ``r::num_replicas``), for launchers that
        deal out batches themselves (HF accelerate's ``prepare``)."""
        return self._global_draw(self._rng(), self.total_size)

    def draw(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        return self.global_order()[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.draw().tolist())

    def __len__(self) -> int:
        return self.num_samples


class ClassBalancedSampler(_ShardedSampler):
    """Sample with replacement so that class ``c`` gets total mass ∝ ``count_c ** (1 - power)``.

    Per-sample weight is ``count_c ** -power``: ``power=0`` is the natural distribution,
    ``1`` uniform over classes, ``0.5`` the square-root compromise. Negative labels (unknown
    class, ``-1`` or an ``ignore_index``) form one group of their own.

    Args:
        labels: per-sample class ids (``ManifestDataset.labels``).
        power: the balancing exponent.
        num_samples: draws per epoch across all ranks (default ``len(labels)``); each rank
            yields ``ceil(num_samples / num_replicas)``.
        seed: base seed; the draw of an epoch depends on ``(seed, epoch)`` only.
        num_replicas, rank: DDP world size and rank (default: from ``torch.distributed``).
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        power: float = 1.0,
        num_samples: int | None = None,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        arr = _as_labels(labels).astype(np.int64)
        arr = np.where(arr < 0, -1, arr)
        super().__init__(len(arr) if num_samples is None else int(num_samples), seed, num_replicas, rank)
        self.power = float(power)
        self._groups = _GroupDraw(arr)
        counts = self._groups.counts.astype(np.float64)
        self._mass = counts ** (1.0 - self.power)

    def class_probabilities(self) -> dict[int, float]:
        """Probability of drawing each class (key -1 = unlabeled)."""
        p = self._mass / self._mass.sum()
        return {int(k): float(v) for k, v in zip(self._groups.keys, p)}

    def _global_draw(self, rng: np.random.Generator, total: int) -> np.ndarray:
        return self._groups.draw(self._mass, total, rng)


def _largest_remainder(mix: Mapping[str, float], batch_size: int) -> dict[str, int]:
    """Split ``batch_size`` by proportions; leftover slots go to the largest fractional parts."""
    total = float(sum(mix.values()))
    exact = {k: batch_size * v / total for k, v in mix.items()}
    quota = {k: math.floor(x) for k, x in exact.items()}
    left = batch_size - sum(quota.values())
    # Ties break by the order the mix lists them, so the result is deterministic.
    by_remainder = sorted(mix, key=lambda k: (-(exact[k] - quota[k]), list(mix).index(k)))
    for k in by_remainder[:left]:
        quota[k] += 1
    return quota


class DifficultyMixBatchSampler(Sampler[list[int]]):
    """Batches that each hold a fixed mix of difficulties (e.g. 20% easy, 30% medium, 50% hard).

    Per batch the counts are ``batch_size × share``, rounded by largest remainder, so every
    batch has exactly the same composition. Within a difficulty, samples come from a fresh
    permutation that restarts when exhausted (no repeats until every sample of that
    difficulty was used). Difficulties absent from the mix are not sampled.

    ``schedule`` changes the mix with the epoch (a curriculum): either a callable
    ``epoch -> mix`` or a dict ``{first_epoch: mix}`` whose latest key ``<= epoch`` applies.

    Under DDP each rank gets every ``num_replicas``-th batch of one global sequence, so ranks
    see disjoint batches and the same number of them; ``batch_size`` is per rank.

    Args:
        difficulties: per-sample difficulty names (``ManifestDataset.difficulties``).
        batch_size: samples per batch (per rank).
        mix: difficulty → share; shares are normalized to sum to 1.
        schedule: optional curriculum, see above.
        num_batches: batches per epoch across all ranks (default ``len // batch_size``).
        seed, num_replicas, rank: as for the other samplers.
    """

    def __init__(
        self,
        difficulties: Sequence[str] | np.ndarray,
        batch_size: int,
        mix: Mix | None = None,
        schedule: Callable[[int], Mix] | Mapping[int, Mix] | None = None,
        num_batches: int | None = None,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.num_replicas, self.rank = _dist_defaults(num_replicas, rank)
        arr = _as_labels(difficulties).astype(str)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0
        self._members = {name: np.flatnonzero(arr == name) for name in np.unique(arr)}
        self.mix = dict(mix) if mix is not None else {"easy": 0.2, "medium": 0.3, "hard": 0.5}
        self.schedule = schedule
        self._check(self.mix)
        total_batches = len(arr) // self.batch_size if num_batches is None else int(num_batches)
        self.num_batches = max(1, math.ceil(total_batches / self.num_replicas))

    def _check(self, mix: Mix) -> None:
        if not mix or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"mix needs non-negative shares with a positive sum, got {dict(mix)}")
        missing = [k for k, v in mix.items() if v > 0 and k not in self._members]
        if missing:
            raise ValueError(
                f"difficulties {', '.join(missing)} are in the mix but not in the data; "
                f"the data has: {', '.join(sorted(self._members))}"
            )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (order and, with a schedule, the mix)."""
        self.epoch = int(epoch)

    def current_mix(self) -> dict[str, float]:
        """The mix in force for the current epoch."""
        if self.schedule is None:
            return dict(self.mix)
        if callable(self.schedule):
            mix = dict(self.schedule(self.epoch))
        else:
            started = [e for e in self.schedule if e <= self.epoch]
            mix = dict(self.schedule[max(started)]) if started else dict(self.mix)
        self._check(mix)
        return mix

    def quotas(self) -> dict[str, int]:
        """Samples per difficulty in every batch of the current epoch."""
        return {k: v for k, v in _largest_remainder(self.current_mix(), self.batch_size).items() if v > 0}

    def global_order(self) -> np.ndarray:
        """Every rank's batches for the current epoch (``num_batches × num_replicas`` rows; rank ``r`` owns rows
        ``r::num_replicas``), for launchers that shard batches themselves."""
        return self._global_batches()

    def _global_batches(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch])
        total = self.num_batches * self.num_replicas
        quotas = self.quotas()
        columns = []
        for name, q in quotas.items():
            members = self._members[name]
            need = total * q
            reps = math.ceil(need / len(members))
            stream = np.concatenate([rng.permutation(members) for _ in range(reps)])[:need]
            columns.append(stream.reshape(total, q))
        batches = np.concatenate(columns, axis=1)
        # Shuffle inside each batch so positions carry no difficulty signal.
        return np.take_along_axis(batches, rng.random(batches.shape).argsort(axis=1), axis=1)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._global_batches()[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_batches


class HardExampleSampler(_ShardedSampler):
    """Sample more often what the model currently gets wrong, per sample and per class.

    The training loop reports per-sample losses with ``update(indices, losses)``. A sample's
    score is ``(1 - class_blend) * ema_i + class_blend * class_mean_c`` where ``ema_i`` is
    an exponential moving average of its loss and ``class_mean_c`` the mean of those EMAs
    over its class; samples not seen yet score their class mean (or the global mean), so new
    samples are not neglected. The draw probability is
    ``(1 - floor) * score_i / Σ score + floor / N``: the uniform floor guarantees every
    sample at least ``floor / N``. Before any update the draw is uniform.

    Under DDP, ``update`` only buffers; ``set_epoch`` (or ``sync()``) gathers the buffers of
    all ranks and applies them in rank order, so every rank holds the same weights and the
    shards stay disjoint pieces of one global draw. Without DDP updates apply at once.

    Args:
        labels: per-sample class ids (negative = unknown: these use only their own EMA).
        num_samples: draws per epoch across all ranks (default ``len(labels)``).
        momentum: EMA weight of the old value.
        class_blend: weight of the class mean in a sample's score.
        floor: share of the probability mass spread uniformly.
        seed, num_replicas, rank: as for :class:`ClassBalancedSampler`.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        num_samples: int | None = None,
        momentum: float = 0.9,
        class_blend: float = 0.5,
        floor: float = 0.1,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        arr = _as_labels(labels).astype(np.int64)
        super().__init__(len(arr) if num_samples is None else int(num_samples), seed, num_replicas, rank)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not 0 <= class_blend <= 1:
            raise ValueError(f"class_blend must be in [0, 1], got {class_blend}")
        if not 0 < floor <= 1:
            raise ValueError(f"floor must be in (0, 1], got {floor}")
        self.momentum = float(momentum)
        self.class_blend = float(class_blend)
        self.floor = float(floor)
        self.labels = arr
        # Dense class index per sample; negative labels get none (-1).
        known = arr >= 0
        self._n_classes = int(arr[known].max()) + 1 if known.any() else 0
        self.ema = np.full(len(arr), np.nan, dtype=np.float64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    @staticmethod
    def _numpy(x: Any, dtype: Any) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().to("cpu", torch.float64 if dtype is np.float64 else torch.int64).numpy()
        return np.asarray(x, dtype=dtype).reshape(-1)

    def _distributed(self) -> bool:
        return (
            self.num_replicas > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()
        )

    def update(self, indices: Any, losses: Any) -> None:
        """Record per-sample losses (1-D, same length as ``indices``) for dataset ``indices``."""
        idx = self._numpy(indices, np.int64)
        loss = self._numpy(losses, np.float64)
        if idx.shape != loss.shape:
            raise ValueError(f"indices ({idx.shape[0]}) and losses ({loss.shape[0]}) differ in length")
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self.labels)):
            raise IndexError(f"indices must be in [0, {len(self.labels)}), got {idx.min()}..{idx.max()}")
        if not np.isfinite(loss).all():
            raise ValueError("losses contain NaN or inf")
        self._pending.append((idx, loss))
        if not self._distributed():
            self.sync()

    def sync(self) -> None:
        """Apply buffered updates (gathered from all ranks under DDP)."""
        pending, self._pending = self._pending, []
        if self._distributed():
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, pending)
            pending = [item for rank_items in gathered for item in rank_items]
        m = self.momentum
        for idx, loss in pending:
            for i, value in zip(idx.tolist(), loss.tolist()):  # sequential: repeated indices compound
                old = self.ema[i]
                self.ema[i] = value if np.isnan(old) else m * old + (1 - m) * value

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch and apply all ranks' pending updates."""
        super().set_epoch(epoch)
        self.sync()

    def class_loss(self) -> np.ndarray:
        """Mean EMA loss per class id (NaN for classes with no seen sample)."""
        seen = ~np.isnan(self.ema) & (self.labels >= 0)
        lab = self.labels[seen]
        sums = np.bincount(lab, weights=self.ema[seen], minlength=self._n_classes)
        counts = np.bincount(lab, minlength=self._n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def probabilities(self) -> np.ndarray:
        """Current per-sample draw probabilities (sum to 1)."""
        n = len(self.labels)
        seen = ~np.isnan(self.ema)
        if not seen.any():
            return np.full(n, 1.0 / n)
        global_mean = float(self.ema[seen].mean())
        per_class = self.class_loss()
        cls = np.full(n, global_mean)
        known = self.labels >= 0
        cls_known = per_class[self.labels[known]]
        cls[known] = np.where(np.isnan(cls_known), global_mean, cls_known)
        own = np.where(seen, self.ema, cls)
        blend = np.where(known, self.class_blend, 0.0)
        score = np.clip((1 - blend) * own + blend * cls, 0.0, None)
        total = score.sum()
        if total <= 0:
            return np.full(n, 1.0 / n)
        return (1 - self.floor) * score / total + self.floor / n

    def _global_draw(self, rng: np.random.Generator, total: int) -> np.ndarray:
        if not self._distributed():
            self.sync()
        return _inverse_cdf_draw(np.cumsum(self.probabilities()), rng, total)


def _inverse_cdf_draw(cdf: np.ndarray, rng: np.random.Generator, total: int) -> np.ndarray:
    """``total`` draws by inversion: for ``x = u * cdf[-1]``, the first ``i`` with ``cdf[i] > x``.

    The result is exactly ``searchsorted(cdf, x, side="right")`` (clipped to the last index)
    for the same uniforms, so a seed gives the same draws as a plain binary search. For many
    draws a guide table makes it ~5-9x faster: ``G = 2n`` equal-mass buckets, each holding the
    number of ``cdf`` entries that fall in an earlier bucket. That count is a lower bound of
    the answer for any ``x`` in the bucket (the bucket index is a monotone function of the
    value), and the answer is reached by stepping forward while ``cdf[idx] <= x``. With
    every probability at least ``floor / n`` a bucket spans at most ``1 / (2 floor) + 1``
    entries, so the vectorized stepping loop ends after a few passes over a shrinking set.
    """
    n = len(cdf)
    x = rng.random(total)
    x *= cdf[-1]
    if total < n:
        # Building the table costs O(n); a binary search per draw is cheaper for few draws.
        return np.minimum(np.searchsorted(cdf, x, side="right"), n - 1)
    buckets = 2 * n
    scale = buckets / cdf[-1]
    guide = np.searchsorted((cdf * scale).astype(np.int64), np.arange(buckets + 1), side="left")
    bucket = (x * scale).astype(np.int64)
    np.minimum(bucket, buckets, out=bucket)
    idx = guide[bucket]
    del bucket
    last = n - 1
    step = np.flatnonzero(cdf[np.minimum(idx, last)] <= x)
    while len(step):
        idx[step] += 1
        cur = idx[step]
        keep = cur < n
        keep &= cdf[np.minimum(cur, last)] <= x[step]
        step = step[keep]
    return np.minimum(idx, last, out=idx)
