"""Suggestions ("did you mean ...?") for a mistyped name: one definition for options, keys, datasets and rules."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word`` ignoring case (``DIS-TEl`` -> ``DIS-TE1``), or None when none is close."""
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(choice.casefold(), choice)
    if word.casefold() in folded:
        return folded[word.casefold()]
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[close[0]] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``""`` when none is close."""
    match = closest(word, choices)
    return f" (did you mean {match!r}?)" if match is not None and match != word else ""


__all__ = ["closest", "did_you_mean"]
