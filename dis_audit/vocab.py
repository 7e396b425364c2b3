"""Class vocabularies: an ordered list of class names where the position is the class id.

Ids are what a trained classification head has learned, so a vocabulary only ever grows at
the end (``extended``); existing ids never move.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

BUILTIN = ("dis5k",)


class VocabularyError(ValueError):
    """A vocabulary source could not be used; the message says why."""


def _fold(name: str) -> str:
    """Case-, space-, punctuation- and Unicode-normalization-insensitive key for near-miss matching."""
    return unicodedata.normalize("NFC", re.sub(r"[\s_\-.]+", "", name).casefold())


def nfc(name: str) -> str:
    """``name`` in Unicode NFC (ASCII names are returned as they are, without the cost)."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def normalization_twin(name: str, other: str) -> bool:
    """True when two different names differ only in Unicode normalization (NFC 'Café' vs NFD 'Café').

    BiRefNet compares raw strings, so such names are different classes to it: dis-audit never
    merges them silently, it reports them with this hint.
    """
    return name != other and nfc(name) == nfc(other)


def normalization_form(name: str) -> str:
    """``"NFC"``, ``"NFD"`` or ``"mixed"``: how a name's accented letters are stored, for a hint."""
    if unicodedata.is_normalized("NFC", name):
        return "NFC"
    return "NFD" if unicodedata.is_normalized("NFD", name) else "mixed"


@dataclass(frozen=True)
class Vocabulary:
    """An ordered, duplicate-free list of class names; ``id_of(name)`` is its position."""

    names: tuple[str, ...]
    source: str = "custom"
    #: How many of the last names were appended to a base vocabulary (``extended``, or a
    #: manifest's extended vocabulary reused by ``vocab_choice``); 0 for a vocabulary as listed.
    appended: int = field(default=0, compare=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _folded: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _nfc: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    #: ``suggest``'s answers so far: the names are fixed, so an answer never changes, and a scan
    #: asks again for every sample of an unknown class (a difflib search, ~1.5 ms each).
    _suggested: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, name in enumerate(self.names):
            if name in index:
                raise VocabularyError(f"class {name!r} appears twice in vocabulary {self.source!r}")
            index[name] = i
        folded: dict[str, list[str]] = {}
        for name in self.names:
            folded.setdefault(_fold(name), []).append(name)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_folded", folded)
        by_nfc: dict[str, list[str]] = {}
        for name in self.names:
            by_nfc.setdefault(nfc(name), []).append(name)
        object.__setattr__(self, "_nfc", by_nfc)
        object.__setattr__(self, "_suggested", {})

    def normalization_twins(self, name: str) -> list[str]:
        """Other names of the vocabulary equal to ``name`` after NFC normalization (usually none)."""
        return [other for other in self._nfc.get(nfc(name), ()) if other != name]

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def id_of(self, name: str | None) -> int:
        """The class id of ``name``, or -1 when it is not in the vocabulary (exact match)."""
        if name is None:
            return -1
        return self._index.get(name, -1)

    def suggest(self, name: str) -> str | None:
        """An unambiguous near-miss for an unknown name, or None.

        Matches ignoring case, spaces, ``_``, ``-`` and ``.`` first (``airplane``,
        ``Bicycle Frame``, ``"Bag "``), then a close spelling (one or two letters off).
        """
        if name in self._index:
            return None
        try:
            return self._suggested[name]
        except KeyError:
            found = self._suggested[name] = self._suggest(name)
            return found

    def _suggest(self, name: str) -> str | None:
        twins = self._nfc.get(nfc(name), [])
        if len(twins) == 1:
            return twins[0]  # differs only in Unicode normalization: the surest suggestion of all
        exact = self._folded.get(_fold(name), [])
        if len(exact) == 1:
            return exact[0]
        if exact:
            return None
        key = _fold(name)
        if len(key) < 4:
            return None
        close = difflib.get_close_matches(key, list(self._folded), n=2, cutoff=0.88)
        if len(close) == 1 and len(self._folded[close[0]]) == 1:
            return self._folded[close[0]][0]
        return None

    def extended(self, new_names: Iterable[str]) -> Vocabulary:
        """A vocabulary with ``new_names`` appended at the end (sorted, ids of old names kept)."""
        extra = sorted({n for n in new_names if n not in self._index})
        if not extra:
            return self
        source = self.source if self.source.endswith("+extended") else f"{self.source}+extended"
        return Vocabulary(self.names + tuple(extra), source=source, appended=self.appended + len(extra))

    @property
    def appended_names(self) -> tuple[str, ...]:
        """The names appended to the base vocabulary, in id order."""
        return self.names[len(self.names) - self.appended :]


def builtin_dis5k() -> Vocabulary:
    """BiRefNet's 219 DIS5K class names, in its id order."""
    text = resources.files("dis_audit").joinpath("data/dis5k_classes.txt").read_text(encoding="utf-8")
    return Vocabulary(tuple(line.strip() for line in text.splitlines() if line.strip()), source="dis5k")


def load_vocabulary_file(path: str | Path) -> Vocabulary:
    """One class name a line, order = id; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise VocabularyError(f"class file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise VocabularyError(f"cannot read class file {path}: {exc}") from exc
    names = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line)
    if not names:
        raise VocabularyError(f"class file {path} lists no classes")
    return Vocabulary(tuple(names), source=str(path))


def infer_vocabulary(class_fields: Iterable[str | None]) -> Vocabulary:
    """The sorted set of class fields found in the data."""
    return Vocabulary(tuple(sorted({c for c in class_fields if c})), source="infer")


def resolve_vocabulary(spec: str | os.PathLike | Vocabulary | Iterable[str] | None) -> Vocabulary | None:
    """Turn a ``--classes`` value into a Vocabulary; ``"infer"`` returns None (decided after discovery)."""
    if spec is None:
        return builtin_dis5k()
    if isinstance(spec, Vocabulary):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if text == "infer":
            return None
        if text == "dis5k":
            return builtin_dis5k()
        return load_vocabulary_file(text)
    return Vocabulary(tuple(spec), source="list")
