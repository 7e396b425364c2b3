"""Where a sample's class comes from: the ``--class-from`` sources shared by rename and relabel.

Each source looks at one sample (its stem, paths and dataset) and either proposes a class or
passes. ``ClassResolver`` asks the sources in order; the first proposal wins. Sources that
read the class from the file name (``name``, ``fuzzy``) only ever propose a vocabulary
class; the others propose whatever the data says, and the resolver decides whether that
class is acceptable (in the vocabulary, or new with ``--extend-vocab``).

Sources (the spec strings of ``parse_class_from``):

``name``       the ``#`` class field, when it is in the vocabulary (implicitly first)
``fuzzy``      the unambiguous near-miss of the class field (``airplane`` -> ``Airplane``)
``map:FILE``   a CSV ``key,class[,group]``; key = stem, file name, path relative to ROOT, or glob
``regex:PAT``  a Python regex searched in the stem, named group ``class`` (optional ``group``)
``cod10k``     COD10K names ``COD10K-CAM-<i>-<Super>-<j>-<Sub>-<n>`` and NonCAM names
``folder``     the sub-folder of the image folder the image sits in (class-per-folder layouts)
``dataset``    the dataset folder's name
"""

from __future__ import annotations

import csv
import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .naming import parse_name, sanitize_field
from .paths import check_relative_path
from .vocab import Vocabulary


class ClassSourceError(ValueError):
    """A ``--class-from`` value cannot be used (unknown source, bad regex, unreadable map)."""


@dataclass(frozen=True, slots=True)
class SampleRef:
    """What the sources may look at for one sample; paths relative to ROOT, POSIX."""

    stem: str
    image_path: str
    mask_path: str | None
    dataset: str
    #: The sub-folder of the image folder holding the image ('' when directly in it).
    folder: str = ""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A class proposed by one source, with the group it implies when it knows one."""

    class_name: str
    source: str
    group: str | None = None
    group_index: int | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome for one sample: a class (accepted) or the reason there is none."""

    class_name: str | None
    source: str | None
    group: str | None = None
    group_index: int | None = None
    reason: str | None = None  # why unresolved or refused
    refused: bool = False  # a class was found but may not be used (outside the vocabulary, unsafe)

    @property
    def ok(self) -> bool:
        return self.class_name is not None and not self.refused


class ClassSource:
    """One ``--class-from`` source. ``propose`` returns a Proposal or None (pass to the next)."""

    name: str = ""

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:  # pragma: no cover - interface
        raise NotImplementedError


def _fold(name: str) -> str:
    """Case-, space- and punctuation-insensitive key (the vocabulary's near-miss key)."""
    return re.sub(r"[\s_\-.]+", "", name).casefold()


def _class_field(stem: str) -> str | None:
    """The class field of a stem with at least four ``#`` fields (four: BiRefNet would fail, but the field is there)."""
    fields = parse_name(stem).fields
    return fields[3] if len(fields) >= 4 else None


class NameSource(ClassSource):
    name = "name"
    #: Set by the resolver under ``--extend-vocab``: a conforming name's class field that is
    #: new (not a near-miss) counts too, so a second run over renamed files plans nothing.
    accept_new = False

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        cls = _class_field(ref.stem)
        if not cls:
            return None
        if cls in vocab:
            return Proposal(cls, self.name)
        if self.accept_new and parse_name(ref.stem).conforms and vocab.suggest(cls) is None:
            return Proposal(cls, self.name)
        return None


class FuzzySource(ClassSource):
    name = "fuzzy"

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        cls = _class_field(ref.stem)
        if not cls:
            return None
        suggestion = vocab.suggest(cls)
        return Proposal(suggestion, self.name) if suggestion else None


class DatasetSource(ClassSource):
    name = "dataset"

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        # A dataset found at ROOT itself may be named after a nested path; the last part is its name.
        name = ref.dataset.rsplit("/", 1)[-1]
        return Proposal(name, self.name) if name else None


class FolderSource(ClassSource):
    name = "folder"

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        # Only images below a sub-folder of the image folder: 'im/x.jpg' has no class folder,
        # and guessing 'im' as a class would be wrong every time.
        if not ref.folder:
            return None
        return Proposal(ref.folder.rsplit("/", 1)[-1], self.name)


class RegexSource(ClassSource):
    def __init__(self, pattern: str) -> None:
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise ClassSourceError(f"regex:{pattern}: not a valid regular expression ({exc})") from exc
        if "class" not in self.regex.groupindex:
            raise ClassSourceError(f"regex:{pattern}: needs a named group (?P<class>...)")
        self.has_group = "group" in self.regex.groupindex
        self.name = f"regex:{pattern}"

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        match = self.regex.search(ref.stem)
        if not match or not match.group("class"):
            return None
        group = match.group("group") if self.has_group else None
        return Proposal(match.group("class"), self.name, group or None)


#: COD10K: ``COD10K-CAM-<superIdx>-<Super>-<subIdx>-<Sub>-<n>``; NonCAM names may lack the
#: sub-class pair (``COD10K-NonCAM-3-Flying-1515``).
_COD10K = re.compile(
    r"^COD10K-(?P<kind>CAM|NonCAM)-(?P<super_idx>\d+)-(?P<super>[A-Za-z][A-Za-z0-9]*)"
    r"(?:-(?P<sub_idx>\d+)-(?P<sub>[A-Za-z][A-Za-z0-9]*))?-(?P<n>\d+)$"
)


def parse_cod10k(stem: str) -> tuple[str, str, int] | None:
    """``(class, group, group_index)`` of a COD10K stem, or None when it is not one.

    The class is the sub-class (``BatFish``); a NonCAM name without one takes its
    super-class (``COD10K-NonCAM-3-Flying-1515`` -> ``Flying``). The group is the
    super-class with its COD10K index.
    """
    match = _COD10K.match(stem)
    if not match:
        return None
    if match.group("kind") == "CAM" and match.group("sub") is None:
        return None  # camouflaged images always name their sub-class
    cls = match.group("sub") or match.group("super")
    return cls, match.group("super"), int(match.group("super_idx"))


class Cod10kSource(ClassSource):
    name = "cod10k"

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        parsed = parse_cod10k(ref.stem)
        if parsed is None:
            return None
        cls, group, group_index = parsed
        return Proposal(cls, self.name, group, group_index)


@dataclass
class MapSource(ClassSource):
    """Classes from a CSV ``key,class[,group]``.

    A key is matched, most specific first: the image path relative to ROOT (with or without
    extension), the mask path, the stem, the image's (then the mask's) file name with its
    extension, then globs (``*?[``) in file order against the image path, the file name and
    the stem. ``unmatched_keys`` lists the keys no sample matched. A key that would leave ROOT refuses the whole map with
    ``paths.UnsafePathError``; other problems raise ``ClassSourceError``.
    """

    path: Path
    exact: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    globs: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: Keys that matched a sample so far (``unmatched_keys`` lists the others).
    matched: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.name = f"map:{self.path}"
        try:
            with open(self.path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
        except FileNotFoundError as exc:
            raise ClassSourceError(f"map file not found: {self.path}") from exc
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ClassSourceError(f"cannot read map file {self.path}: {exc}") from exc
        if rows and _is_header(rows[0]):
            rows = rows[1:]
            start = 2
        else:
            start = 1
        for lineno, row in enumerate(rows, start):
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ClassSourceError(f"{self.path}:{lineno}: expected 'key,class', got {','.join(row)!r}")
            key, cls = row[0].strip(), row[1].strip()
            group = row[2].strip() if len(row) > 2 and row[2].strip() else None
            # A key naming a path must stay inside ROOT; this refuses the whole map.
            check_relative_path(key, f"{self.path}:{lineno}: key")
            if any(ch in key for ch in "*?["):
                self.globs.append((key, cls, group))
                continue
            previous = self.exact.get(key)
            if previous is not None and previous[0] != cls:
                raise ClassSourceError(f"{self.path}:{lineno}: key {key!r} maps to {previous[0]!r} and {cls!r}")
            self.exact[key] = (cls, group)

    def _lookup(self, ref: SampleRef) -> tuple[str, tuple[str, str | None]] | None:
        """The key matching ``ref`` (most specific first) and its ``(class, group)``, or None."""
        image_name = ref.image_path.rsplit("/", 1)[-1]
        image_noext = ref.image_path.rsplit(".", 1)[0] if "." in image_name else ref.image_path
        keys = [ref.image_path, image_noext]
        if ref.mask_path:
            keys.append(ref.mask_path)
        # The file name with its extension ('IMG_1002.jpg', the usual export of a labelling tool).
        keys += [ref.stem, image_name]
        if ref.mask_path:
            keys.append(ref.mask_path.rsplit("/", 1)[-1])
        for key in keys:
            hit = self.exact.get(key)
            if hit is not None:
                return key, hit
        for pattern, cls, group in self.globs:
            if fnmatch.fnmatchcase(ref.image_path, pattern) or fnmatch.fnmatchcase(image_name, pattern) or (
                fnmatch.fnmatchcase(ref.stem, pattern)
            ):
                return pattern, (cls, group)
        return None

    def propose(self, ref: SampleRef, vocab: Vocabulary) -> Proposal | None:
        found = self._lookup(ref)
        if found is None:
            return None
        self.matched.add(found[0])
        cls, group = found[1]
        return Proposal(cls, self.name, group)

    def mark(self, ref: SampleRef) -> None:
        """Note the key ``ref`` matches, whether or not this source was asked (an earlier one may have answered)."""
        found = self._lookup(ref)
        if found is not None:
            self.matched.add(found[0])

    def unmatched_keys(self) -> list[str]:
        """Keys (and globs) that matched no sample seen by ``propose`` or ``mark``, in file order."""
        return [k for k in [*self.exact, *(g[0] for g in self.globs)] if k not in self.matched]


#: First-row cells that make it a header (``key,class``, ``file,class``, ``filename,label`` ...), not a mapping.
_KEY_HEADERS = frozenset({"key", "file", "filename", "file_name", "name", "image", "image_path", "path", "stem"})
_CLASS_HEADERS = frozenset({"class", "class_name", "classname", "label", "category"})


def _is_header(row: list[str]) -> bool:
    cells = [c.strip().lower() for c in row[:2]]
    return len(cells) == 2 and cells[0] in _KEY_HEADERS and cells[1] in _CLASS_HEADERS


_SIMPLE: dict[str, type[ClassSource]] = {
    "name": NameSource, "fuzzy": FuzzySource, "cod10k": Cod10kSource, "folder": FolderSource,
    "dataset": DatasetSource,
}
SOURCE_NAMES: tuple[str, ...] = ("name", "fuzzy", "map:FILE", "regex:PATTERN", "cod10k", "folder", "dataset")


def parse_class_from(specs: Iterable[str] | None, base: str | os.PathLike | None = None) -> list[ClassSource]:
    """Build the sources for ``--class-from`` values, in order.

    ``name`` is always consulted: first unless the user lists it at another position
    (``--class-from map:f.csv --class-from name`` lets the map override names). Relative
    map paths are resolved against ``base`` (default: the working directory). Raises
    ``ClassSourceError`` for an unusable value and ``paths.UnsafePathError`` for a map key
    that leaves ROOT.
    """
    sources: list[ClassSource] = []
    seen: set[str] = set()
    for spec in specs or ():
        spec = spec.strip()
        if spec in seen:
            continue
        seen.add(spec)
        if spec in _SIMPLE:
            sources.append(_SIMPLE[spec]())
        elif spec.startswith("map:") and spec[4:]:
            path = Path(spec[4:])
            if base is not None and not path.is_absolute():
                path = Path(base) / path
            sources.append(MapSource(path))
        elif spec.startswith("regex:") and spec[6:]:
            sources.append(RegexSource(spec[6:]))
        else:
            raise ClassSourceError(f"unknown --class-from {spec!r}; use one of: {', '.join(SOURCE_NAMES)}")
    if not any(isinstance(s, NameSource) for s in sources):
        sources.insert(0, NameSource())
    return sources


class ClassResolver:
    """Ask the sources in order for each sample; collect classes new to the vocabulary.

    A class spelled like one vocabulary class up to case, spaces and punctuation is taken
    as that class (``SeaHorse`` -> ``Seahorse``). Any other class outside the vocabulary is
    refused unless ``extend_vocab``; a close misspelling of a vocabulary class is refused
    even then, since it is a typo, not a new class (as scan's ``--extend-vocab`` treats it).
    """

    def __init__(self, sources: Sequence[ClassSource], vocab: Vocabulary, extend_vocab: bool = False) -> None:
        self.sources = list(sources)
        for source in self.sources:
            if isinstance(source, NameSource):
                source.accept_new = extend_vocab
        self.vocab = vocab
        self.extend_vocab = extend_vocab
        self.new_classes: set[str] = set()
        folded: dict[str, list[str]] = {}
        for name in vocab.names:
            folded.setdefault(_fold(name), []).append(name)
        # Spellings that differ from one vocabulary class only in case, spaces or punctuation
        # ('SeaHorse' from COD10K for DIS5K's 'Seahorse') are that class, not a new one.
        self._same_class = {key: names[0] for key, names in folded.items() if len(names) == 1}

    def resolve(self, ref: SampleRef) -> Resolution:
        for source in self.sources:
            proposal = source.propose(ref, self.vocab)
            if proposal is None:
                continue
            return self._judge(proposal)
        return Resolution(None, None, reason="no --class-from source matched")

    def _judge(self, p: Proposal) -> Resolution:
        cls = p.class_name
        if sanitize_field(cls) != cls:
            return Resolution(cls, p.source, reason=f"class {cls!r} from {p.source} is not a valid name field", refused=True)
        if cls not in self.vocab and p.source not in ("name", "fuzzy"):
            same = self._same_class.get(_fold(cls))
            if same is not None:
                return Resolution(same, p.source, p.group, p.group_index)
        if cls not in self.vocab:
            suggestion = self.vocab.suggest(cls)
            if suggestion is not None:
                return Resolution(
                    cls, p.source, refused=True,
                    reason=f"class {cls!r} from {p.source} is not in the vocabulary; did you mean {suggestion!r}?",
                )
            if not self.extend_vocab:
                return Resolution(
                    cls, p.source, refused=True,
                    reason=f"class {cls!r} from {p.source} is not in the {self.vocab.source} vocabulary "
                    "(use --extend-vocab or --classes)",
                )
            self.new_classes.add(cls)
        return Resolution(cls, p.source, p.group, p.group_index)

    def final_vocabulary(self) -> Vocabulary:
        """The vocabulary with the accepted new classes appended at the end (ids of old ones unchanged)."""
        return self.vocab.extended(self.new_classes) if self.new_classes else self.vocab
