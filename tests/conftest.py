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


# Hypothesis profiles for the property tests (tests/test_property_*.py). `ci` is the default: a fixed
# example count and derandomized draws, so CI is reproducible and the property tests add well under
# two minutes; `thorough` explores far more (random seeds): DIS_AUDIT_HYPOTHESIS=thorough python -m pytest.
import os as _os  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402

_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
          HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=30, deadline=None, database=None, derandomize=True,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("thorough", max_examples=400, deadline=None, database=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.load_profile(_os.environ.get("DIS_AUDIT_HYPOTHESIS", "ci"))
