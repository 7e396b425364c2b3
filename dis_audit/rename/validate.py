"""Validating a rename plan: the one gate every plan passes (generated or hand-edited) before a file moves."""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from ..naming import parse_name, split_stem
from ..paths import UnsafePathError, check_relative_path
from ._units import Unit, list_units
from .plan import RenamePlan

#: Longest file name most filesystems accept, in bytes.
NAME_MAX = 255
_UNSAFE_FIELD = re.compile(r"[#/\\\x00-\x1f\x7f]")


def _field_ok(text: str) -> bool:
    """What ``sanitize_field`` would leave unchanged, checked without building a new string."""
    return (
        bool(text) and text == text.strip() and _UNSAFE_FIELD.search(text) is None
        and (text.isascii() or unicodedata.is_normalized("NFC", text))
    )


def validate_plan(
    plan: RenamePlan,
    *,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    datasets: str | Sequence[str] | None = None,
    extend_vocab: bool = False,
    units: list[Unit] | None = None,
    max_problems: int = 200,
) -> list[str]:
    """Check every move of ``plan`` against the tree; sets ``plan.problems`` and ``plan.validated``.

    The same checks run on generated and hand-edited plans: paths stay inside ROOT (also
    through symlinked folders); a move renames a dataset file within its folder and keeps
    its extension; the new name conforms, its class is in the vocabulary (or new under
    ``extend_vocab``); every file of a sample (image and masks) moves to the same new stem;
    no two moves share a source or a target, also ignoring case; no target exists, also
    ignoring case (a case-insensitive filesystem would overwrite it).
    """
    root = plan.root
    problems: list[str] = list(plan.problems)

    def problem(msg: str) -> None:
        if len(problems) < max_problems:
            problems.append(msg)
        elif len(problems) == max_problems:
            problems.append("... more problems not shown")

    moves = [(e, e.new) for e in plan.entries if e.status == "rename" and e.new]
    if not moves:
        plan.problems, plan.validated = problems, not problems
        return problems
    if units is None:
        units, _ = list_units(root, image_dir, mask_dir, datasets)
    unit_of: dict[str, Unit] = {}
    for unit in units:
        for p in unit.images:
            unit_of[p] = unit
        for p in unit.masks:
            unit_of[p] = unit

    root_real = os.path.realpath(root)
    dir_ok: dict[str, bool] = {}
    dir_listing: dict[str, dict[str, str]] = {}  # folder -> casefolded name -> name

    def inside(folder: str) -> bool:
        ok = dir_ok.get(folder)
        if ok is None:
            real = os.path.realpath(os.path.join(root, folder))
            ok = dir_ok[folder] = real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)
        return ok

    def listing(folder: str) -> dict[str, str]:
        names = dir_listing.get(folder)
        if names is None:
            try:
                names = {n.casefold(): n for n in os.listdir(os.path.join(root, folder))}
            except OSError:
                names = {}
            dir_listing[folder] = names
        return names

    vocab = plan.vocabulary
    sources: set[str] = set()
    targets: dict[str, str] = {}  # casefolded target -> source
    stem_of_unit: dict[int, tuple[str, str]] = {}  # id(unit) -> (new stem, first source)
    moved_in_unit: Counter[int] = Counter()
    new_classes: set[str] = set()
    for e, new in moves:
        where = e.note if e.note.startswith("row ") else e.old
        try:
            check_relative_path(e.old, "old path")
            check_relative_path(new, "new path")
        except UnsafePathError as exc:
            problem(f"{where}: {exc}")
            continue
        old_dir, old_name = e.old.rsplit("/", 1) if "/" in e.old else ("", e.old)
        new_dir, new_name = new.rsplit("/", 1) if "/" in new else ("", new)
        if old_dir != new_dir:
            problem(f"{where}: {e.old} -> {new} moves the file to another folder; only renames are allowed")
            continue
        if not inside(old_dir):
            problem(f"{where}: {old_dir} leaves the root (a symbolic link points outside it)")
            continue
        old_ext = split_stem(old_name)[1]
        new_stem, new_ext = split_stem(new_name)
        if old_ext != new_ext:
            problem(f"{where}: {e.old} -> {new} changes the extension")
            continue
        if len(new_name.encode("utf-8", "surrogateescape")) > NAME_MAX:
            problem(f"{where}: new name of {e.old} is longer than {NAME_MAX} bytes")
            continue
        parsed = parse_name(new_stem)
        if not parsed.conforms or not all(_field_ok(f) for f in parsed.fields):
            problem(f"{where}: new name {new_name!r} is not <groupIdx>#<Group>#<classIdx>#<Class>#<originalId>")
            continue
        cls = parsed.class_field or ""  # a conforming name has a (non-empty) class field
        if cls not in vocab:
            suggestion = vocab.suggest(cls)
            if (extend_vocab or e.extends_vocab) and suggestion is None:
                new_classes.add(cls)
            else:
                hint = (f"; did you mean {suggestion!r}?" if suggestion else
                        "; mark the row extends_vocab=yes or pass --extend-vocab to append it")
                problem(f"{where}: class {cls!r} in {new_name!r} is not in the {vocab.source} vocabulary{hint}")
                continue
        owner = unit_of.get(e.old)
        if owner is None:
            what = "does not exist" if not os.path.lexists(os.path.join(root, e.old)) else "is not an image or mask of a dataset"
            problem(f"{where}: {e.old} {what}")
            continue
        seen_stem = stem_of_unit.get(id(owner))
        if seen_stem is None:
            stem_of_unit[id(owner)] = (new_stem, e.old)
        elif seen_stem[0] != new_stem:
            problem(f"{where}: {e.old} -> {new_stem!r} but {seen_stem[1]} of the same sample -> {seen_stem[0]!r}")
            continue
        moved_in_unit[id(owner)] += 1
        if e.old in sources:
            problem(f"{where}: {e.old} appears twice")
            continue
        sources.add(e.old)
        folded = new.casefold()
        if folded in targets:
            other = targets[folded]
            kind = "the same target" if new.casefold() == folded and other else "targets differing only in case"
            problem(f"{where}: collision: {e.old} and {other} both -> {new} ({kind})")
            continue
        targets[folded] = e.old
        existing = listing(new_dir).get(new_name.casefold())
        if existing is not None:
            if existing == new_name:
                problem(f"{where}: target {new} already exists")
            else:
                problem(f"{where}: target {new} clashes with existing {new_dir}/{existing} on a case-insensitive filesystem")
    # Every file of a sample moves, or none does: a lone image rename would orphan its mask.
    for unit_id, (_new_stem, first) in stem_of_unit.items():
        unit = unit_of[first]
        total = len(unit.images) + len(unit.masks)
        if moved_in_unit[unit_id] != total:
            missing = [p for p in unit.images + unit.masks if p not in sources]
            problem(f"{first} is renamed but {', '.join(missing)} of the same sample is not")
    if new_classes and not plan.extended:
        plan.vocabulary = vocab.extended(new_classes)
        plan.extended = list(plan.vocabulary.names[len(vocab):])
    plan.problems = problems
    plan.validated = not problems
    return problems
