"""The public surface: what ``dis_audit`` and ``dis_audit.torch`` export, and what importing them costs."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import version

import dis_audit


def test_all_lists_every_export_and_nothing_else():
    eager = {"ScanError", "__version__", "scan"}
    assert sorted(dis_audit.__all__) == sorted(set(dis_audit._EXPORTS) | eager)
    assert len(dis_audit.__all__) == len(set(dis_audit.__all__))


def test_every_export_resolves_and_is_documented():
    for name in dis_audit.__all__:
        value = getattr(dis_audit, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"dis_audit.{name} has no docstring"
            assert not value.__module__.split(".")[-1].startswith("_"), f"{name} is defined in a private module"


def test_unknown_attribute_raises_attribute_error():
    try:
        dis_audit.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_scan_stays_the_function_after_importing_the_submodule():
    import dis_audit.scan

    assert callable(dis_audit.scan)


def test_version_is_the_installed_distributions():
    assert dis_audit.__version__ == version("dis-audit")


def test_import_loads_no_torch_and_no_report_rename_or_merge_code():
    code = (
        "import sys, dis_audit; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(("
        "'dis_audit.rename', 'dis_audit.report', 'dis_audit.merge'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_torch_subpackage_exports_resolve():
    import pytest

    pytest.importorskip("torch")
    import dis_audit.torch as dt

    for name in dt.__all__:
        assert hasattr(dt, name), name
