"""DA1xx: file names against the ``#`` convention and the class vocabulary."""

from __future__ import annotations

from ..findings import Emitter, LabelEffect, Rule, Severity
from ..layout import DatasetListing
from ..naming import (
    CLASS_FIELD,
    CLASS_INDEX_FIELD,
    FIELD_COUNT,
    GROUP_INDEX_FIELD,
    ParsedName,
    parse_name,
    split_path,
)
from ..vocab import Vocabulary, normalization_form, normalization_twin
from .base import CheckFamily, Sample

TOO_FEW_FIELDS = Rule(
    "DA101", "too-few-fields", Severity.ERROR,
    "The file name has fewer than four '#' fields, so it carries no class.",
    "BiRefNet takes the class as name.split('#')[3]; with fewer than four fields that raises IndexError "
    "and stops training (or the sample gets class -1 in loaders that catch it).",
    "Rename to <groupIdx>#<Group>#<classIdx>#<Class>#<originalId> with `dis-audit rename`.",
    LabelEffect.INTRINSIC,
)
CLASS_FIELD_HAS_EXTENSION = Rule(
    "DA102", "class-field-has-extension", Severity.ERROR,
    "The file name has exactly four '#' fields, so the class field runs into the extension.",
    "BiRefNet reads the class from the file name with its extension: 'Bag.png' is not a class, so the "
    "lookup raises KeyError.",
    "Add the fifth field (the original id) after the class, e.g. with `dis-audit rename`.",
    LabelEffect.INTRINSIC,
)
UNKNOWN_CLASS = Rule(
    "DA103", "unknown-class", Severity.ERROR,
    "The class field is not in the class vocabulary.",
    "The class lookup fails: KeyError in BiRefNet, class -1 in lenient loaders; the sample never teaches "
    "the classification head.",
    "Fix the spelling (see the suggestion), pass --classes FILE with your own list, or --extend-vocab to "
    "append new classes at the end (existing ids stay).",
    LabelEffect.INTRINSIC,
)
EXTRA_FIELDS = Rule(
    "DA104", "extra-fields", Severity.INFO,
    "The file name has more than five '#' fields.",
    "The class is still read correctly, but tools that split the name into exactly five fields mis-read the "
    "original id.",
    "Replace '#' inside the original id with another character (`dis-audit rename` does it).",
)
NON_NUMERIC_INDEX = Rule(
    "DA105", "non-numeric-index", Severity.INFO,
    "The group or class index field is not a whole number.",
    "BiRefNet ignores these fields, but the convention has numbers there and tools that sort or group by "
    "them fail.",
    "Use the group and class numbers of your class list (`dis-audit rename --groups FILE`).",
)
UNDECODABLE_NAME = Rule(
    "DA106", "undecodable-name", Severity.ERROR,
    "The file name is not valid UTF-8.",
    "Such names cannot be stored in the manifest or passed between tools reliably; many loaders crash on "
    "them. The file is left out of the manifest.",
    "Rename the file to a UTF-8 name.",
)


NORMALIZATION_TWIN = Rule(
    "DA107", "class-normalization-twin", Severity.WARNING,
    "The class name equals another class of the vocabulary except for Unicode normalization (NFC vs NFD).",
    "BiRefNet compares raw strings, so 'Café' typed on macOS (NFD) and on Linux (NFC) are two classes with "
    "two ids: the samples of one class are split between them, and --classes infer keeps both.",
    "Rename the files to one form (`dis-audit rename ROOT --class-from fuzzy` against a vocabulary that holds "
    "the NFC name), or keep both on purpose.",
)


class NamingChecks(CheckFamily):
    prefix = "DA1"
    title = "naming"
    rules = (
        TOO_FEW_FIELDS, CLASS_FIELD_HAS_EXTENSION, UNKNOWN_CLASS, EXTRA_FIELDS, NON_NUMERIC_INDEX, UNDECODABLE_NAME,
        NORMALIZATION_TWIN,
    )

    def check_dataset(self, listing: DatasetListing, emit: Emitter) -> None:
        for path in listing.undecodable:
            emit.emit(UNDECODABLE_NAME, path, "file name is not valid UTF-8; left out of the manifest")

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        check_name(emit, sample.image_path, sample.vocab, name=sample.name, mask_ext=sample.mask_ext)


def check_name(
    emit: Emitter, image_path: str, vocab: Vocabulary, *, name: ParsedName | None = None, mask_ext: str = "",
) -> ParsedName:
    """Run the DA1xx checks of one image name; return the parsed name.

    The one place a name is judged against the convention and the vocabulary: ``scan`` runs
    it for every sample (through ``NamingChecks``), ``rename`` and ``relabel`` for a new
    name, with no probed file behind it. ``image_path`` is relative to the root; the dataset
    of the findings is ``emit.dataset``. ``name``: the already parsed stem, to skip parsing
    it again; ``mask_ext`` (with the dot) only shapes the DA102 message.
    """
    if name is None:
        name = parse_name(split_path(image_path)[0])
    count = name.field_count
    if count < FIELD_COUNT - 1:
        emit.emit(
            TOO_FEW_FIELDS, image_path,
            f"name has {count} '#' field{'s' if count != 1 else ''}, the convention needs 5 "
            f"(<groupIdx>#<Group>#<classIdx>#<Class>#<originalId>)",
        )
        return name
    if count == FIELD_COUNT - 1:
        emit.emit(
            CLASS_FIELD_HAS_EXTENSION, image_path,
            f"name has 4 '#' fields; BiRefNet would read the class as {name.fields[3] + (mask_ext or '.png')!r}",
        )
        return name
    if count > FIELD_COUNT:
        emit.emit(EXTRA_FIELDS, image_path, f"name has {count} '#' fields; the original id contains '#'")
    # Five fields or more from here on: ParsedName's properties, read straight from the tuple (this runs
    # for every sample).
    fields = name.fields
    group_index, class_index, cls = fields[GROUP_INDEX_FIELD], fields[CLASS_INDEX_FIELD], fields[CLASS_FIELD]
    if not group_index.isdigit():
        emit.emit(NON_NUMERIC_INDEX, image_path, f"group index {group_index!r} is not a whole number")
    if not class_index.isdigit():
        emit.emit(NON_NUMERIC_INDEX, image_path, f"class index {class_index!r} is not a whole number")
    if cls not in vocab:
        suggestion = vocab.suggest(cls) if cls else None
        what = "empty class field" if not cls else f"class {cls!r} is not in the {vocab.source} vocabulary"
        if suggestion is not None and normalization_twin(cls, suggestion):
            what += (f": it differs from {suggestion!r} only in Unicode normalization (the name is "
                     f"{normalization_form(cls)} {cls!a}, the vocabulary {normalization_form(suggestion)} "
                     f"{suggestion!a}) and BiRefNet compares raw strings")
            hint = "; fix it with `dis-audit rename ROOT --class-from fuzzy`"
        else:
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        emit.emit(
            UNKNOWN_CLASS, image_path, what + hint,
            fix=f"rename the class field to {suggestion!r}" if suggestion else None,
        )
    elif cls and not cls.isascii():
        twins = vocab.normalization_twins(cls)
        if twins:
            emit.emit(
                NORMALIZATION_TWIN, image_path,
                f"class {cls!r} ({normalization_form(cls)} {cls!a}) and {twins[0]!r} ({normalization_form(twins[0])} "
                f"{twins[0]!a}) are different classes to BiRefNet, which compares raw strings; "
                "they differ only in Unicode normalization",
                fix=f"rename the class field to {twins[0]!r}" if normalization_form(twins[0]) == "NFC" else None,
            )
    return name
