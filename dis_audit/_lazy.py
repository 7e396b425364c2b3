"""Heavy dependencies (pyarrow, numpy) imported on first use instead of on ``import dis_audit``.

pyarrow with numpy costs 0.25-0.35 s to import, over a tenth of a 100,000-file scan. A module
that needs them only inside its functions binds the name to a ``LazyModule``:

    if TYPE_CHECKING:
        import pyarrow as pa
    else:
        pa = lazy_module("pyarrow")

Type checkers see the real module; at run time the first attribute looked up (``pa.table``)
imports it, and every later look-up is a plain attribute of the stand-in. So ``import dis_audit``
and the CLI's argument parsing load neither, and the scan can import them while its folders
are listed (``dis_audit.prelist``). ``tests/test_lazy_imports.py`` checks ``sys.modules`` of a
fresh interpreter.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


class LazyModule:
    """A stand-in for the module ``name`` that imports it at the first attribute look-up."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_lazy_name", name)

    def __getattr__(self, attr: str) -> Any:
        # Only reached for names not cached yet: import (once; sys.modules answers after that),
        # then keep the value here so the next look-up skips this method.
        value = getattr(import_module(self._lazy_name), attr)
        object.__setattr__(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for ``import name`` that imports it on first use (see the module docstring)."""
    return LazyModule(name)
