"""DA5xx: the same picture twice: exact and near duplicates, and train/evaluation leakage.

Which dataset is training and which evaluation is decided by :mod:`dis_audit.splits` only.

Cross-file checks: they read the whole manifest (``dup_group``, ``sha1``, ``dataset``) after a
deep scan or a merge, never one sample. Every member of a group gets one finding whose
``related`` lists the other members (capped at ``RELATED_CAP``; ``dup_group`` holds them all).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..findings import Emitter, Rule, Severity
from ..splits import EVAL, TRAIN, dataset_role
from .base import CheckFamily

if TYPE_CHECKING:
    import pyarrow as pa

    from ..manifest import ScanOptions

EXACT_DUPLICATE = Rule(
    "DA501", "exact-duplicate", Severity.WARNING,
    "Byte-identical image files (same SHA-1) within the training data or within one evaluation dataset.",
    "The picture counts twice: in training it gets double weight, in an evaluation set it counts twice in "
    "every score.",
    "Keep one copy (and its mask); delete the others.",
)
NEAR_DUPLICATE = Rule(
    "DA502", "near-duplicate", Severity.INFO,
    "Images whose perceptual hashes are within the near-duplicate distance (re-encoded, resized or "
    "lightly edited copies of one picture).",
    "Near copies add little information and over-weight one scene; they are often the same photo "
    "exported twice.",
    "Look at the group; keep one copy unless the differences are intended (augmentations, bursts).",
)
TRAIN_EVAL_LEAKAGE = Rule(
    "DA503", "train-eval-leakage", Severity.ERROR,
    "The same picture (exact or near copy) is in a training dataset and in an evaluation dataset.",
    "The model is tested on pictures it trained on, which inflates every reported score; results are not "
    "comparable with published ones.",
    "Remove the copies from the training dataset (keep the benchmark intact); use --eval-datasets if the "
    "dataset names do not say which is which.",
)
CROSS_EVAL_DUPLICATE = Rule(
    "DA504", "cross-eval-duplicate", Severity.WARNING,
    "The same picture is in two different evaluation datasets.",
    "Averages over the evaluation sets count it twice, and the splits are less independent than they look.",
    "Keep it in one evaluation dataset.",
)

#: At most this many other members are listed in a finding's ``related`` field.
RELATED_CAP = 50


class DuplicateChecks(CheckFamily):
    prefix = "DA5"
    title = "duplicates"
    rules = (EXACT_DUPLICATE, NEAR_DUPLICATE, TRAIN_EVAL_LEAKAGE, CROSS_EVAL_DUPLICATE)
    cross_file = ("DA501", "DA502", "DA503", "DA504")

    def check_manifest(self, table: pa.Table, emit: Emitter, options: ScanOptions) -> None:
        if "dup_group" not in table.column_names or table.column("dup_group").null_count == table.num_rows:
            return
        cols = table.select(["image_path", "dataset", "sha1", "dup_group"]).to_pydict()
        members: dict[int, list[int]] = defaultdict(list)
        for row, group in enumerate(cols["dup_group"]):
            if group is not None:
                members[group].append(row)
        eval_names = options.eval_datasets
        distance = options.near_dup_distance
        role = {ds: dataset_role(ds, eval_names) for ds in set(cols["dataset"])}
        for group in sorted(members):
            rows = members[group]
            datasets = [cols["dataset"][r] for r in rows]
            roles = {role[ds] for ds in datasets}
            eval_sets = sorted({ds for ds in datasets if role[ds] == EVAL})
            train_sets = sorted({ds for ds in datasets if role[ds] == TRAIN})
            for r in rows:
                others = [o for o in rows if o != r]
                path, ds, sha = cols["image_path"][r], cols["dataset"][r], cols["sha1"][r]
                emit.dataset = ds
                exact = [o for o in others if sha is not None and cols["sha1"][o] == sha]
                near = [o for o in others if o not in exact]
                how = _how(len(exact), len(near), distance)
                if TRAIN in roles and EVAL in roles:
                    side = eval_sets if role[ds] == TRAIN else train_sets
                    label = "evaluation" if role[ds] == TRAIN else "training"
                    emit.emit(
                        TRAIN_EVAL_LEAKAGE, path,
                        f"duplicate group {group} ({how}) spans training and evaluation: also in {label} dataset "
                        f"{', '.join(side)}",
                        related=_related(cols, others),
                    )
                elif len(eval_sets) > 1:
                    emit.emit(
                        CROSS_EVAL_DUPLICATE, path,
                        f"duplicate group {group} ({how}) spans evaluation datasets {', '.join(eval_sets)}",
                        related=_related(cols, others),
                    )
                else:
                    if exact:
                        emit.emit(
                            EXACT_DUPLICATE, path,
                            f"byte-identical to {_count(len(exact), 'other file')} (duplicate group {group})",
                            related=_related(cols, exact),
                        )
                    if near:
                        emit.emit(
                            NEAR_DUPLICATE, path,
                            f"perceptually near-identical to {_count(len(near), 'other image')} "
                            f"(duplicate group {group}{_within(distance)})",
                            related=_related(cols, near),
                        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _within(distance: Any) -> str:
    return f", pHash distance <= {distance}" if distance is not None else ""


def _how(n_exact: int, n_near: int, distance: Any) -> str:
    parts = []
    if n_exact:
        parts.append(f"{_count(n_exact, 'exact copy')}".replace("copys", "copies"))
    if n_near:
        parts.append(f"{_count(n_near, 'near copy')}".replace("copys", "copies") + _within(distance))
    return " and ".join(parts)


def _related(cols: dict[str, list], rows: list[int]) -> list[str]:
    return [cols["image_path"][o] for o in rows[:RELATED_CAP]]
