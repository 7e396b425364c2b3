"""SARIF 2.1.0: every rule with its documentation, every finding as a result with its location.

Upload it with GitHub's ``codeql-action/upload-sarif`` (or any SARIF viewer) and findings show on
the files of a dataset repository. Locations are URIs relative to the working directory (the
checkout) with ``uriBaseId`` ``%SRCROOT%``, or absolute ``file:`` URIs for a root outside it.
Every object keeps to the properties the schema allows; extras go in ``properties`` bags.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .._version import __version__
from ..findings import Rule, Severity
from .model import ReportModel

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(prefix: str, path: str) -> dict[str, Any]:
    # '#' (in every DIS5K name), '%', spaces and undecodable bytes must be percent-encoded in a URI.
    raw = (prefix + path).encode("utf-8", "surrogateescape")
    encoded = quote(raw, safe="/")
    if prefix.startswith("/"):
        return {"uri": "file://" + encoded}
    return {"uri": encoded, "uriBaseId": "%SRCROOT%"}


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary} Why it matters: {rule.why}"},
        "help": {
            "text": f"Fix: {rule.fix}",
            "markdown": f"**{rule.code} {rule.name}** ({rule.severity.value})\n\n{rule.summary}\n\n"
                        f"*Why it matters*: {rule.why}\n\n*Fix*: {rule.fix}",
        },
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": [rule.family], "label_effect": rule.label.value},
    }


def model_to_sarif_dict(model: ReportModel, prefix: str = "") -> dict[str, Any]:
    """The SARIF log of a report model (``prefix``: the root as seen from the working directory)."""
    from ..rules import ALL_RULES

    rules = list(ALL_RULES.values())
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    for group in model.rule_groups:
        for f in group.findings:
            result: dict[str, Any] = {
                "ruleId": group.code,
                "level": _LEVEL[group.severity],
                "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")},
                "locations": [{"physicalLocation": {"artifactLocation": _uri(prefix, f.path)}}],
            }
            if group.code in index:
                result["ruleIndex"] = index[group.code]
            if f.related:
                result["relatedLocations"] = [
                    {"id": i, "physicalLocation": {"artifactLocation": _uri(prefix, r)}}
                    for i, r in enumerate(f.related)
                ]
            if f.dataset is not None:
                result["properties"] = {"dataset": f.dataset}
            results.append(result)
    run = {
        "tool": {"driver": {
            "name": "dis-audit",
            "version": __version__,
            "rules": [_descriptor(rule) for rule in rules],
        }},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"summary": {k: model.summary[k] for k in ("samples", "labelled", "unlabelled", "findings")
                                   if k in model.summary}},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def model_to_sarif(model: ReportModel, prefix: str = "") -> str:
    """``model_to_sarif_dict`` as indented JSON text."""
    return json.dumps(model_to_sarif_dict(model, prefix), indent=2, ensure_ascii=True) + "\n"
