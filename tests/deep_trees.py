"""Trees for the deep-scan tests: the bundled example plus every planted deep defect."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_example = _load("make_example")
deep_defects = _load("deep_defects")
quality_defects = _load("quality_defects")


def build_planted(out: Path) -> Path:
    """The example tree with the deep defects planted (examples/deep_defects.py)."""
    if out.exists():
        shutil.rmtree(out)
    make_example.build(out)
    deep_defects.plant(out)
    return out
