"""Orders people expect: names with numbers (``DIS-TE2`` before ``DIS-TE10``) and difficulty levels.

Difficulty folders are usually words (``easy``, ``medium``, ``hard``) that sort wrongly as text;
``difficulty_key`` ranks the common words from easy to hard and sorts everything else naturally
after them, so ``DIS-TE1`` … ``DIS-TE4`` and ``1``, ``2``, ``10`` keep their numeric order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["DIFFICULTY_WORDS", "difficulty_key", "natural_key", "sort_difficulties"]

#: Difficulty words, easiest first; a value is ranked by its lowercase form with '-', '_' and spaces removed.
DIFFICULTY_WORDS: tuple[str, ...] = (
    "trivial", "veryeasy", "easy", "simple", "low", "medium", "mid", "moderate", "normal", "intermediate",
    "high", "hard", "difficult", "veryhard", "extreme", "expert",
)
_RANK = {word: i for i, word in enumerate(DIFFICULTY_WORDS)}


def natural_key(text: str) -> list[Any]:
    """Sort key that puts 'DIS-TE2' before 'DIS-TE10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def difficulty_key(value: str) -> tuple[int, list[Any]]:
    """Sort key for difficulty values: known words easiest first, then the rest in natural order."""
    word = re.sub(r"[-_ ]", "", value.lower())
    return (_RANK[word], []) if word in _RANK else (len(_RANK), natural_key(value))


def sort_difficulties(values: Iterable[str | None]) -> list[str]:
    """The distinct non-null difficulty values in ``difficulty_key`` order."""
    return sorted({v for v in values if v is not None}, key=difficulty_key)
