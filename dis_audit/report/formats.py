"""The ``--output-format`` choices and the one place that maps a name to its view of the report model.

``text`` is the rich terminal report (``terminal.py``); the others are documents printed on
stdout: ``json`` (``json.py``), ``github`` workflow commands (``github.py``), ``sarif`` 2.1.0
(``sarif.py``) and ``junit`` XML (``junit.py``).
"""

from __future__ import annotations

import os

from ..paths import location_prefix
from .model import ReportModel

#: Every ``--output-format`` value; ``text`` first (the default).
OUTPUT_FORMATS: tuple[str, ...] = ("text", "json", "github", "sarif", "junit")


class FormatError(ValueError):
    """An output format this version does not know."""


def render_document(model: ReportModel, fmt: str, root: str | os.PathLike | None = None) -> str:
    """The report in a machine-readable format (every format except ``text``) as text for stdout.

    ``root`` is the scanned root: GitHub and SARIF locations and JUnit case names are the
    findings' paths as seen from the working directory (see ``paths.location_prefix``).
    """
    if fmt == "json":
        import json

        from .json import model_to_dict

        # ensure_ascii keeps undecodable-name escapes valid on any terminal encoding
        return json.dumps(model_to_dict(model), indent=2, ensure_ascii=True) + "\n"
    prefix = location_prefix(root)
    if fmt == "github":
        from .github import model_to_github

        return model_to_github(model, prefix)
    if fmt == "sarif":
        from .sarif import model_to_sarif

        return model_to_sarif(model, prefix)
    if fmt == "junit":
        from .junit import model_to_junit

        return model_to_junit(model, prefix)
    raise FormatError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
