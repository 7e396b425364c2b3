"""Planning a rename: resolve each sample's class and group, and build the new names.

``plan_rename`` lists the tree, asks the ``--class-from`` sources for every sample's class,
picks its group and formats the new ``#`` name; ``load_plan`` reads a plan file instead.
Both validate the plan before returning it; neither touches a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..classes_from import ClassResolver, ClassSourceError, MapSource, SampleRef, parse_class_from
from ..naming import FIELD_COUNT, format_name, parse_name, split_path
from ..paths import UnsafePathError
from ..vocab import Vocabulary, VocabularyError, infer_vocabulary
from ._units import list_units
from .groups import DEFAULT_GROUP, GroupTable
from .plan import PlanEntry, ProgressCallback, RenameError, RenamePlan
from .validate import validate_plan


class _GroupChooser:
    """Applies the group precedence of the package docstring, keeping every new name consistent with DIS5K's.

    A DIS5K class takes its DIS5K group and in-group index, as the real DIS5K names have them
    (unless ``--groups`` places it). A group name a table knows (DIS5K's 22, ``--groups``, the
    default ``0#Other``) keeps its index whatever a source says (COD10K's ``1-Aquatic`` is DIS5K's
    ``3#Aquatic``); a new group keeps its source index unless another group has it, else it is
    numbered after the largest known index.
    """

    def __init__(self, user: GroupTable | None) -> None:
        self.user = user
        self.builtin = GroupTable.builtin()
        self.known: dict[str, int] = {DEFAULT_GROUP[1]: DEFAULT_GROUP[0], **self.builtin.index_of_group}
        if user:
            self.known.update(user.index_of_group)
        self.pending: set[str] = set()

    def _group(self, index: int | None, group: str) -> tuple[int | None, str]:
        if group in self.known:
            return self.known[group], group
        if index is not None and index not in self.known.values():
            self.known[group] = index
            return index, group
        self.pending.add(group)
        return None, group  # index decided once all new groups are known

    def choose(self, cls: str, source_group: str | None, source_index: int | None, stem: str) -> tuple[int | None, str]:
        if self.user and cls in self.user.by_class:
            return self.user.by_class[cls]
        if cls in self.builtin.by_class:
            return self.builtin.by_class[cls]
        if source_group:
            return self._group(source_index, source_group)
        parsed = parse_name(stem)
        group_index = parsed.group_index or ""
        if parsed.field_count >= FIELD_COUNT and group_index.isdigit() and parsed.group:
            return self._group(int(group_index), parsed.group)
        return DEFAULT_GROUP

    def assign_pending(self) -> dict[str, int]:
        nxt = max(self.known.values(), default=0) + 1
        out = {}
        for group in sorted(self.pending):
            out[group] = nxt
            nxt += 1
        return out

    def class_indices(self, placed: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The in-group index of each (class, group): DIS5K's for a DIS5K class in its DIS5K group;
        other classes numbered after the largest DIS5K index of their group, in sorted order."""
        out: dict[tuple[str, str], int] = {}
        fresh: dict[str, list[str]] = {}
        for cls, group in placed:
            if cls in self.builtin.class_index and self.builtin.by_class[cls][1] == group:
                out[(cls, group)] = self.builtin.class_index[cls]
            else:
                fresh.setdefault(group, []).append(cls)
        for group, names in fresh.items():
            start = max((self.builtin.class_index[c] for c, (_, g) in self.builtin.by_class.items() if g == group),
                        default=0)
            for i, cls in enumerate(sorted(names), start + 1):
                out[(cls, group)] = i
        return out


def default_vocabulary(classes: Any, manifest: str | os.PathLike | None, *, explicit: bool = True) -> Vocabulary | None:
    """The vocabulary of a plan: ``--classes`` if given (``explicit``), else as ``vocab_choice`` decides.

    With ``explicit=False`` a configured ``classes`` yields to an existing manifest's vocabulary
    that extends it; without ``classes`` the manifest's is used, else DIS5K.
    """
    from ..vocab_choice import choose_vocabulary

    try:
        return choose_vocabulary(classes, manifest, explicit=explicit and classes is not None).vocabulary
    except VocabularyError as exc:
        raise RenameError(str(exc)) from exc


def plan_rename(
    root: str | os.PathLike,
    *,
    class_from: Sequence[str] | None = None,
    classes: str | os.PathLike | Vocabulary | Sequence[str] | None = None,
    extend_vocab: bool = False,
    groups: str | os.PathLike | GroupTable | None = None,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    datasets: str | Sequence[str] | None = None,
    manifest: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
) -> RenamePlan:
    """Plan new names for every sample under ``root``; touches nothing.

    ``class_from``: source specs in order (see ``classes_from``); ``classes``: the
    vocabulary (default: the manifest's, else DIS5K; ``"infer"`` = the classes in the names,
    extended with what the sources find). The plan is validated; ``plan.problems`` lists why
    it would be refused.
    """
    root = Path(root)
    if not root.is_dir():
        raise RenameError(f"root not found or not a folder: {root}")
    vocab = default_vocabulary(classes, manifest)
    units, skipped = list_units(root, image_dir, mask_dir, datasets, progress)
    if vocab is None:  # "infer": the classes the names carry; whatever else the sources find is appended
        vocab = infer_vocabulary(parse_name(u.stem).class_field for u in units)
        extend_vocab = True
    try:
        sources = parse_class_from(class_from)
    except UnsafePathError as exc:  # a map key leaving ROOT refuses the plan, like a bad plan row
        return RenamePlan(root, [], vocab, problems=[str(exc)], skipped=skipped)
    except ClassSourceError as exc:
        raise RenameError(str(exc)) from exc
    if isinstance(groups, (str, os.PathLike)):
        groups = GroupTable.from_file(groups)
    chooser = _GroupChooser(groups)
    resolver = ClassResolver(sources, vocab, extend_vocab)

    # First pass: resolve classes (the final vocabulary, hence class ids, depends on all of them).
    resolved = []
    maps = [s for s in sources if isinstance(s, MapSource)]
    for unit in units:
        ref = SampleRef(unit.stem, unit.images[0], unit.masks[0] if unit.masks else None, unit.dataset, unit.folder)
        resolved.append(resolver.resolve(ref))
        for source in maps:  # a key is used when it matches a sample, even one another source answered
            source.mark(ref)
    final_vocab = resolver.final_vocabulary()

    # Second pass: groups (indices of groups new to every table are assigned once all are known).
    chosen: list[tuple[int | None, str] | None] = []
    for unit, res in zip(units, resolved):
        parsed = parse_name(unit.stem)
        cls = res.class_name if res.ok else None
        if cls is None or (parsed.conforms and parsed.class_field == cls):
            chosen.append(None)
        else:
            chosen.append(chooser.choose(cls, res.group, res.group_index, unit.stem))
    new_indices = chooser.assign_pending()
    class_indices = chooser.class_indices(
        {(res.class_name, grp[1]) for res, grp in zip(resolved, chosen) if grp is not None and res.class_name})

    entries: list[PlanEntry] = []
    unchanged = 0
    for pair_no, (unit, res, grp) in enumerate(zip(units, resolved, chosen)):
        files = [("image", p) for p in unit.images] + [("mask", p) for p in unit.masks]
        cls = res.class_name if res.ok else None
        if cls is None:
            status = "refused" if res.refused else "unresolved"
            for kind, path in files:
                entries.append(PlanEntry(pair_no, unit.dataset, kind, path, None, res.class_name, None, res.source,
                                         status, res.reason or ""))
            continue
        if grp is None:  # a conforming name that already carries the resolved class
            unchanged += len(files)
            continue
        gidx, group = grp
        if gidx is None:
            gidx = new_indices[group]
        parsed = parse_name(unit.stem)
        cid = final_vocab.id_of(cls)
        original = parsed.original_id if parsed.field_count >= FIELD_COUNT else unit.stem
        new_stem = format_name(gidx, group, class_indices[(cls, group)], cls, original)
        for kind, path in files:
            ext = split_path(path)[1]
            folder = path.rsplit("/", 1)[0]
            entries.append(
                PlanEntry(pair_no, unit.dataset, kind, path, f"{folder}/{new_stem}{ext}", res.class_name, cid, res.source,
                          extends_vocab=cls not in vocab)
            )
    plan = RenamePlan(root, entries, final_vocab, unchanged=unchanged,
                      extended=list(final_vocab.names[len(vocab):]), skipped=skipped,
                      unmatched_keys={s.name: s.unmatched_keys() for s in maps})
    validate_plan(plan, image_dir=image_dir, mask_dir=mask_dir, datasets=datasets, extend_vocab=extend_vocab,
                  units=units)
    return plan


def load_plan(
    path: str | os.PathLike,
    root: str | os.PathLike,
    *,
    classes: str | os.PathLike | Vocabulary | Sequence[str] | None = None,
    extend_vocab: bool = False,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    datasets: str | Sequence[str] | None = None,
    manifest: str | os.PathLike | None = None,
) -> RenamePlan:
    """Read a reviewed or hand-edited plan CSV and validate it exactly like a generated plan."""
    root = Path(root)
    if not root.is_dir():
        raise RenameError(f"root not found or not a folder: {root}")
    vocab = default_vocabulary(classes, manifest)
    if vocab is None:
        raise RenameError("--classes infer cannot check a plan file; name a vocabulary")
    plan = RenamePlan.from_csv(path, root, vocab)
    validate_plan(plan, image_dir=image_dir, mask_dir=mask_dir, datasets=datasets, extend_vocab=extend_vocab)
    return plan
