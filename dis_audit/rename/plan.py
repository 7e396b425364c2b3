"""The rename plan: what would move where (``PlanEntry``, ``RenamePlan``), its CSV form, and the errors.

A plan is data only. ``planner`` builds one from the tree, ``RenamePlan.from_csv`` reads a
reviewed or hand-edited one, ``validate`` checks either against the tree, ``apply`` runs it.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..vocab import Vocabulary

#: ``progress(stage, done, total)``, called as listing, renaming or undoing advances.
ProgressCallback = Callable[[str, int, int], None]
#: ``extends_vocab`` is ``yes`` on rows whose class the plan appends to the vocabulary, so applying
#: the saved plan later accepts those classes (and only those) without ``--extend-vocab``.
PLAN_COLUMNS = ("pair", "dataset", "kind", "old", "new", "class", "class_id", "source", "status", "note",
                "extends_vocab")
_YES = ("yes", "true", "1", "y")


class RenameError(Exception):
    """The rename cannot run (bad root, option, map or plan file, IO error): exit 2."""


class PlanRefused(Exception):
    """The plan is unsafe as a whole; nothing was touched. ``problems`` lists why: exit 1."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"plan refused: {len(self.problems)} problem(s); first: {self.problems[0] if self.problems else ''}")


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
    #: The class is new: the plan appends it to the vocabulary (the CSV's ``extends_vocab``).
    extends_vocab: bool = False


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
    #: Per ``map:FILE`` source: the keys that matched no sample (a typo, or a file not in the tree).
    unmatched_keys: dict[str, list[str]] = field(default_factory=dict)

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
            "unmatched_map_keys": {
                name: {"count": len(keys), "keys": keys[:50]} for name, keys in self.unmatched_keys.items() if keys
            },
            "problems": list(self.problems),
            "unresolved": [
                {"path": e.old, "status": e.status, "reason": e.note} for e in self.entries
                if e.status != "rename" and e.kind == "image"
            ],
        }

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write every row (renames, unresolved and refused files) as CSV, atomically."""
        from ..manifest import atomic_write_bytes

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(PLAN_COLUMNS)
                for e in self.entries:
                    writer.writerow([
                        e.pair, e.dataset, e.kind, e.old, e.new or "", e.class_name or "",
                        "" if e.class_id is None else e.class_id, e.source or "", e.status, e.note,
                        "yes" if e.extends_vocab else "",
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
                get("extends_vocab").strip().lower() in _YES,
            ))
        return cls(root=Path(root), entries=entries, vocabulary=vocabulary, problems=problems)
