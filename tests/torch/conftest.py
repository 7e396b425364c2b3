"""Fixtures for the dis_audit.torch tests."""

from __future__ import annotations

import pytest

# The training helpers need the torch extra; the rest of the suite does not.
pytest.importorskip("torch", reason="dis_audit.torch tests need torch: pip install -e '.[test,torch]'")

from corpus_paths import dis5k_names as _dis5k_names
from corpus_paths import shipped_dis5k_classes


@pytest.fixture(scope="session")
def vocabulary() -> list[str]:
    """BiRefNet's 219 DIS5K class names; id = position."""
    return shipped_dis5k_classes()


@pytest.fixture(scope="session")
def dis5k_names() -> list[tuple[str, str]]:
    """(split, file name): the 5,470 real DIS5K names, or DIS5K-style names on a clone without ../shared."""
    return _dis5k_names()
