"""The optional C extensions in tests: imported where built, skipped where not, required in CI.

``pip install -e .`` builds ``dis_audit._fastprobe`` and ``dis_audit._fastpixels``; an install without
a compiler runs the Python code instead, so their tests skip there. CI sets
DIS_AUDIT_REQUIRE_FASTPROBE, and then a missing extension fails the run instead of skipping it.
"""

from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType
from typing import Any

import pytest


def optional_extension(name: str) -> tuple[ModuleType | Any, pytest.MarkDecorator]:
    """``dis_audit.<name>`` (None where it is not built) and a marker that skips a test module without it."""
    try:
        module: ModuleType | None = import_module(f"dis_audit.{name}")
    except ImportError:  # depends on the build
        if os.environ.get("DIS_AUDIT_REQUIRE_FASTPROBE"):
            raise
        module = None
    reason = f"the C extension dis_audit.{name} is not built (python setup.py build_ext --inplace)"
    return module, pytest.mark.skipif(module is None, reason=reason)
