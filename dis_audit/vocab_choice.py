"""Which vocabulary a command uses: the one the manifest already has, so class ids stay stable.

Once a manifest exists, ``scan`` and ``rename`` keep its vocabulary (which may have been
extended by ``rename --extend-vocab`` or ``relabel``) unless told otherwise:

* ``--classes`` on the command line is always taken as given (the user said so);
* nothing configured: the manifest's vocabulary, whatever it was made from (an inferred one
  keeps appending classes new to it, as ``infer`` would);
* a configured vocabulary (``classes`` in the configuration) yields to the
  manifest's when the manifest's begins with it: the manifest's is that vocabulary, extended at
  the end, so every id the configured one gives is unchanged and the appended classes stay known;
* a configured vocabulary the manifest's does not begin with wins (the class file was edited);
  the choice says so in ``note``;
* ``infer`` yields to a manifest whose vocabulary was inferred too, extended with classes new
  to it (``extend`` is then True), so inferred ids do not move when a class is added.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import FROM_COMMAND_LINE, FROM_DEFAULT, Settings
from .manifest import ManifestError, read_manifest_meta
from .vocab import Vocabulary, VocabularyError, builtin_dis5k, resolve_vocabulary


@dataclass(frozen=True)
class VocabChoice:
    """The vocabulary to use (None: infer it from the data) and why."""

    vocabulary: Vocabulary | None
    #: True when the manifest's vocabulary was taken.
    from_manifest: bool = False
    #: True when classes new to the vocabulary should be appended (a sticky inferred vocabulary).
    extend: bool = False
    note: str | None = None


def choose_vocabulary(
    spec: str | os.PathLike | Vocabulary | Sequence[str] | None,
    manifest: str | os.PathLike | None,
    *,
    explicit: bool = False,
) -> VocabChoice:
    """The vocabulary for ``spec`` given an existing ``manifest`` (see the module doc).

    ``spec``: ``--classes``/``classes`` (None: nothing configured, so the manifest's, else DIS5K).
    ``explicit``: the user gave ``spec`` on the command line, so it is used as is. Raises
    ``VocabularyError`` for an unusable ``spec``; an unreadable manifest is passed over (noted).
    """
    if explicit and spec is not None:
        return VocabChoice(resolve_vocabulary(spec))
    meta = None
    note = None
    if manifest is not None and Path(manifest).is_file():
        try:
            meta = read_manifest_meta(manifest)
        except ManifestError as exc:
            note = f"vocabulary of {manifest} not reused: {exc}"
    stored = tuple(meta.vocabulary) if meta is not None else ()
    if meta is None or not stored:
        return VocabChoice(resolve_vocabulary(spec), note=note)
    recorded = meta.options.classes or "manifest"
    if spec is None:  # nothing configured: the manifest's vocabulary, whatever it was made from
        if recorded.startswith("infer"):  # still inferred: classes new to the data are appended
            return VocabChoice(Vocabulary(stored, source="infer"), from_manifest=True, extend=True)
        dis5k = builtin_dis5k()
        if recorded.startswith("dis5k") and stored[: len(dis5k)] == dis5k.names:
            appended = len(stored) - len(dis5k)
        else:  # a class file's length is not known here; the scan recorded what it appended
            appended = min(len(meta.options.extended_classes), len(stored))
        source = recorded if not appended or recorded.endswith("+extended") else f"{recorded}+extended"
        return VocabChoice(Vocabulary(stored, source=source, appended=appended), from_manifest=True)
    base = resolve_vocabulary(spec)
    if base is None:
        if recorded.startswith("infer"):
            return VocabChoice(Vocabulary(stored, source="infer"), from_manifest=True, extend=True)
        return VocabChoice(None, note=f"classes = 'infer': the vocabulary of {manifest} ({recorded}) is not reused")
    if stored[: len(base)] == base.names:
        appended = len(stored) - len(base)
        source = base.source if not appended or base.source.endswith("+extended") else f"{base.source}+extended"
        return VocabChoice(Vocabulary(stored, source=source, appended=appended), from_manifest=True)
    return VocabChoice(base, note=f"the {base.source} vocabulary differs from the one in {manifest}; its ids are used")


def describe_choice(settings: Settings, manifest: str | os.PathLike | None) -> str:
    """One line saying which vocabulary scan and rename would use (``dis-audit config`` prints it)."""
    origin = settings.origins["classes"]
    try:
        choice = choose_vocabulary(None if origin == FROM_DEFAULT else settings["classes"], manifest,
                                   explicit=origin == FROM_COMMAND_LINE)
    except VocabularyError as exc:
        return f"vocabulary: {exc}"
    if choice.vocabulary is None:
        what = "inferred from the names"
    else:
        where = f", from {manifest}" if choice.from_manifest else ""
        what = f"{choice.vocabulary.source}, {len(choice.vocabulary)} classes{where}"
    return f"vocabulary scan and rename use: {what}" + (f"; {choice.note}" if choice.note else "")


def choose_from_settings(settings: Settings, manifest: str | os.PathLike | None) -> tuple[Vocabulary | str, bool, str | None]:
    """``(classes, extend_vocab, note)`` for scan and rename from the effective configuration.

    ``classes`` is a Vocabulary, or ``"infer"``; ``extend_vocab`` is the setting, or True for a
    sticky inferred vocabulary. Raises ``VocabularyError`` for an unusable ``classes``.
    """
    origin = settings.origins["classes"]
    choice = choose_vocabulary(None if origin == FROM_DEFAULT else settings["classes"], manifest,
                               explicit=origin == FROM_COMMAND_LINE)
    classes: Vocabulary | str = choice.vocabulary if choice.vocabulary is not None else "infer"
    return classes, bool(settings["extend-vocab"]) or choice.extend, choice.note
