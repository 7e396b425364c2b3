"""The ``--json`` output: one object with the summary, every finding and the vocabulary."""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..summary import ScanResult


def scan_to_dict(result: ScanResult) -> dict[str, Any]:
    """``{"summary": {...}, "findings": [{"code", "severity", "path", "message", ...}], "vocabulary": [...]}``."""
    return {
        "summary": result.summary,
        "findings": [f.to_dict() for f in result.findings],
        "vocabulary": list(result.vocabulary.names),
    }


def scan_to_json(result: ScanResult) -> str:
    # ensure_ascii keeps undecodable-name escapes valid on any terminal encoding
    return _json.dumps(scan_to_dict(result), indent=2, ensure_ascii=True)
