"""Shared fixtures: the real-name corpora and small dataset trees."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The read-only name corpora beside the checkout (../shared/corpora)."""
    if not (CORPORA / "dis5k_names.tsv").is_file():
        pytest.skip(f"name corpora not found at {CORPORA}")
    return CORPORA


@pytest.fixture(scope="session")
def birefnet_classes(corpora: Path) -> list[str]:
    return [line.strip() for line in (corpora / "birefnet_dis5k_classes.txt").read_text().splitlines() if line.strip()]


@pytest.fixture()
def example_tree(tmp_path: Path) -> Path:
    """A fresh copy of the bundled example dataset (generated, so tests may modify it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example", REPO / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path / "dis-mini")
