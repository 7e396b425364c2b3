"""Shared fixtures: the real-name corpora and small dataset trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_paths import CORPORA, REPO, shipped_dis5k_classes


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The read-only name corpora beside the checkout (../shared/corpora)."""
    if not (CORPORA / "dis5k_names.tsv").is_file():
        pytest.skip(f"name corpora not found at {CORPORA}")
    return CORPORA


@pytest.fixture(scope="session")
def birefnet_classes() -> list[str]:
    """BiRefNet's 219 class names in id order: the shipped list (test_vocab checks it against the corpus)."""
    return shipped_dis5k_classes()


@pytest.fixture()
def example_tree(tmp_path: Path) -> Path:
    """A fresh copy of the bundled example dataset (generated, so tests may modify it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example", REPO / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path / "dis-mini")
