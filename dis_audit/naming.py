"""The ``#`` naming convention: ``<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>``.

Pure string functions, no IO. ``parse_name`` never raises, whatever the string.

BiRefNet's loader takes the class as ``basename.split('#')[3]`` of the MASK file name, with
the extension still attached, and looks it up in a fixed list. So a stem with fewer than
four fields raises IndexError, and a stem with exactly four fields yields ``"Class.png"``,
which is never in the list (KeyError). Five or more fields give the class cleanly; extra
fields only lengthen the original id.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SEPARATOR = "#"
FIELD_COUNT = 5
#: Positions of the fields of a conforming stem: ``<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>``.
GROUP_INDEX_FIELD = 0
GROUP_FIELD = 1
CLASS_INDEX_FIELD = 2
CLASS_FIELD = 3

#: Image extensions BiRefNet's loader lists (case-sensitive ``endswith``), and the order in
#: which it tries mask extensions.
BIREFNET_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".PNG", ".JPG", ".JPEG")

#: Extensions we recognise as raster images (case-insensitive).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jfif"}
)

_UNSAFE_IN_FIELD = re.compile(r"[#/\\\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """The fields of one file stem. ``class_field`` is what BiRefNet would look up."""

    stem: str
    fields: tuple[str, ...]

    @property
    def field_count(self) -> int:
        return len(self.fields)

    @property
    def conforms(self) -> bool:
        """Exactly five fields: the convention as DIS5K uses it."""
        return len(self.fields) == FIELD_COUNT

    @property
    def class_field(self) -> str | None:
        """The class as BiRefNet's rule reads it from the stem; None where the rule fails.

        Exactly four fields also count as a failure: BiRefNet reads the field from the file
        name with its extension, so the fourth field would carry ``.png``.
        """
        if len(self.fields) >= FIELD_COUNT:
            return self.fields[CLASS_FIELD]
        return None

    @property
    def group_index(self) -> str | None:
        return self.fields[GROUP_INDEX_FIELD] if len(self.fields) >= FIELD_COUNT else None

    @property
    def group(self) -> str | None:
        return self.fields[GROUP_FIELD] if len(self.fields) >= FIELD_COUNT else None

    @property
    def class_index(self) -> str | None:
        return self.fields[CLASS_INDEX_FIELD] if len(self.fields) >= FIELD_COUNT else None

    @property
    def original_id(self) -> str:
        """Everything after the class field; for a non-conforming stem, the whole stem."""
        if len(self.fields) >= FIELD_COUNT:
            return SEPARATOR.join(self.fields[CLASS_FIELD + 1 :])
        return self.stem


def split_stem(filename: str) -> tuple[str, str]:
    """Split ``name.ext`` into ``(stem, ".ext")`` the way BiRefNet does (last dot).

    A name without a dot, or a dot-file like ``.DS_Store``, has an empty extension.
    """
    return split_path(filename)  # a file name is a path of one component: one rule for both


def split_path(path: str) -> tuple[str, str]:
    """``split_stem`` of the file name at the end of a POSIX path (``"DIS-TR/im/a.b.jpg"`` -> ``("a.b", ".jpg")``)."""
    # Worked on the path itself (one call a file of a scan, not two): a last dot before the file name,
    # or at its start, means no extension.
    start = path.rfind("/") + 1
    dot = path.rfind(".")
    if dot <= start:
        return path[start:], ""
    return path[start:dot], path[dot:]


def parse_name(stem: str) -> ParsedName:
    """Parse a file stem (no extension) into its ``#`` fields. Never raises."""
    if not isinstance(stem, str):
        stem = str(stem)
    return ParsedName(stem=stem, fields=tuple(stem.split(SEPARATOR)))


def birefnet_class_field(mask_filename: str) -> str:
    """Exactly BiRefNet's expression: ``basename.split('#')[3]``; raises IndexError like it."""
    return mask_filename.rsplit("/", 1)[-1].split(SEPARATOR)[CLASS_FIELD]


def sanitize_field(text: str, replacement: str = "_") -> str:
    """Make ``text`` safe as one ``#`` field: no ``#``, path separators or control characters."""
    text = unicodedata.normalize("NFC", text)
    cleaned = _UNSAFE_IN_FIELD.sub(replacement, text).strip()
    return cleaned or "unnamed"


def format_name(group_index: int | str, group: str, class_index: int | str, class_name: str, original_id: str) -> str:
    """Build a conforming stem from its parts, sanitising each field."""
    parts = (str(group_index), group, str(class_index), class_name, original_id)
    return SEPARATOR.join(sanitize_field(p) for p in parts)
