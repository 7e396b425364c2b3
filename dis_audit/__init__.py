"""dis-audit: audit, relabel and train on BiRefNet / DIS5K-style segmentation datasets.

The names in ``__all__`` are the library's entry points; everything else is reached through
its module (``dis_audit.manifest``, ``dis_audit.rules`` ...) or is internal (``_``-prefixed).
Besides ``scan``, they are imported on first use, so ``import dis_audit`` loads no report,
rename or merge code, and never torch; ``dis_audit.torch`` holds the training helpers.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Imported eagerly: ``dis_audit.scan`` must stay the function, not become the submodule of the
# same name when something imports ``dis_audit.scan`` later.
from .scan import ScanError, scan

if TYPE_CHECKING:
    from .findings import Finding, Rule, RuleSelection, Severity
    from .manifest import (
        ManifestError,
        ManifestMeta,
        ScanOptions,
        read_findings,
        read_manifest,
        write_manifest,
    )
    from .merge import merge_manifests
    from .rename import (
        ApplyResult,
        PlanRefused,
        RelabelResult,
        RenameError,
        RenamePlan,
        apply_plan,
        load_plan,
        plan_rename,
        relabel_manifest,
        resume,
        undo,
    )
    from .report.html import build_html, render_html
    from .rules import ALL_RULES
    from .splits import dataset_role
    from .summary import ScanResult
    from .vocab import Vocabulary, builtin_dis5k

#: Public name -> the module (below this package) that defines it.
_EXPORTS: dict[str, str] = {
    # scanning
    "ScanResult": "summary", "ALL_RULES": "rules",
    "Finding": "findings", "Rule": "findings", "RuleSelection": "findings", "Severity": "findings",
    "Vocabulary": "vocab", "builtin_dis5k": "vocab", "dataset_role": "splits",
    # the manifest
    "read_manifest": "manifest", "write_manifest": "manifest", "read_findings": "manifest",
    "ManifestMeta": "manifest", "ScanOptions": "manifest", "ManifestError": "manifest",
    "merge_manifests": "merge",
    # renaming and relabelling
    "plan_rename": "rename", "load_plan": "rename", "apply_plan": "rename", "resume": "rename", "undo": "rename",
    "relabel_manifest": "rename", "RenamePlan": "rename", "ApplyResult": "rename", "RelabelResult": "rename",
    "RenameError": "rename", "PlanRefused": "rename",
    # reports
    "build_html": "report.html", "render_html": "report.html",
}

# Kept literal for tools that read it statically; a test checks it against _EXPORTS.
__all__ = [
    "ALL_RULES", "ApplyResult", "Finding", "ManifestError", "ManifestMeta", "PlanRefused", "RelabelResult",
    "RenameError", "RenamePlan", "Rule", "RuleSelection", "ScanError", "ScanOptions", "ScanResult",
    "Severity", "Vocabulary", "__version__", "apply_plan", "build_html", "builtin_dis5k", "dataset_role",
    "load_plan", "merge_manifests", "plan_rename", "read_findings", "read_manifest", "relabel_manifest",
    "render_html", "resume", "scan", "undo", "write_manifest",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dis_audit' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
