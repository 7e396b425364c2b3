"""docs/report.md and docs/rename.md quote what the current code produces on the bundled example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def figures():
    spec = importlib.util.spec_from_file_location("doc_figures", REPO / "docs" / "figures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(figures):
    return figures.blocks()


def test_generated_doc_blocks_are_current(figures, generated):
    assert set(generated) == {"report-example", "report-example-row", "rename-example"}
    stale = figures.stale(generated)
    assert stale == [], f"run `python docs/figures.py` to regenerate: {stale}"


def test_the_check_notices_a_stale_block(figures, generated):
    edited = dict(generated)
    edited["rename-example"] = edited["rename-example"].replace("to rename", "to rename (edited)")
    assert figures.stale(edited) == ["rename-example"]
