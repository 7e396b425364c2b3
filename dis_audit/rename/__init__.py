"""Rename samples to the ``#`` convention (image and mask together), safely and reversibly.

Flow, one module per step: ``planner.plan_rename`` lists the tree, resolves each sample's
class (``classes_from``) and builds a ``plan.RenamePlan``; ``validate.validate_plan`` refuses
the whole plan on any collision, existing target or path leaving ROOT; ``apply.apply_plan``
journals every move (``journal``) before the first one, moves with a no-clobber rename and
rewrites the manifest (``relabel.remap_manifest``); ``apply.resume`` and ``apply.undo``
replay a journal after a crash or to restore the original names.
``relabel.relabel_manifest`` writes resolved classes into the manifest only.

New names: ``<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>.<ext>`` where

* new names agree with the real DIS5K names (``data/dis5k_groups.txt``): ``classIdx`` is the
  class's index within its group (DIS5K's for a DIS5K class; others after the group's DIS5K
  classes, in sorted order);
* the group comes, first match wins, from ``--groups FILE``, the DIS5K group of a DIS5K class,
  the class source (COD10K's super-class, a regex ``group``, a map's third column), the
  existing name's group fields, else ``0#Other``; a group name a table knows keeps its known
  index; other group names keep the source's index unless taken, else get indices after the
  largest known one, in sorted order;
* ``originalId`` is the old stem (for a ``#`` name, the part after the class field),
  sanitized so it holds no ``#``, ``/``, ``\\`` or control characters.

Everything a caller needs is importable from this package: ``from dis_audit.rename import
plan_rename, apply_plan, undo``.
"""

from __future__ import annotations

from .apply import ApplyResult, NoJournalError, apply_plan, find_journal, resume, undo
from .groups import DEFAULT_GROUP, GroupTable
from .journal import JournalError
from .plan import PLAN_COLUMNS, PlanEntry, PlanRefused, ProgressCallback, RenameError, RenamePlan
from .planner import default_vocabulary, load_plan, plan_rename
from .relabel import RelabelResult, relabel_manifest, remap_manifest
from .validate import NAME_MAX, validate_plan

__all__ = [
    "DEFAULT_GROUP", "NAME_MAX", "PLAN_COLUMNS", "ApplyResult", "GroupTable", "JournalError", "NoJournalError", "PlanEntry",
    "PlanRefused", "ProgressCallback", "RelabelResult", "RenameError", "RenamePlan", "apply_plan",
    "default_vocabulary", "find_journal", "load_plan", "plan_rename", "relabel_manifest", "remap_manifest",
    "resume", "undo", "validate_plan",
]
