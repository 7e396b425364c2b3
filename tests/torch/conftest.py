"""Fixtures for the dis_audit.torch tests."""

from __future__ import annotations

import pytest

# The training helpers need the torch extra; the rest of the suite does not.
pytest.importorskip("torch", reason="dis_audit.torch tests need torch: pip install -e '.[test,torch]'")

from da_torch_helpers import corpus as _corpus  # noqa: E402


@pytest.fixture(scope="session")
def vocabulary() -> list[str]:
    """BiRefNet's 219 DIS5K class names; id = position."""
    return _corpus("birefnet_dis5k_classes.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def dis5k_names() -> list[tuple[str, str]]:
    """(split, file name) for all 5,470 DIS5K files."""
    lines = _corpus("dis5k_names.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]
