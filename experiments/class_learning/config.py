"""The experiment's conditions, its settings (``Config``) and one run's result (``RunResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .data import COUNT_SEED

#: Condition letter -> what it changes (the table labels).
CONDITIONS = {
    "a": "natural, pixel loss only",
    "b": "natural + aux CE",
    "c": "class-balanced (p=0.5) + effective-number CE",
    "d": "hard-example sampler + aux CE",
    "e": "difficulty curriculum + aux CE",
    # Not in the default run: an ablation that separates (c)'s sampler from its class weights.
    "f": "class-balanced (p=0.5) + aux CE (unweighted)",
    # Round 2 (docs/class_learning.md): class-aware settings that leave the aux head a detached probe,
    # so only the pixel loss trains the network, as in (a).
    "g": "natural, class-weighted pixel loss (sqrt)",
    "g-inv": "natural, class-weighted pixel loss (inverse)",
    "h": "class-balanced (p=0.5), pixel loss only",
    "i": "hard-example sampler, pixel loss only",
    "j": "deferred re-balancing (natural, then balanced), pixel loss only",
    # Round 2, on the aux head: (b) with the logit-adjusted CE of Menon et al. (ICLR 2021).
    "k": "natural + logit-adjusted aux CE",
}
#: Conditions whose class head is a detached linear probe: the network trains on the pixel loss alone.
PIXEL_ONLY = frozenset({"a", "g", "g-inv", "h", "i", "j"})
#: Class-weighted pixel loss conditions -> their ``class_weights`` scheme.
PIXEL_WEIGHT_SCHEMES = {"g": "sqrt", "g-inv": "inverse"}

DEFAULT_CONDITIONS = ("a", "b", "c", "d", "e")


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
    # Round 2 settings (defaults leave round 1's runs unchanged).
    count_seed: int = COUNT_SEED  # which class gets which training count
    defer_share: float = 0.25  # (j): share of the budget drawn class-balanced, at the end
    defer_power: float = 1.0  # (j): balancing exponent of that last stage (1: equal mass per class)
    la_tau: float = 1.0  # (k): logit adjustment strength
    device: str = "cpu"


#: ``--quick``: tiny data, tiny net, 2 seeds (a smoke run in seconds).
QUICK: dict[str, Any] = {
    "samples": 160,
    "batch_size": 8,
    "train_size": 32,
    "image_size": 64,
    "width": 4,
    "seeds": (0, 1),
    "test_per_class": 2,
    "data_scale": 0.05,
}


@dataclass
class RunResult:
    """One (condition, seed) run: its test metrics, wall time and per-epoch loss log (a results.json row)."""

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
    epoch_log: list[dict[str, float | None]] = field(default_factory=list)  # None: NaN (no sample)
    cpu_s: float | None = None  # process CPU time of the run (round 1 did not record it)
