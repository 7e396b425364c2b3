"""``PerClassLossTracker``: which classes are hard to classify, and which are hard to segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd


class LossTable(Table):
    """The rich Table ``PerClassLossTracker.table()`` returns; ``print(table)`` shows it as plain text.

    Rich consoles (``console.print``, a notebook) render it as any rich Table; ``str()`` renders it
    without colour at the terminal's width (at least 100 columns), so a plain ``print`` or a log line shows
    the table rather than ``<rich.table.Table object>``.
    """

    def __str__(self) -> str:
        import io
        import shutil

        from rich.console import Console

        buffer = io.StringIO()
        width = max(100, shutil.get_terminal_size((100, 24)).columns)
        Console(file=buffer, width=width, color_system=None, force_terminal=False).print(self)
        return buffer.getvalue().rstrip("\n")


class _Stats:
    """Running sum, count and EMA per bucket (class or difficulty), for one loss."""

    def __init__(self, n: int, momentum: float) -> None:
        self.sum = torch.zeros(n, dtype=torch.float64)
        self.count = torch.zeros(n, dtype=torch.float64)
        self.ema = torch.full((n,), float("nan"), dtype=torch.float64)
        self.momentum = momentum

    def add(self, buckets: torch.Tensor, losses: torch.Tensor) -> None:
        n = len(self.sum)
        batch_sum = torch.zeros(n, dtype=torch.float64).index_add_(0, buckets, losses)
        batch_count = torch.bincount(buckets, minlength=n).to(torch.float64)
        self.sum += batch_sum
        self.count += batch_count
        # EMA of the per-batch bucket mean, updated only for buckets present in the batch.
        hit = batch_count > 0
        batch_mean = batch_sum[hit] / batch_count[hit]
        old = self.ema[hit]
        m = self.momentum
        self.ema[hit] = torch.where(torch.isnan(old), batch_mean, m * old + (1 - m) * batch_mean)

    def mean(self) -> torch.Tensor:
        return torch.where(self.count > 0, self.sum / self.count.clamp(min=1), float("nan"))


class PerClassLossTracker:
    """Count, mean and EMA of per-sample losses per class and per difficulty.

    Track any number of losses side by side by name, e.g. ``"cls"`` for the auxiliary
    classification loss and ``"seg"`` for the segmentation loss reduced per sample::

        tracker.update(ce(logits, y), y, difficulty=info["difficulty"], loss="cls")
        tracker.update(bce(pred, gt).mean((1, 2, 3)), y, loss="seg")

    Samples whose class id is negative or ``ignore_index`` count toward their difficulty
    only. State lives on the CPU in float64 (one small copy per update, no precision loss
    over long runs).

    Args:
        class_names: names in class-id order (``ManifestDataset.vocabulary``).
        difficulties: difficulty names in code order, when ``difficulty`` is passed as ints;
            with string difficulties unseen names are added as they come.
        momentum: EMA weight of the old value.
        ignore_index: the id of unlabeled samples.
    """

    def __init__(
        self,
        class_names: Sequence[str],
        difficulties: Sequence[str] | None = None,
        momentum: float = 0.9,
        ignore_index: int = -100,
    ) -> None:
        self.class_names = [str(c) for c in class_names]
        self.difficulties = [str(d) for d in difficulties] if difficulties is not None else []
        self.momentum = float(momentum)
        self.ignore_index = int(ignore_index)
        self._by_class: dict[str, _Stats] = {}
        self._by_difficulty: dict[str, _Stats] = {}
        # Difficulty buckets are allocated with room to grow; 64 covers any folder scheme.
        self._difficulty_capacity = max(64, len(self.difficulties))

    def reset(self) -> None:
        """Forget everything (e.g. at the start of an epoch)."""
        self._by_class.clear()
        self._by_difficulty.clear()

    def _difficulty_codes(self, difficulty: Any, n: int) -> torch.Tensor:
        if isinstance(difficulty, torch.Tensor) and not difficulty.is_floating_point():
            codes = difficulty.detach().cpu().to(torch.int64).reshape(-1)
        elif isinstance(difficulty, str):
            codes = torch.full((n,), self._difficulty_code(difficulty), dtype=torch.int64)
        else:
            values = list(difficulty)
            if values and isinstance(values[0], str):
                codes = torch.tensor([self._difficulty_code(v) for v in values], dtype=torch.int64)
            else:
                codes = torch.as_tensor(values, dtype=torch.int64)
        if len(codes) != n:
            raise ValueError(f"difficulty has {len(codes)} entries for {n} losses")
        if len(codes) and (codes.min() < 0 or codes.max() >= max(len(self.difficulties), 1)):
            raise ValueError(f"difficulty codes must index difficulties ({len(self.difficulties)} names)")
        return codes

    def _difficulty_code(self, name: str) -> int:
        if name not in self.difficulties:
            if len(self.difficulties) >= self._difficulty_capacity:
                raise ValueError(f"more than {self._difficulty_capacity} distinct difficulties")
            self.difficulties.append(name)
        return self.difficulties.index(name)

    def update(
        self,
        per_sample_loss: torch.Tensor,
        class_ids: torch.Tensor | Sequence[int],
        difficulty: torch.Tensor | Sequence[str] | Sequence[int] | str | None = None,
        loss: str = "cls",
    ) -> None:
        """Add one batch of per-sample losses (shape ``B``) for the loss named ``loss``."""
        values = per_sample_loss.detach().to("cpu", torch.float64).reshape(-1)
        ids = torch.as_tensor(class_ids).detach().to("cpu", torch.int64).reshape(-1)
        if len(values) != len(ids):
            raise ValueError(f"{len(values)} losses but {len(ids)} class ids; pass reduction='none' losses")
        labelled = (ids >= 0) & (ids != self.ignore_index)
        if labelled.any() and int(ids[labelled].max()) >= len(self.class_names):
            raise ValueError(f"class id {int(ids[labelled].max())} beyond the {len(self.class_names)} class names")
        stats = self._by_class.get(loss)
        if stats is None:
            stats = self._by_class[loss] = _Stats(len(self.class_names), self.momentum)
        stats.add(ids[labelled], values[labelled])
        if difficulty is not None:
            codes = self._difficulty_codes(difficulty, len(values))
            dstats = self._by_difficulty.get(loss)
            if dstats is None:
                dstats = self._by_difficulty[loss] = _Stats(self._difficulty_capacity, self.momentum)
            dstats.add(codes, values)

    @property
    def losses(self) -> list[str]:
        """Names of the losses seen so far."""
        return list(self._by_class)

    def compute(self, stat: str = "mean") -> dict[str, float]:
        """Flat ``{"loss_<loss>/<ClassName>": value, "loss_<loss>_difficulty/<name>": value}``.

        ``stat`` is ``"mean"`` (since the last reset) or ``"ema"``. Only buckets with samples
        appear, so the dict can go straight to any logger.
        """
        if stat not in ("mean", "ema"):
            raise ValueError(f"stat must be 'mean' or 'ema', not {stat!r}")
        out: dict[str, float] = {}
        for loss, stats in self._by_class.items():
            values = stats.mean() if stat == "mean" else stats.ema
            for c in torch.nonzero(stats.count > 0).flatten().tolist():
                out[f"loss_{loss}/{self.class_names[c]}"] = float(values[c])
        for loss, stats in self._by_difficulty.items():
            values = stats.mean() if stat == "mean" else stats.ema
            for d in torch.nonzero(stats.count > 0).flatten().tolist():
                out[f"loss_{loss}_difficulty/{self.difficulties[d]}"] = float(values[d])
        return out

    def all_reduce(self, group: Any = None) -> None:
        """Sum counts and sums over all DDP ranks (EMAs: count-weighted average); no-op without DDP.

        Every rank must call it. Tensors travel on the current CUDA device under NCCL.
        """
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()):
            return
        device = torch.device("cpu")
        if dist.get_backend(group) == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        self._align_difficulties(group)
        for table in (self._by_class, self._by_difficulty):
            # Every rank must reduce the same losses in the same order.
            names: list[Any] = [None] * dist.get_world_size(group)
            dist.all_gather_object(names, sorted(table), group=group)
            for loss in sorted({n for rank_names in names for n in rank_names}):
                size = len(self.class_names) if table is self._by_class else self._difficulty_capacity
                stats = table.setdefault(loss, _Stats(size, self.momentum))
                ema = torch.nan_to_num(stats.ema, nan=0.0) * stats.count
                packed = torch.stack([stats.sum, stats.count, ema]).to(device)
                dist.all_reduce(packed, group=group)
                packed = packed.cpu()
                stats.sum, stats.count = packed[0].clone(), packed[1].clone()
                stats.ema = torch.where(stats.count > 0, packed[2] / stats.count.clamp(min=1), float("nan"))

    def _align_difficulties(self, group: Any) -> None:
        """Give every rank the same difficulty codes before a reduce.

        String difficulties get codes in the order a rank first sees them, which differs between
        ranks; summing by code would merge different folders. All ranks adopt one union list (rank
        order, then first appearance) and move their buckets to it.
        """
        dist = torch.distributed
        lists: list[Any] = [None] * dist.get_world_size(group)
        dist.all_gather_object(lists, self.difficulties, group=group)
        union: list[str] = []
        for names in lists:
            union += [n for n in names if n not in union]
        if union == self.difficulties:
            return
        if len(union) > self._difficulty_capacity:
            raise ValueError(f"more than {self._difficulty_capacity} distinct difficulties across ranks")
        moved = torch.tensor([union.index(n) for n in self.difficulties], dtype=torch.int64)
        for stats in self._by_difficulty.values():
            fresh = _Stats(self._difficulty_capacity, self.momentum)
            n = len(moved)
            fresh.sum[moved], fresh.count[moved], fresh.ema[moved] = stats.sum[:n], stats.count[:n], stats.ema[:n]
            stats.sum, stats.count, stats.ema = fresh.sum, fresh.count, fresh.ema
        self.difficulties = union

    def to_frame(self, by: str = "class", all_classes: bool = False) -> pd.DataFrame:
        """A DataFrame with ``count_<loss>``, ``mean_<loss>``, ``ema_<loss>`` columns.

        ``by="class"`` indexes by class name: the classes seen by any tracked loss, in id order
        (``all_classes=True``: every class, NaN where unseen); ``by="difficulty"`` by difficulty.
        """
        import pandas as pd

        if by == "class":
            table, index = self._by_class, self.class_names
        elif by == "difficulty":
            table, index = self._by_difficulty, self.difficulties
        else:
            raise ValueError(f"by must be 'class' or 'difficulty', not {by!r}")
        n = len(index)
        columns: dict[str, Any] = {}
        for loss, stats in table.items():
            columns[f"count_{loss}"] = stats.count[:n].numpy().astype("int64")
            columns[f"mean_{loss}"] = stats.mean()[:n].numpy()
            columns[f"ema_{loss}"] = stats.ema[:n].numpy()
        frame = pd.DataFrame(columns, index=pd.Index(index, name=by))
        if by == "class":
            frame.insert(0, "class_id", range(n))
            if not all_classes:
                seen = frame[[f"count_{loss}" for loss in table]].sum(axis=1) > 0
                frame = frame[seen]
        return frame

    def table(self, k: int = 10, loss: str | None = None, stat: str = "mean") -> LossTable:
        """The ``k`` classes with the highest ``loss`` (default: the first tracked), as a rich Table.

        ``console.print(tracker.table())`` renders it with rich; ``print(tracker.table())`` prints it
        as plain text (see ``LossTable``).
        """
        frame = self.to_frame("class")
        losses = self.losses
        title = "per-class loss"
        table = LossTable(title=title)
        table.add_column("class")
        table.add_column("id", justify="right")
        if not losses:
            return table
        loss = loss if loss is not None else losses[0]
        if loss not in losses:
            raise ValueError(f"no loss named {loss!r}; tracked: {', '.join(losses)}")
        key = f"{stat}_{loss}"
        seen = frame[frame[f"count_{loss}"] > 0].sort_values(key, ascending=False).head(k)
        table.title = f"{len(seen)} worst classes by {stat} loss_{loss}"
        table.add_column(f"n_{loss}", justify="right")
        for other in losses:
            table.add_column(f"{stat} {other}", justify="right")
        for name, row in seen.iterrows():
            cells = [str(name), str(int(row["class_id"])), str(int(row[f"count_{loss}"]))]
            cells += ["-" if row[f"{stat}_{o}"] != row[f"{stat}_{o}"] else f"{row[f'{stat}_{o}']:.4f}" for o in losses]
            table.add_row(*cells)
        return table
