"""A manifest row's label (class name, class id, label status): one definition for scan, rename and relabel.

A row keeps its class only while no finding takes the label away: ``label_status`` is
``"ok"`` or the code of the first such finding, and ``class_id`` is then -1. ``scan`` knows
that code from its ``Emitter``; ``rename`` and ``relabel`` rebuild it from the codes a row
already carries in its ``issues`` column, through the rules' ``LabelEffect``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from ..findings import LabelEffect, Rule
from ..manifest import LABEL_OK
from ..vocab import Vocabulary
from . import ALL_RULES


class RowLabel(NamedTuple):
    """The three label columns of a manifest row."""

    class_name: str | None  # the class field, when it is in the vocabulary
    class_id: int  # its id in the vocabulary; -1 unless label_status is "ok"
    label_status: str  # "ok", or the code of the finding that takes the label away


def first_label_code(codes: Iterable[str], rules: Mapping[str, Rule] = ALL_RULES) -> str:
    """The first code, in sorted order, whose rule takes the label away; ``"ok"`` when none does.

    ``codes`` are the codes a row carries (only enabled rules appear there); unknown codes
    are skipped.
    """
    for code in sorted(codes):
        rule = rules.get(code)
        if rule is not None and rule.label is not LabelEffect.NONE:
            return code
    return LABEL_OK


def label_row(
    class_field: str | None,
    vocab: Vocabulary,
    label_status: str | None = None,
    codes: Iterable[str] = (),
    rules: Mapping[str, Rule] = ALL_RULES,
) -> RowLabel:
    """The label columns of a row whose class field is ``class_field``.

    ``label_status``: the code that takes the label away, when the caller knows it (scan's
    ``Emitter.label_status``); when None it is the ``first_label_code`` of ``codes``
    (``"ok"`` for no codes).
    """
    status = label_status if label_status is not None else first_label_code(codes, rules)
    class_id = vocab.id_of(class_field) if status == LABEL_OK else -1
    return RowLabel(class_field if class_field in vocab else None, class_id, status)
