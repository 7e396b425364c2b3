"""The ``--json`` output: one object with the summary, every finding and the vocabulary."""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING, Any

from .model import ReportModel

if TYPE_CHECKING:
    from .model import ScanResult


def scan_to_dict(result: ScanResult) -> dict[str, Any]:
    """``{"summary": {...}, "findings": [{"code", "severity", "path", "message", ...}], "vocabulary": [...]}``."""
    return model_to_dict(ReportModel.from_result(result))


def model_to_dict(model: ReportModel) -> dict[str, Any]:
    """The JSON object of a report model (the same keys as ``scan_to_dict``)."""
    return {
        "summary": model.summary,
        "findings": [f.to_dict() for f in model.findings],
        "vocabulary": list(model.vocabulary.names),
    }


def scan_to_json(result: ScanResult) -> str:
    """``scan_to_dict`` as indented JSON text."""
    # ensure_ascii keeps undecodable-name escapes valid on any terminal encoding
    return _json.dumps(scan_to_dict(result), indent=2, ensure_ascii=True)
