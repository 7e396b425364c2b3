"""The scan fingerprint is built from named fields and reads back the same; merge swaps its vocabulary by name."""

from __future__ import annotations

import json

import pytest

from dis_audit import __version__
from dis_audit.fingerprint import (
    ScanFingerprint,
    fingerprint_with_vocabulary,
    fingerprint_without_vocabulary,
    scan_fingerprint,
)

SETTINGS = {
    "tool_version": __version__, "vocabulary": ["bag", "chair"], "select": ["DA"], "ignore": ["DA105"],
    "difficulty": {"DIS-TE2": "medium", "DIS-TE1": "easy"},
}


def _as_written_before(deep: bool, max_pixels: int) -> str:
    # The stored form as earlier versions wrote it (a positional list); manifests on disk carry it.
    items: list = [__version__, ["bag", "chair"], ["DA"], ["DA105"], [["DIS-TE1", "easy"], ["DIS-TE2", "medium"]]]
    if deep:
        items.append(["deep", max_pixels])
    return json.dumps(items)


@pytest.mark.parametrize("deep", [False, True])
def test_the_stored_string_is_unchanged_so_old_manifests_are_reused(deep):
    text = scan_fingerprint(**SETTINGS, deep=deep, max_pixels=1000)
    assert text == _as_written_before(deep, 1000)
    parsed = ScanFingerprint.parse(text)
    assert parsed is not None and str(parsed) == text
    assert parsed.vocabulary == ("bag", "chair") and parsed.ignore == ("DA105",)
    assert parsed.deep is deep and parsed.max_pixels == (1000 if deep else 0)


def test_vocabulary_is_compared_and_replaced_by_name():
    a = scan_fingerprint(**SETTINGS, deep=True, max_pixels=5)
    b = scan_fingerprint(**dict(SETTINGS, vocabulary=["bag", "chair", "lamp"]), deep=True, max_pixels=5)
    c = scan_fingerprint(**dict(SETTINGS, ignore=[]), deep=True, max_pixels=5)
    assert a != b
    assert fingerprint_without_vocabulary(a) == fingerprint_without_vocabulary(b)
    assert fingerprint_without_vocabulary(a) != fingerprint_without_vocabulary(c)
    assert fingerprint_with_vocabulary(a, ["bag", "chair", "lamp"]) == b
    # Every other field survives the swap.
    swapped = ScanFingerprint.parse(fingerprint_with_vocabulary(c, ["x"]))
    assert swapped == ScanFingerprint.parse(c).with_vocabulary(["x"])


@pytest.mark.parametrize("text", [None, "", "not json", "[1, 2]", '{"a": 1}', '["v", [], [], [], [], ["shallow", 3]]'])
def test_unreadable_fingerprints_compare_as_their_text(text):
    assert ScanFingerprint.parse(text) is None
    assert fingerprint_without_vocabulary(text) == text
    assert fingerprint_with_vocabulary(text, ["a"]) == text
