"""Rename samples to the ``#`` convention (image and mask together), safely and reversibly.

Flow: ``plan_rename`` lists the tree, resolves each sample's class (``classes_from``) and
builds a ``RenamePlan``; ``validate_plan`` refuses the whole plan on any collision, existing
target or path leaving ROOT; ``apply_plan`` journals every move (``journal``) before the
first one, moves with a no-clobber rename and rewrites the manifest; ``resume`` and ``undo``
replay a journal after a crash or to restore the original names. ``relabel_manifest`` writes
resolved classes into the manifest only.

New names: ``<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>.<ext>`` where

* ``classIdx`` is the class id in the vocabulary (0-based; BiRefNet's id for DIS5K);
* the group comes, first match wins, from ``--groups FILE``, the class source (COD10K's
  super-class, a regex ``group``, a map's third column), the DIS5K group of the class, the
  existing name's group fields, else ``0#Other``; group names not in a table get indices
  after the largest known one, in sorted order;
* ``originalId`` is the old stem (for a ``#`` name, the part after the class field),
  sanitized so it holds no ``#``, ``/``, ``\\`` or control characters.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .classes_from import (
    ClassResolver,
    ClassSourceError,
    SampleRef,
    UnsafePathError,
    check_relative_path,
    parse_class_from,
)
from .journal import (
    JOURNAL_SUFFIX,
    JournalError,
    JournalState,
    JournalWriter,
    create_journal,
    journal_dir,
    list_journals,
    new_journal_name,
    read_journal,
    root_lock,
    run_moves,
)
from .layout import LayoutError, discover_datasets, list_dataset, select_datasets
from .naming import FIELD_COUNT, format_name, parse_name, sanitize_field, split_path, split_stem
from .vocab import Vocabulary, VocabularyError, builtin_dis5k, infer_vocabulary, resolve_vocabulary

if TYPE_CHECKING:
    import pyarrow as pa

ProgressCallback = Callable[[str, int, int], None]
#: Longest file name most filesystems accept, in bytes.
NAME_MAX = 255
DEFAULT_GROUP = (0, "Other")
PLAN_COLUMNS = ("pair", "dataset", "kind", "old", "new", "class", "class_id", "source", "status", "note")


class RenameError(Exception):
    """The rename cannot run (bad root, option, map or plan file, IO error): exit 2."""


class PlanRefused(Exception):
    """The plan is unsafe as a whole; nothing was touched. ``problems`` lists why: exit 1."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"plan refused: {len(self.problems)} problem(s); first: {self.problems[0] if self.problems else ''}")


# ----------------------------------------------------------------------------- groups

@dataclass
class GroupTable:
    """Class -> (group index, group name), and group name -> index, for new names."""

    by_class: dict[str, tuple[int, str]] = field(default_factory=dict)
    index_of_group: dict[str, int] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> GroupTable:
        """DIS5K's 22 groups and the group of each of its 225 classes."""
        text = resources.files("dis_audit").joinpath("data/dis5k_groups.txt").read_text(encoding="utf-8")
        table = cls()
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, gidx, group, _ = line.split("\t")
            table.by_class[name] = (int(gidx), group)
            table.index_of_group.setdefault(group, int(gidx))
        return table

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> GroupTable:
        """A CSV ``class,group[,group_idx]`` (header optional). Without indices, groups are numbered 1.. in order."""
        table = cls()
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
        except OSError as exc:
            raise RenameError(f"cannot read groups file {path}: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, csv.Error) as exc:
            raise RenameError(f"cannot read groups file {path}: {exc}") from exc
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["class", "group"]:
            rows = rows[1:]
        for lineno, row in enumerate(rows, 1):
            if not row or not any(c.strip() for c in row) or row[0].startswith("#"):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise RenameError(f"{path}:{lineno}: expected 'class,group[,group_idx]'")
            name, group = row[0].strip(), row[1].strip()
            if sanitize_field(group) != group:
                raise RenameError(f"{path}:{lineno}: group {group!r} cannot be a name field")
            if len(row) > 2 and row[2].strip():
                try:
                    gidx = int(row[2])
                except ValueError:
                    raise RenameError(f"{path}:{lineno}: group index {row[2]!r} is not a whole number") from None
                known = table.index_of_group.get(group)
                if known is not None and known != gidx:
                    raise RenameError(f"{path}:{lineno}: group {group!r} has indices {known} and {gidx}")
            else:
                gidx = table.index_of_group.get(group, len(table.index_of_group) + 1)
            table.index_of_group.setdefault(group, gidx)
            table.by_class[name] = (gidx, group)
        return table


class _GroupChooser:
    """Applies the group precedence of the module docstring; numbers unknown groups after the known ones."""

    def __init__(self, user: GroupTable | None) -> None:
        self.user = user
        self.builtin = GroupTable.builtin()
        self.known: dict[str, int] = dict(self.builtin.index_of_group)
        if user:
            self.known.update(user.index_of_group)
        self.pending: set[str] = set()

    def choose(self, cls: str, source_group: str | None, source_index: int | None, stem: str) -> tuple[int | None, str]:
        if self.user and cls in self.user.by_class:
            return self.user.by_class[cls]
        if source_group:
            if source_index is not None:
                return source_index, source_group
            if source_group in self.known:
                return self.known[source_group], source_group
            self.pending.add(source_group)
            return None, source_group  # index decided once all new groups are known
        if cls in self.builtin.by_class:
            return self.builtin.by_class[cls]
        parsed = parse_name(stem)
        if parsed.field_count >= FIELD_COUNT and (parsed.group_index or "").isdigit() and parsed.group:
            return int(parsed.group_index), parsed.group
        return DEFAULT_GROUP

    def assign_pending(self) -> dict[str, int]:
        nxt = max(self.known.values(), default=0) + 1
        out = {}
        for group in sorted(self.pending):
            out[group] = nxt
            nxt += 1
        return out


# ----------------------------------------------------------------------------- the plan

@dataclass(slots=True)
class PlanEntry:
    """One file in the plan. ``status``: ``rename``, ``unresolved`` (no class) or ``refused``."""

    pair: int
    dataset: str
    kind: str  # "image" or "mask"
    old: str
    new: str | None
    class_name: str | None = None
    class_id: int | None = None
    source: str | None = None
    status: str = "rename"
    note: str = ""


@dataclass
class RenamePlan:
    """What a rename would do: the moves (image and mask rows adjacent) and what it leaves alone."""

    root: Path
    entries: list[PlanEntry]
    vocabulary: Vocabulary
    unchanged: int = 0
    extended: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    validated: bool = False
    skipped: dict[str, int] = field(default_factory=dict)  # orphan masks and the like, by reason

    @property
    def moves(self) -> list[tuple[str, str]]:
        return [(e.old, e.new) for e in self.entries if e.status == "rename" and e.new]

    @property
    def unresolved(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.status != "rename"]

    def summary(self) -> dict[str, Any]:
        """Counts for the ``--json`` summary and the report."""
        renames = [e for e in self.entries if e.status == "rename"]
        unresolved_pairs = {e.pair for e in self.entries if e.status == "unresolved"}
        refused_pairs = {e.pair for e in self.entries if e.status == "refused"}
        return {
            "root": str(self.root),
            "pairs_to_rename": len({e.pair for e in renames}),
            "files_to_rename": len(renames),
            "unchanged_files": self.unchanged,
            "unresolved_pairs": len(unresolved_pairs),
            "refused_pairs": len(refused_pairs),
            "by_source": dict(sorted(Counter(e.source for e in renames if e.kind == "image" and e.source).items())),
            "extended_classes": list(self.extended),
            "vocabulary_source": self.vocabulary.source,
            "vocabulary_size": len(self.vocabulary),
            "skipped": dict(self.skipped),
            "problems": list(self.problems),
            "unresolved": [
                {"path": e.old, "status": e.status, "reason": e.note} for e in self.entries
                if e.status != "rename" and e.kind == "image"
            ],
        }

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write every row (renames, unresolved and refused files) as CSV, atomically."""
        from .manifest import atomic_write_bytes

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(PLAN_COLUMNS)
                for e in self.entries:
                    writer.writerow([
                        e.pair, e.dataset, e.kind, e.old, e.new or "", e.class_name or "",
                        "" if e.class_id is None else e.class_id, e.source or "", e.status, e.note,
                    ])

        try:
            atomic_write_bytes(path, write)
        except OSError as exc:
            raise RenameError(f"cannot write plan {path}: {exc.strerror or exc}") from exc
        return Path(path)

    @classmethod
    def from_csv(cls, path: str | os.PathLike, root: str | os.PathLike, vocabulary: Vocabulary) -> RenamePlan:
        """Read a (possibly hand-edited) plan. A row is a move when ``new`` is set and differs from ``old``.

        Malformed rows become ``problems`` (so the whole plan is refused), never exceptions.
        """
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
        except FileNotFoundError as exc:
            raise RenameError(f"plan file not found: {path}") from exc
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RenameError(f"cannot read plan {path}: {exc}") from exc
        if not rows:
            raise RenameError(f"plan {path} is empty")
        header = [c.strip().lower() for c in rows[0]]
        if "old" not in header or "new" not in header:
            raise RenameError(f"plan {path} needs a header with at least the columns 'old' and 'new'")
        col = {name: header.index(name) for name in header}
        entries: list[PlanEntry] = []
        problems: list[str] = []
        for lineno, row in enumerate(rows[1:], 2):
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))

            def get(name: str, row: list[str] = row) -> str:
                return row[col[name]] if name in col else ""

            old, new = get("old"), get("new")
            if not new or new == old:
                continue
            try:
                pair = int(get("pair") or -1)
            except ValueError:
                pair = -1
            entries.append(PlanEntry(
                pair if pair >= 0 else lineno, get("dataset"), get("kind") or "file", old, new,
                get("class") or None, None, get("source") or "plan", "rename", f"row {lineno}",
            ))
        return cls(root=Path(root), entries=entries, vocabulary=vocabulary, problems=problems)


@dataclass
class _Unit:
    """All files of one sample key in one dataset: its image(s) and mask(s); renamed as one."""

    dataset: str
    key: str
    images: list[str] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.key.rsplit("/", 1)[0] if "/" in self.key else ""


def _list_units(
    root: Path, image_dir: str | None, mask_dir: str | None, datasets: str | Sequence[str] | None,
    progress: ProgressCallback | None = None,
) -> tuple[list[_Unit], dict[str, int]]:
    try:
        found = discover_datasets(root, image_dir, mask_dir)
        if not found:
            raise LayoutError(f"no dataset found under {root} (see `dis-audit scan --help` for the layouts it knows)")
        chosen = select_datasets(found, datasets)
    except LayoutError as exc:
        raise RenameError(str(exc)) from exc
    units: list[_Unit] = []
    skipped: Counter[str] = Counter()
    for n, ds in enumerate(chosen, 1):
        listing = list_dataset(root, ds)
        by_key: dict[str, _Unit] = {}
        img_prefix = ds.image_dir + "/"
        for pair in listing.pairs:
            name = pair.image_path[len(img_prefix):]
            key = name[: len(name) - len(split_path(name)[1])]
            unit = by_key.get(key)
            if unit is None:
                unit = by_key[key] = _Unit(ds.name, key)
            if pair.image_path not in unit.images:
                unit.images.append(pair.image_path)
            if pair.mask_path and pair.mask_path not in unit.masks:
                unit.masks.append(pair.mask_path)
        # A stem with several masks (x.png and x.jpg): all of them move with the image,
        # or the pair would silently change its mask.
        for key, candidates in listing.ambiguous:
            unit = by_key.get(key)
            if unit is None:
                continue
            for path in candidates:
                target = unit.images if path.startswith(img_prefix) else unit.masks
                if path not in target:
                    target.append(path)
        skipped["orphan mask"] += len(listing.orphan_masks)
        skipped["non-image file"] += listing.clutter
        skipped["undecodable name"] += len(listing.undecodable)
        skipped["unreadable path"] += len(listing.unreadable)
        units.extend(by_key[k] for k in sorted(by_key))
        if progress:
            progress("list", n, len(chosen))
    return units, {k: v for k, v in skipped.items() if v}


def default_vocabulary(classes: Any, manifest: str | os.PathLike | None) -> Vocabulary | None:
    """``--classes`` if given; else the vocabulary of an existing manifest (ids must match it); else DIS5K."""
    if classes is not None:
        try:
            return resolve_vocabulary(classes)
        except VocabularyError as exc:
            raise RenameError(str(exc)) from exc
    if manifest is not None and Path(manifest).is_file():
        from .manifest import ManifestError, read_manifest_table

        try:
            _, meta = read_manifest_table(manifest)
        except ManifestError as exc:
            raise RenameError(str(exc)) from exc
        if meta.vocabulary:
            return Vocabulary(tuple(meta.vocabulary), source="manifest")
    return builtin_dis5k()


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
    units, skipped = _list_units(root, image_dir, mask_dir, datasets, progress)
    if vocab is None:  # "infer": the classes the names carry; whatever else the sources find is appended
        vocab = infer_vocabulary(parse_name(u.stem).class_field for u in units)
        extend_vocab = True
    try:
        sources = parse_class_from(class_from)
    except ClassSourceError as exc:
        if isinstance(exc, UnsafePathError):
            plan = RenamePlan(root, [], vocab, problems=[str(exc)], skipped=skipped)
            return plan
        raise RenameError(str(exc)) from exc
    if isinstance(groups, (str, os.PathLike)):
        groups = GroupTable.from_file(groups)
    chooser = _GroupChooser(groups)
    resolver = ClassResolver(sources, vocab, extend_vocab)

    # First pass: resolve classes (the final vocabulary, hence class ids, depends on all of them).
    resolved = []
    for unit in units:
        ref = SampleRef(unit.stem, unit.images[0], unit.masks[0] if unit.masks else None, unit.dataset, unit.folder)
        resolved.append(resolver.resolve(ref))
    final_vocab = resolver.final_vocabulary()

    # Second pass: groups (indices of groups new to every table are assigned once all are known).
    chosen: list[tuple[int | None, str] | None] = []
    for unit, res in zip(units, resolved):
        parsed = parse_name(unit.stem)
        if not res.ok or (parsed.conforms and parsed.class_field == res.class_name):
            chosen.append(None)
        else:
            chosen.append(chooser.choose(res.class_name, res.group, res.group_index, unit.stem))
    new_indices = chooser.assign_pending()

    entries: list[PlanEntry] = []
    unchanged = 0
    for pair_no, (unit, res, grp) in enumerate(zip(units, resolved, chosen)):
        files = [("image", p) for p in unit.images] + [("mask", p) for p in unit.masks]
        if not res.ok:
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
        cid = final_vocab.id_of(res.class_name)
        original = parsed.original_id if parsed.field_count >= FIELD_COUNT else unit.stem
        new_stem = format_name(gidx, group, cid, res.class_name, original)
        for kind, path in files:
            ext = split_path(path)[1]
            folder = path.rsplit("/", 1)[0]
            entries.append(
                PlanEntry(pair_no, unit.dataset, kind, path, f"{folder}/{new_stem}{ext}", res.class_name, cid, res.source)
            )
    plan = RenamePlan(root, entries, final_vocab, unchanged=unchanged,
                      extended=list(final_vocab.names[len(vocab):]), skipped=skipped)
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


# ----------------------------------------------------------------------------- validation

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
    units: list[_Unit] | None = None,
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

    moves = [e for e in plan.entries if e.status == "rename" and e.new]
    if not moves:
        plan.problems, plan.validated = problems, not problems
        return problems
    if units is None:
        units, _ = _list_units(root, image_dir, mask_dir, datasets)
    unit_of: dict[str, _Unit] = {}
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
    for e in moves:
        where = e.note if e.note.startswith("row ") else e.old
        try:
            check_relative_path(e.old, "old path")
            check_relative_path(e.new, "new path")
        except UnsafePathError as exc:
            problem(f"{where}: {exc}")
            continue
        old_dir, old_name = e.old.rsplit("/", 1) if "/" in e.old else ("", e.old)
        new_dir, new_name = e.new.rsplit("/", 1) if "/" in e.new else ("", e.new)
        if old_dir != new_dir:
            problem(f"{where}: {e.old} -> {e.new} moves the file to another folder; only renames are allowed")
            continue
        if not inside(old_dir):
            problem(f"{where}: {old_dir} leaves the root (a symbolic link points outside it)")
            continue
        old_ext = split_stem(old_name)[1]
        new_stem, new_ext = split_stem(new_name)
        if old_ext != new_ext:
            problem(f"{where}: {e.old} -> {e.new} changes the extension")
            continue
        if len(new_name.encode("utf-8", "surrogateescape")) > NAME_MAX:
            problem(f"{where}: new name of {e.old} is longer than {NAME_MAX} bytes")
            continue
        parsed = parse_name(new_stem)
        if not parsed.conforms or not all(_field_ok(f) for f in parsed.fields):
            problem(f"{where}: new name {new_name!r} is not <groupIdx>#<Group>#<classIdx>#<Class>#<originalId>")
            continue
        cls = parsed.class_field
        if cls not in vocab:
            if extend_vocab and vocab.suggest(cls) is None:
                new_classes.add(cls)
            else:
                problem(f"{where}: class {cls!r} in {new_name!r} is not in the {vocab.source} vocabulary")
                continue
        unit = unit_of.get(e.old)
        if unit is None:
            what = "does not exist" if not os.path.lexists(os.path.join(root, e.old)) else "is not an image or mask of a dataset"
            problem(f"{where}: {e.old} {what}")
            continue
        seen_stem = stem_of_unit.get(id(unit))
        if seen_stem is None:
            stem_of_unit[id(unit)] = (new_stem, e.old)
        elif seen_stem[0] != new_stem:
            problem(f"{where}: {e.old} -> {new_stem!r} but {seen_stem[1]} of the same sample -> {seen_stem[0]!r}")
            continue
        moved_in_unit[id(unit)] += 1
        if e.old in sources:
            problem(f"{where}: {e.old} appears twice")
            continue
        sources.add(e.old)
        folded = e.new.casefold()
        if folded in targets:
            other = targets[folded]
            kind = "the same target" if e.new.casefold() == folded and other else "targets differing only in case"
            problem(f"{where}: collision: {e.old} and {other} both -> {e.new} ({kind})")
            continue
        targets[folded] = e.old
        existing = listing(new_dir).get(new_name.casefold())
        if existing is not None:
            if existing == new_name:
                problem(f"{where}: target {e.new} already exists")
            else:
                problem(f"{where}: target {e.new} clashes with existing {new_dir}/{existing} on a case-insensitive filesystem")
    # Every file of a sample moves, or none does: a lone image rename would orphan its mask.
    for unit_id, (new_stem, first) in stem_of_unit.items():
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


# ----------------------------------------------------------------------------- apply, resume, undo

@dataclass
class ApplyResult:
    """What an apply, resume or undo did."""

    journal: Path | None  # None when there was nothing to do
    action: str  # "apply", "resume" or "undo"
    moved: int = 0
    already: int = 0
    method: str = ""
    manifest: Path | None = None
    seconds: float = 0.0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "journal": str(self.journal) if self.journal else None, "moved": self.moved, "already_done": self.already,
            "method": self.method, "manifest": str(self.manifest) if self.manifest else None,
            "seconds": round(self.seconds, 3), "note": self.note,
        }


def _sha256(path: str | os.PathLike) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else (
                hashlib.sha256(fh.read()).hexdigest()
            )
    except FileNotFoundError:
        return None


def apply_plan(
    plan: RenamePlan,
    *,
    manifest: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    batch: int = 4096,
) -> ApplyResult:
    """Execute a validated plan: journal it, move every file, rewrite the manifest.

    ``manifest``: the manifest to keep true (default: ``ROOT/manifest.parquet`` when it
    exists; pass ``False``-y path ``""`` to skip). Raises PlanRefused when the plan has
    problems, RenameError/JournalError on IO trouble (the journal then allows resume/undo).
    """
    root = plan.root
    if not plan.validated:
        validate_plan(plan)
    if plan.problems:
        raise PlanRefused(plan.problems)
    moves = plan.moves
    started = time.perf_counter()
    if not moves:  # nothing to do: no journal, no lock folder, the tree stays exactly as it is
        return ApplyResult(None, "apply", note="nothing to rename")
    manifest_path = _manifest_path(root, manifest)
    with root_lock(root):
        name = new_journal_name()
        header: dict[str, Any] = {"type": "header", "root": str(Path(root).resolve()), "extended": list(plan.extended), "manifest": None}
        if manifest_path is not None:
            # The backup is complete before the journal exists, so every journal can restore it.
            backup = journal_dir(root) / (name[: -len(JOURNAL_SUFFIX)] + ".manifest.parquet")
            shutil.copyfile(manifest_path, backup)
            header["manifest"] = str(Path(manifest_path).resolve())
            header["manifest_backup"] = backup.name
            header["manifest_sha256"] = _sha256(manifest_path)
        journal = create_journal(root, moves, header, name=name)
        result = ApplyResult(journal, "apply")
        with JournalWriter(journal) as writer:
            counts = run_moves(root, moves, writer, batch=batch, progress=progress, stage="rename")
            writer.mark({"type": "complete"})
            result.moved, result.already, result.method = counts["moved"], counts["already"], counts["method"]
            if manifest_path is not None:
                result.manifest = _finish_manifest(JournalState(journal, header, moves), writer)
    result.seconds = time.perf_counter() - started
    return result


def _manifest_path(root: Path, manifest: str | os.PathLike | None) -> Path | None:
    if manifest == "":
        return None
    path = Path(manifest) if manifest is not None else Path(root) / "manifest.parquet"
    return path if path.is_file() else None


def _finish_manifest(state: JournalState, writer: JournalWriter) -> Path | None:
    """After all moves: rewrite the manifest from its backup (deterministic, so a resume can redo it)."""
    header = state.header
    if not header.get("manifest"):
        return None
    from .manifest import read_manifest_table, write_manifest

    backup = state.path.parent / header["manifest_backup"]
    table, _ = read_manifest_table(backup)
    mapping = dict(state.moves)
    table = remap_manifest(table, mapping, extra_classes=header.get("extended") or [])
    path = write_manifest(table, header["manifest"])
    writer.mark({"type": "manifest", "sha256": _sha256(path)})
    return path


def find_journal(root: str | os.PathLike, journal: str | os.PathLike | None, want: str) -> JournalState:
    """The journal to resume (``want="resume"``) or undo (``want="undo"``): the named one, or the latest that fits."""
    root = Path(root)
    if journal is not None:
        path = Path(journal)
        if not path.is_absolute() and not path.exists():
            path = journal_dir(root) / path
        return read_journal(path)
    candidates = list_journals(root)
    if not candidates:
        raise JournalError(f"no rename journal under {journal_dir(root)}")
    for path in reversed(candidates):
        try:
            state = read_journal(path)
        except JournalError:
            continue  # a journal whose plan was never fully written: nothing moved under it
        if want == "undo" and state.status != "undone":
            return state
        if want == "resume" and not state.undone and (not state.complete or _manifest_pending(state)):
            return state
    raise JournalError(
        "no rename to undo (every journal is undone)" if want == "undo" else "no interrupted rename to resume"
    )


def _manifest_pending(state: JournalState) -> bool:
    return bool(state.header.get("manifest")) and state.last("manifest") is None


def _precheck(root: Path, moves: Sequence[tuple[str, str]]) -> None:
    """Before touching anything: every move must be done, or not done, or half-done by the link fallback."""
    bad = []
    for src, dst in moves:
        s, d = os.path.lexists(os.path.join(root, src)), os.path.lexists(os.path.join(root, dst))
        if s and d:
            try:
                if os.path.samefile(os.path.join(root, src), os.path.join(root, dst)):
                    continue
            except OSError:
                pass
            bad.append(f"both {src} and {dst} exist")
        elif not s and not d:
            bad.append(f"neither {src} nor {dst} exists")
        if len(bad) >= 20:
            break
    if bad:
        raise JournalError("the tree no longer matches the journal; nothing was changed: " + "; ".join(bad))


def resume(
    root: str | os.PathLike, journal: str | os.PathLike | None = None, *, progress: ProgressCallback | None = None,
) -> ApplyResult:
    """Complete an interrupted apply (default: the latest unfinished journal)."""
    root = Path(root)
    started = time.perf_counter()
    with root_lock(root):
        state = find_journal(root, journal, "resume")
        if state.undone:
            raise JournalError(f"{state.path.name} was (partly) undone; run --undo again to finish restoring")
        result = ApplyResult(state.path, "resume")
        with JournalWriter(state.path) as writer:
            if not state.complete:
                _precheck(root, state.moves[state.done:])
                counts = run_moves(root, state.moves, writer, start=state.done, progress=progress, stage="resume")
                writer.mark({"type": "complete"})
                result.moved, result.already, result.method = counts["moved"], counts["already"], counts["method"]
                result.already += state.done
            else:
                result.note = "all moves were already done"
            if _manifest_pending(read_journal(state.path)):
                result.manifest = _finish_manifest(read_journal(state.path), writer)
    result.seconds = time.perf_counter() - started
    return result


def undo(
    root: str | os.PathLike, journal: str | os.PathLike | None = None, *, progress: ProgressCallback | None = None,
) -> ApplyResult:
    """Restore the original names of a journal (default: the latest not yet undone), and the manifest."""
    root = Path(root)
    started = time.perf_counter()
    with root_lock(root):
        state = find_journal(root, journal, "undo")
        if state.undo_complete:
            raise JournalError(f"{state.path.name} is already undone")
        reverse = [(dst, src) for src, dst in reversed(state.moves)]
        _precheck(root, reverse[state.undone:])
        result = ApplyResult(state.path, "undo")
        with JournalWriter(state.path) as writer:
            counts = run_moves(root, reverse, writer, start=state.undone, record="undo-done", progress=progress,
                               stage="undo")
            result.moved, result.already, result.method = counts["moved"], counts["already"], counts["method"]
            result.manifest = _undo_manifest(state, dict(reverse))
            writer.mark({"type": "undone"})
    result.seconds = time.perf_counter() - started
    return result


def _undo_manifest(state: JournalState, reverse: dict[str, str]) -> Path | None:
    """Put the manifest back: the backup itself when the manifest is still what apply wrote, else remap it."""
    header = state.header
    if not header.get("manifest"):
        return None
    from .manifest import atomic_write_bytes, read_manifest_table, write_manifest

    path = Path(header["manifest"])
    backup = state.path.parent / header["manifest_backup"]
    current = _sha256(path)
    written = state.last("manifest")
    if current is not None and current == header.get("manifest_sha256"):
        return path  # apply never got to rewrite it: it is the original
    if current is None or (written is not None and current == written.get("sha256")):
        data = backup.read_bytes()
        atomic_write_bytes(path, lambda tmp: Path(tmp).write_bytes(data))
        return path
    # Rewritten since (e.g. re-scanned): keep the user's rows, put the old paths and labels back.
    table, _ = read_manifest_table(path)
    return write_manifest(remap_manifest(table, reverse), path)


# ----------------------------------------------------------------------------- the manifest

def _naming_view(table: pa.Table):
    from .findings import RuleSelection
    from .manifest import METADATA_KEY, ManifestMeta
    from .rules import ALL_RULES

    meta = ManifestMeta.from_bytes(table.schema.metadata[METADATA_KEY])
    selection = RuleSelection.parse(meta.options.select or None, meta.options.ignore or None, ALL_RULES)
    return meta, selection, ALL_RULES


def _label_status(codes: Iterable[str], rules: dict) -> str:
    from .findings import LabelEffect
    from .manifest import LABEL_OK

    for code in sorted(codes):
        rule = rules.get(code)
        if rule is not None and rule.label is not LabelEffect.NONE:
            return code
    return LABEL_OK


def _replace_columns(table: pa.Table, cols: dict[str, list], meta: Any, findings: list[dict] | None) -> pa.Table:
    import pyarrow as pa

    from .manifest import METADATA_KEY, with_findings

    for name, values in cols.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
    metadata = dict(table.schema.metadata or {})
    metadata[METADATA_KEY] = meta.to_bytes()
    table = table.replace_schema_metadata(metadata)
    if findings is not None:
        table = with_findings(table, findings)
    return table.sort_by("image_path")


def remap_manifest(table: pa.Table, mapping: dict[str, str], extra_classes: Sequence[str] = ()) -> pa.Table:
    """Move manifest rows to new paths and recompute their naming labels from the new names.

    ``mapping``: old relative path -> new (images and masks). For every moved row the
    naming rules (DA1xx) run again on the new name, so class fields, ids, ``label_status``
    and ``issues`` say what a re-scan would; other rules' codes are kept. Findings stored
    with the manifest follow their files. New classes are appended to the vocabulary.
    """
    from .findings import Emitter
    from .manifest import read_findings
    from .probe import FileInfo
    from .rules.base import Sample
    from .rules.naming import NamingChecks

    meta, selection, rules = _naming_view(table)
    extra = [c for c in extra_classes if c not in meta.vocabulary]
    vocab = Vocabulary(tuple(meta.vocabulary), source="manifest")
    targets = {parse_name(split_path(n)[0]).class_field for n in mapping.values()}
    # Classes the new names carry must be in the manifest's vocabulary, appended at the end.
    extra += [c for c in targets if c and c not in vocab and c not in extra and vocab.suggest(c) is None]
    if extra:
        vocab = vocab.extended(extra)
        meta.vocabulary = list(vocab.names)
    names = ("image_path", "mask_path", "dataset", "class_name", "class_id", "label_status", "issues", "class_field")
    cols = {n: table.column(n).to_pylist() for n in names}
    checks = NamingChecks()
    emitter = Emitter(selection)
    new_findings: list[dict] = []
    dummy = FileInfo(None, None, None, None, None, None)
    for i, old in enumerate(cols["image_path"]):
        new = mapping.get(old)
        if new is None:
            continue
        mask = cols["mask_path"][i]
        mask = mapping.get(mask, mask) if mask is not None else None
        cols["image_path"][i], cols["mask_path"][i] = new, mask
        stem, ext = split_path(new)
        name = parse_name(stem)
        emitter.reset()
        emitter.dataset = cols["dataset"][i]
        sample = Sample(
            cols["dataset"][i], new, mask, False, True, name, dummy, None, vocab,
            ext, split_path(mask)[1] if mask else "",
        )
        checks.check_sample(sample, emitter)
        new_findings.extend(f.to_dict() for f in emitter.findings)
        codes = sorted({c for c in (cols["issues"][i] or []) if not c.startswith("DA1")} | set(emitter.codes))
        status = emitter.label_status or _label_status((c for c in codes if not c.startswith("DA1")), rules)
        cls = name.class_field
        cols["issues"][i] = codes
        cols["label_status"][i] = status
        cols["class_field"][i] = cls
        cols["class_name"][i] = cls if cls in vocab else None
        cols["class_id"][i] = vocab.id_of(cls) if status == "ok" else -1
    findings = []
    for f in read_findings(table):
        if f.get("path") in mapping:
            if f.get("code", "").startswith("DA1"):
                continue  # recomputed above from the new name
            f = dict(f, path=mapping[f["path"]])
        if f.get("related"):
            f = dict(f, related=[mapping.get(p, p) for p in f["related"]])
        findings.append(f)
    findings.extend(new_findings)
    findings.sort(key=lambda f: (f.get("path", ""), f.get("code", "")))
    del cols["dataset"]
    return _replace_columns(table, cols, meta, findings)


@dataclass
class RelabelResult:
    """What ``relabel_manifest`` changed."""

    manifest: Path
    rows: int
    relabelled: int
    unresolved: list[dict[str, str]]
    blocked: int  # rows with a class but still -1 for a non-naming reason (missing mask, ...)
    extended: list[str]
    by_source: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": str(self.manifest), "rows": self.rows, "relabelled": self.relabelled,
            "unresolved_rows": len(self.unresolved), "unresolved": self.unresolved, "blocked_rows": self.blocked,
            "extended_classes": self.extended, "by_source": self.by_source,
        }


def relabel_manifest(
    manifest: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    class_from: Sequence[str] | None = None,
    extend_vocab: bool = False,
    dry_run: bool = False,
) -> RelabelResult:
    """Resolve each row's class like rename does and write it into the manifest only (files untouched).

    Ids are positions in the manifest's vocabulary (extended at the end under
    ``extend_vocab``). A later ``scan`` recomputes labels from the names again, so use
    ``rename`` for a permanent fix.
    """
    from .manifest import ManifestError, read_manifest_table, write_manifest

    try:
        table, meta = read_manifest_table(manifest)
    except ManifestError as exc:
        raise RenameError(str(exc)) from exc
    root = Path(root) if root is not None else Path(manifest).resolve().parent
    try:
        sources = parse_class_from(class_from)
    except UnsafePathError:
        raise
    except ClassSourceError as exc:
        raise RenameError(str(exc)) from exc
    vocab = Vocabulary(tuple(meta.vocabulary), source="manifest")
    # Which folder holds each dataset's images, for the 'folder' source.
    image_dirs: dict[str, str] = {}
    try:
        image_dirs = {d.name: d.image_dir for d in discover_datasets(root)}
    except LayoutError:
        pass
    resolver = ClassResolver(sources, vocab, extend_vocab)
    paths, masks, dsets = (table.column(n).to_pylist() for n in ("image_path", "mask_path", "dataset"))
    results = []
    for path, mask, ds in zip(paths, masks, dsets):
        filename = path.rsplit("/", 1)[-1]
        stem = split_stem(filename)[0]
        folder = ""
        img_dir = image_dirs.get(ds)
        if img_dir and path.startswith(img_dir + "/"):
            inner = path[len(img_dir) + 1:]
            folder = inner.rsplit("/", 1)[0] if "/" in inner else ""
        results.append(resolver.resolve(SampleRef(stem, path, mask, ds, folder)))
    vocab = resolver.final_vocabulary()
    extended = list(vocab.names[len(meta.vocabulary):])
    meta.vocabulary = list(vocab.names)
    _, _, rules = _naming_view(table)
    cols = {n: table.column(n).to_pylist() for n in ("class_name", "class_id", "label_status")}
    issues = table.column("issues").to_pylist()
    relabelled = blocked = 0
    unresolved = []
    by_source: Counter[str] = Counter()
    for i, res in enumerate(results):
        if not res.ok:
            if cols["class_id"][i] < 0:
                unresolved.append({"path": paths[i], "reason": res.reason or ""})
            continue
        status = cols["label_status"][i]
        if status.startswith("DA1") or status == "ok":
            status = _label_status((c for c in issues[i] or [] if not c.startswith("DA1")), rules)
        cid = vocab.id_of(res.class_name) if status == "ok" else -1
        if (cols["class_name"][i], cols["class_id"][i], cols["label_status"][i]) != (res.class_name, cid, status):
            relabelled += 1
            by_source[res.source or ""] += 1
        cols["class_name"][i], cols["class_id"][i], cols["label_status"][i] = res.class_name, cid, status
        if cid < 0:
            blocked += 1
    meta.options = meta.options.updated(relabel={"class_from": [s.name for s in sources], "extend_vocab": extend_vocab})
    out = _replace_columns(table, cols, meta, None)
    if not dry_run:
        try:
            write_manifest(out, manifest)
        except ManifestError as exc:
            raise RenameError(str(exc)) from exc
    return RelabelResult(Path(manifest), len(paths), relabelled, unresolved, blocked, extended, dict(by_source))


# ----------------------------------------------------------------------------- rendering

def render_plan(plan: RenamePlan, console: Any, max_rows: int = 20) -> None:
    """A rich table of the first ``max_rows`` moves, then the counts and the unresolved files."""
    from rich.table import Table

    moves = [e for e in plan.entries if e.status == "rename"]
    s = plan.summary()
    if moves:
        table = Table("dataset", "old", "new", "class", "source", title="rename plan", title_justify="left")
        for e in moves[:max_rows]:
            table.add_row(e.dataset, e.old, e.new.rsplit("/", 1)[-1], e.class_name or "", e.source or "")
        console.print(table)
        if len(moves) > max_rows:
            console.print(f"... and {len(moves) - max_rows} more file(s) (--plan-out FILE writes the full plan)")
    console.print(
        f"{s['pairs_to_rename']} sample(s) / {s['files_to_rename']} file(s) to rename, "
        f"{s['unchanged_files']} file(s) already conform, {s['unresolved_pairs']} sample(s) without a class, "
        f"{s['refused_pairs']} with a refused class"
    )
    if plan.extended:
        console.print(f"vocabulary extended at the end with: {', '.join(plan.extended)}")
    bad = [e for e in plan.entries if e.status != "rename" and e.kind == "image"]
    for e in bad[:max_rows]:
        console.print(f"  [yellow]{e.status}[/]: {e.old}: {e.note}")
    if len(bad) > max_rows:
        console.print(f"  ... and {len(bad) - max_rows} more")
    if plan.problems:
        console.print(f"[red]plan refused[/] ({len(plan.problems)} problem(s)); nothing was changed:")
        for p in plan.problems[:max_rows]:
            console.print(f"  {p}")
