"""JUnit XML for test dashboards: one test suite per rule with findings, one test case per finding.

Error and warning findings are failures (``type`` is the severity), info findings are passing
cases that carry their message in ``system-out``; a scan without findings is one passing case,
so a dashboard shows a green run rather than an empty one (the layout ruff's JUnit output uses).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from ..findings import Severity
from ..paths import printable_text
from .model import ReportModel


def _text(value: str) -> str:
    # XML 1.0 cannot hold most control characters, and undecodable names arrive as surrogates.
    return printable_text(value)


def model_to_junit(model: ReportModel, prefix: str = "", elapsed_s: float | None = None) -> str:
    """The JUnit XML document of a report model (``prefix``: the root as seen from the working directory)."""
    seconds = f"{elapsed_s if elapsed_s is not None else model.summary.get('elapsed_s', 0.0):.3f}"
    suites = ET.Element("testsuites", name="dis-audit", time=seconds)
    total = failed = 0
    for group in model.rule_groups:
        title = f"{group.code} {group.rule.name}" if group.rule else group.code
        failing = group.severity in (Severity.ERROR, Severity.WARNING)
        suite = ET.SubElement(
            suites, "testsuite", name=title, tests=str(len(group.findings)),
            failures=str(len(group.findings) if failing else 0), errors="0", skipped="0", time="0",
        )
        for f in group.findings:
            case = ET.SubElement(suite, "testcase", name=_text(prefix + f.path), classname=f"dis-audit.{group.code}")
            message = _text(f.message + (f" Fix: {f.fix}" if f.fix else ""))
            if failing:
                failure = ET.SubElement(case, "failure", message=message, type=group.severity.value)
                failure.text = f"{group.code} {_text(prefix + f.path)}: {message}"
            else:
                ET.SubElement(case, "system-out").text = message
        total += len(group.findings)
        failed += len(group.findings) if failing else 0
    if not total:
        suite = ET.SubElement(suites, "testsuite", name="dis-audit", tests="1", failures="0", errors="0",
                              skipped="0", time="0")
        ET.SubElement(suite, "testcase", name="no findings", classname="dis-audit")
        total = 1
    suites.set("tests", str(total))
    suites.set("failures", str(failed))
    suites.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
