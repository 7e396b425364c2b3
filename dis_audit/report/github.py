"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding.

Printed by a step of a dataset repository's CI, each line becomes an annotation on the file it
names (``file=`` is the path from the working directory, so the scan root's own folder is part of
it). The escaping follows the workflow-command rules: ``%``, CR and LF in the message, and also
``:`` and ``,`` in property values.
"""

from __future__ import annotations

from ..findings import Severity
from ..paths import display_path
from .model import ReportModel

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def model_to_github(model: ReportModel, prefix: str = "") -> str:
    """Every finding as a workflow-command line, worst severity first (``prefix``: the root as seen from CI)."""
    lines = []
    for group in model.rule_groups:
        title = f"{group.code} {group.rule.name}" if group.rule else group.code
        for f in group.findings:
            message = f.message + (f" Fix: {f.fix}" if f.fix else "")
            lines.append(
                f"::{_LEVEL[group.severity]} file={_property(prefix + display_path(f.path))},"
                f"title={_property(title)}::{_data(message)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")
