"""Which group a renamed sample goes to: the group tables (built-in DIS5K, ``--groups FILE``).

The precedence among them and the class source is ``planner._GroupChooser``'s.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from importlib import resources

from ..naming import sanitize_field
from .plan import RenameError

#: The group of a sample no table and no name places.
DEFAULT_GROUP = (0, "Other")


@dataclass
class GroupTable:
    """Class -> (group index, group name), and group name -> index, for new names."""

    by_class: dict[str, tuple[int, str]] = field(default_factory=dict)
    index_of_group: dict[str, int] = field(default_factory=dict)
    #: Class -> its index within its group (the third name field of the real DIS5K names).
    class_index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> GroupTable:
        """DIS5K's 22 groups and the group of each of its 225 classes."""
        text = resources.files("dis_audit").joinpath("data/dis5k_groups.txt").read_text(encoding="utf-8")
        table = cls()
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, gidx, group, cidx = line.split("\t")
            table.by_class[name] = (int(gidx), group)
            table.class_index[name] = int(cidx)
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
