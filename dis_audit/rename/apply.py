"""Applying a validated plan beside its journal: ``apply_plan``, ``resume``, ``undo``.

Every move is journalled (``journal``) before the first one; files move with a no-clobber
rename; the manifest is rewritten last, from a backup taken before the journal exists, so a
resume can redo that step and an undo can restore it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..manifest import ManifestError
from .journal import (
    JOURNAL_SUFFIX,
    JournalError,
    JournalState,
    JournalWriter,
    check_moves_inside,
    create_journal,
    journal_dir,
    list_journals,
    new_journal_name,
    read_journal,
    root_lock,
    run_moves,
)
from .plan import PlanRefused, ProgressCallback, RenameError, RenamePlan
from .relabel import remap_manifest
from .validate import validate_plan


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
    #: False when part of the work could not be done (an undo whose manifest backup was lost): exit 1.
    complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "journal": str(self.journal) if self.journal else None, "moved": self.moved, "already_done": self.already,
            "method": self.method, "manifest": str(self.manifest) if self.manifest else None,
            "seconds": round(self.seconds, 3), "note": self.note, "complete": self.complete,
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
            try:
                shutil.copyfile(manifest_path, backup)
            except BaseException:
                backup.unlink(missing_ok=True)  # e.g. a full disk: no journal yet, nothing moved
                raise
            header["manifest"] = str(Path(manifest_path).resolve())
            header["manifest_backup"] = backup.name
            header["manifest_sha256"] = _sha256(manifest_path)
        journal = create_journal(root, moves, header, name=name)
        result = ApplyResult(journal, "apply")
        with JournalWriter(journal) as writer:
            counts = run_moves(root, moves, writer, batch=batch, progress=progress, stage="rename")
            writer.mark({"type": "complete"})
            result.moved, result.already, result.method = counts
            if manifest_path is not None:
                result.manifest = _finish_manifest(JournalState(journal, header, moves), writer)
    result.seconds = time.perf_counter() - started
    return result


def _manifest_path(root: Path, manifest: str | os.PathLike | None) -> Path | None:
    if manifest == "":
        return None
    path = Path(manifest) if manifest is not None else Path(root) / "manifest.parquet"
    return path if path.is_file() else None


class BackupError(Exception):
    """The manifest backup beside a journal is missing or not a manifest."""


def _read_backup(state: JournalState) -> tuple[Path, Any]:
    """The journal's manifest backup as a table; raises BackupError."""
    from ..manifest import read_manifest_table

    backup = state.path.parent / state.header["manifest_backup"]
    if not backup.is_file():
        raise BackupError(f"manifest backup {backup} is missing")
    try:
        table, _ = read_manifest_table(backup)
    except ManifestError as exc:
        raise BackupError(f"manifest backup is damaged: {exc}") from None
    return backup, table


def _remapped_backup(state: JournalState) -> Any:
    """The table apply writes as the new manifest: the backup with every move applied."""
    _, table = _read_backup(state)
    return remap_manifest(table, dict(state.moves), extra_classes=state.header.get("extended") or [])


def _expected_manifest_sha(state: JournalState) -> str | None:
    """sha256 of the manifest apply writes for this journal (None when the backup cannot be read)."""
    from ..manifest import manifest_bytes

    try:
        return hashlib.sha256(manifest_bytes(_remapped_backup(state))).hexdigest()
    except (BackupError, ManifestError, OSError):
        return None


def _finish_manifest(state: JournalState, writer: JournalWriter) -> Path | None:
    """After all moves: rewrite the manifest from its backup (deterministic, so a resume can redo it).

    Only a manifest that still exists as a regular file is rewritten: a journal never makes
    dis-audit create a file. Errors are RenameError with what to do next.
    """
    header = state.header
    if not header.get("manifest"):
        return None
    from ..manifest import write_manifest

    target = Path(header["manifest"])
    if not target.is_file():
        raise RenameError(f"every file is renamed, but the manifest {target} is gone; re-run `dis-audit scan`")
    try:
        path = write_manifest(_remapped_backup(state), target)
        writer.mark({"type": "manifest", "sha256": _sha256(path)})
    except BackupError as exc:
        raise RenameError(f"every file is renamed, but the manifest cannot be rewritten: {exc}; "
                          "re-run `dis-audit scan`") from None
    except (ManifestError, OSError) as exc:
        raise RenameError(f"every file is renamed, but the manifest could not be rewritten: {exc}; "
                          "free space if the disk is full and run `dis-audit rename ROOT --resume`") from exc
    return path


def find_journal(root: str | os.PathLike, journal: str | os.PathLike | None, want: str) -> JournalState:
    """The journal to resume (``want="resume"``) or undo (``want="undo"``): the named one, or the latest that fits.

    A named journal must lie in ``ROOT/.dis-audit/`` (its manifest backup is looked up beside
    it). Journals that cannot be read are skipped, and the error names each one and why.
    """
    root = Path(root)
    if journal is not None:
        path = Path(journal)
        if not path.is_absolute() and not path.exists():
            path = journal_dir(root) / path
        if os.path.realpath(path.parent) != os.path.realpath(journal_dir(root)):
            raise JournalError(f"{path} is not a journal of {root} (journals live in {journal_dir(root)})")
        return read_journal(path)
    candidates = list_journals(root)
    if not candidates:
        raise JournalError(f"no rename journal under {journal_dir(root)}")
    skipped: list[str] = []
    for path in reversed(candidates):
        try:
            state = read_journal(path)
        except JournalError as exc:
            skipped.append(str(exc))  # e.g. a plan never fully written: nothing moved under it
            continue
        if want == "undo" and state.status != "undone":
            return state
        if want == "resume" and not state.undone and (not state.complete or _manifest_pending(state)):
            return state
    message = "no rename to undo (every journal is undone)" if want == "undo" else "no interrupted rename to resume"
    if skipped:
        message += f"; {len(skipped)} journal(s) could not be read: " + "; ".join(skipped[:5])
    raise JournalError(message)


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


class NoJournalError(JournalError, RenameError):
    """Nothing to resume or undo: no apply ever ran under ROOT. A JournalError (as before) that the
    CLI reports as the usage problem it is (a RenameError, exit 2)."""


def _check_journals(root: Path, journal: str | os.PathLike | None, want: str) -> None:
    """NoJournalError when there is nothing to ``want``, before the lock is taken.

    Checked first so a mistaken ``--undo`` leaves no ``.dis-audit`` folder or lock file behind.
    """
    if not root.is_dir():
        raise RenameError(f"root not found or not a folder: {root}")
    if journal is None and not list_journals(root):
        raise NoJournalError(f"nothing to {want}: no rename journal under {journal_dir(root)} (no --apply has run here)")


def resume(
    root: str | os.PathLike, journal: str | os.PathLike | None = None, *, progress: ProgressCallback | None = None,
) -> ApplyResult:
    """Complete an interrupted apply (default: the latest unfinished journal)."""
    root = Path(root)
    started = time.perf_counter()
    _check_journals(root, journal, "resume")
    with root_lock(root):
        state = find_journal(root, journal, "resume")
        if state.undone:
            raise JournalError(f"{state.path.name} was (partly) undone; run --undo again to finish restoring")
        check_moves_inside(root, state.moves)
        result = ApplyResult(state.path, "resume")
        with JournalWriter(state.path, state.valid_bytes) as writer:
            if not state.complete:
                _precheck(root, state.moves[state.done:])
                counts = run_moves(root, state.moves, writer, start=state.done, progress=progress, stage="resume")
                writer.mark({"type": "complete"})
                result.moved, result.already, result.method = counts
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
    _check_journals(root, journal, "undo")
    with root_lock(root):
        state = find_journal(root, journal, "undo")
        if state.undo_complete:
            raise JournalError(f"{state.path.name} is already undone")
        check_moves_inside(root, state.moves)
        reverse = [(dst, src) for src, dst in reversed(state.moves)]
        _precheck(root, reverse[state.undone:])
        result = ApplyResult(state.path, "undo")
        with JournalWriter(state.path, state.valid_bytes) as writer:
            counts = run_moves(root, reverse, writer, start=state.undone, record="undo-done", progress=progress,
                               stage="undo")
            result.moved, result.already, result.method = counts
            try:
                result.manifest = _undo_manifest(state, dict(reverse))
            except BackupError as exc:
                # Every name is back; a backup that is gone or damaged cannot come back by retrying.
                result.note = f"every name restored; the manifest was not: {exc}; re-run `dis-audit scan`"
                result.complete = False
            except (ManifestError, OSError) as exc:
                raise RenameError(
                    f"every name restored, but the manifest could not be: {exc}; run --undo again to finish"
                ) from exc
            writer.mark({"type": "undone"})
    result.seconds = time.perf_counter() - started
    return result


def _undo_manifest(state: JournalState, reverse: dict[str, str]) -> Path | None:
    """Put the manifest back: the backup itself when the manifest is still what apply wrote, else remap it.

    Never creates a file: a manifest that is gone stays gone (the header's path is only trusted
    to name a file that apply rewrote).
    """
    header = state.header
    if not header.get("manifest"):
        return None
    from ..manifest import atomic_write_bytes, read_manifest_table, write_manifest

    path = Path(header["manifest"])
    current = _sha256(path) if path.is_file() else None
    written = state.last("manifest")
    if current is None:
        raise BackupError(f"{path} is not there any more")
    if current == header.get("manifest_sha256"):
        return path  # apply never got to rewrite it: it is the original
    ours = written is not None and current == written.get("sha256")
    if not ours and state.complete:
        # A crash between the manifest rewrite and its journal record: the rewrite is deterministic,
        # so recomputing it recognises the file as apply's own (and the backup comes back byte for byte).
        ours = current == _expected_manifest_sha(state)
    if ours:
        backup, _ = _read_backup(state)  # checks it is a manifest before it replaces one
        data = backup.read_bytes()
        atomic_write_bytes(path, lambda tmp: Path(tmp).write_bytes(data))
        return path
    # Rewritten since (e.g. re-scanned): keep the user's rows, put the old paths and labels back.
    table, _ = read_manifest_table(path)
    return write_manifest(remap_manifest(table, reverse), path)
