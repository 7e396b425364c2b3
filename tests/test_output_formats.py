"""--output-format: GitHub annotations, SARIF 2.1.0, JUnit XML and text that never cuts paths off a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.findings import Finding, Severity
from dis_audit.paths import location_prefix
from dis_audit.report.github import model_to_github
from dis_audit.report.model import ReportModel
from dis_audit.rules import ALL_RULES
from dis_audit.testing import make_pair

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

# The "required" lists of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json, OASIS) for every object
# this tool writes, and the properties each object allows (the schema sets additionalProperties: false).
SARIF_REQUIRED = {
    "log": ["version", "runs"], "run": ["tool"], "tool": ["driver"], "toolComponent": ["name"],
    "reportingDescriptor": ["id"], "result": ["message"], "multiformatMessageString": ["text"],
}
SARIF_ALLOWED = {
    "log": {"$schema", "version", "runs", "inlineExternalProperties", "properties"},
    "result": {"ruleId", "ruleIndex", "rule", "kind", "level", "message", "analysisTarget", "locations", "guid",
               "correlationGuid", "occurrenceCount", "partialFingerprints", "fingerprints", "stacks", "codeFlows",
               "graphs", "graphTraversals", "relatedLocations", "suppressions", "baselineState", "rank",
               "attachments", "hostedViewerUri", "workItemUris", "provenance", "fixes", "taxa", "webRequest",
               "webResponse", "properties"},
    "reportingDescriptor": {"id", "deprecatedIds", "guid", "deprecatedGuids", "name", "deprecatedNames",
                            "shortDescription", "fullDescription", "messageStrings", "defaultConfiguration",
                            "helpUri", "help", "relationships", "properties"},
    "artifactLocation": {"uri", "uriBaseId", "index", "description", "properties"},
    "location": {"id", "physicalLocation", "logicalLocations", "message", "annotations", "relationships",
                 "properties"},
}


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "data" / "my set"
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#1_o")
    make_pair(root, "DIS-TR", "IMG_0001")                       # DA101, an error
    make_pair(root, "DIS-TR", "1#Accessories#1#Bag#2_o", mask_size=(10, 8))  # DA403
    return root


class _Run:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _scan(root: Path, *args: str, cwd: Path) -> _Run:
    """``dis-audit scan ROOT --no-manifest ARGS`` run from ``cwd`` with stdout off a terminal, COLUMNS=60."""
    here = os.getcwd()
    os.chdir(cwd)
    try:
        res = runner.invoke(app, ["scan", str(root), "--no-manifest", *args], env={"COLUMNS": "60"})
    finally:
        os.chdir(here)
    return _Run(res.exit_code, res.stdout, res.stderr)


def test_github_annotations_name_files_from_the_working_directory(tmp_path):
    root = _tree(tmp_path)
    out = _scan(root, "--output-format", "github", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert any(line.startswith("::error file=data/my set/DIS-TR/im/IMG_0001.jpg,title=DA101 too-few-fields::")
               for line in lines), lines
    # '#' stays, ',' and ':' in a property are escaped so the file name is not cut.
    assert any("file=data/my set/DIS-TR/gt/1#Accessories#1#Bag#2_o.png,title=DA403" in line for line in lines)


def test_github_escapes_newlines_and_property_separators():
    model = _model([Finding("DA101", Severity.ERROR, "a,b:c.jpg", "line1\nline2 100%")])
    text = model_to_github(model)
    assert "file=a%2Cb%3Ac.jpg," in text and "::line1%0Aline2 100%25" in text
    assert text.count("\n") == 1


def _model(findings):
    import pyarrow as pa

    from dis_audit.manifest import ScanOptions
    from dis_audit.vocab import Vocabulary

    # Only the findings matter to the annotation views; the table is never read.
    summary = {"samples": 0, "findings": {"error": 1, "warning": 0, "info": 0}}
    return ReportModel(pa.table({}), findings, Vocabulary(("Bag",), source="t"), ScanOptions(), summary)


def _check(obj: dict, kind: str) -> None:
    missing = [key for key in SARIF_REQUIRED.get(kind, []) if key not in obj]
    assert not missing, f"{kind} lacks {missing}: {obj}"
    extra = set(obj) - SARIF_ALLOWED.get(kind, set(obj))
    assert not extra, f"{kind} has properties the schema does not allow: {extra}"


def test_sarif_has_the_schema_required_structure(tmp_path):
    root = _tree(tmp_path)
    out = _scan(root, "--output-format", "sarif", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    log = json.loads(out.stdout)
    _check(log, "log")
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    _check(run, "run")
    _check(run["tool"], "tool")
    driver = run["tool"]["driver"]
    _check(driver, "toolComponent")
    assert [r["id"] for r in driver["rules"]] == list(ALL_RULES)
    for rule in driver["rules"]:
        _check(rule, "reportingDescriptor")
        for key in ("shortDescription", "fullDescription", "help"):
            _check(rule[key], "multiformatMessageString")
        assert rule["defaultConfiguration"]["level"] in {"none", "note", "warning", "error"}
    codes = set()
    for result in run["results"]:
        _check(result, "result")
        assert result["message"]["text"]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        for location in result["locations"]:
            _check(location, "location")
            _check(location["physicalLocation"]["artifactLocation"], "artifactLocation")
        codes.add(result["ruleId"])
    assert {"DA101", "DA403"} <= codes
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    # Percent-encoded (a '#' would start a URI fragment), relative to the working directory.
    assert "data/my%20set/DIS-TR/gt/1%23Accessories%231%23Bag%232_o.png" in uris


def test_junit_counts_failures_per_rule(tmp_path):
    root = _tree(tmp_path)
    out = _scan(root, "--output-format", "junit", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    suites = ET.fromstring(out.stdout)
    assert suites.tag == "testsuites"
    names = {s.get("name"): s for s in suites.iter("testsuite")}
    assert "DA101 too-few-fields" in names
    case = names["DA101 too-few-fields"].find("testcase")
    assert case is not None and case.get("name") == "data/my set/DIS-TR/im/IMG_0001.jpg"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "error"
    assert int(suites.get("failures")) == sum(int(s.get("failures")) for s in names.values()) >= 2


def test_junit_of_a_clean_scan_is_one_passing_case(tmp_path):
    make_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#1_o")
    result = runner.invoke(app, ["scan", str(tmp_path), "--no-manifest", "--output-format", "junit"])
    assert result.exit_code == 0, result.output
    suites = ET.fromstring(result.stdout)
    assert suites.get("tests") == "1" and suites.get("failures") == "0"


def test_json_alias_and_contradictions(tmp_path):
    make_pair(tmp_path, "DIS-TR", "1#Accessories#1#Bag#1_o")
    a = runner.invoke(app, ["scan", str(tmp_path), "--no-manifest", "--json"])
    b = runner.invoke(app, ["scan", str(tmp_path), "--no-manifest", "--output-format", "json"])
    assert a.exit_code == b.exit_code == 0
    da, db = json.loads(a.stdout), json.loads(b.stdout)
    da["summary"].pop("elapsed_s", None), db["summary"].pop("elapsed_s", None)
    assert da == db
    bad = runner.invoke(app, ["scan", str(tmp_path), "--output-format", "xml"])
    assert bad.exit_code == 2 and "choose one of text, json, github, sarif, junit" in bad.output
    clash = runner.invoke(app, ["scan", str(tmp_path), "--json", "--output-format", "sarif"])
    assert clash.exit_code == 2


def test_text_off_a_terminal_never_cuts_or_wraps_paths(tmp_path):
    long = "1#Accessories#1#Bag#" + "x" * 150 + "_o"
    make_pair(tmp_path, "DIS-TR", "IMG_" + "y" * 140)
    make_pair(tmp_path, "DIS-TR", long, mask_size=(10, 8))
    out = _scan(tmp_path, cwd=tmp_path)   # stdout is a pipe; COLUMNS=60 must not matter
    assert f"DIS-TR/gt/{long}.png: " in out.stdout, out.stdout
    assert f"DIS-TR/im/IMG_{'y' * 140}.jpg: " in out.stdout
    assert "…" not in out.stdout


def test_rename_plan_table_off_a_terminal_keeps_whole_names(tmp_path):
    stem = "IMG_" + "z" * 120
    make_pair(tmp_path, "DIS-TR", stem)
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="60")
    out = subprocess.run([sys.executable, "-m", "dis_audit", "rename", str(tmp_path), "--class-from", "regex:^IMG_(?P<class>z)",
                          "--extend-vocab"],
                         capture_output=True, text=True, env=env)
    assert f"DIS-TR/im/{stem}.jpg" in out.stdout, out.stdout + out.stderr
    assert "…" not in out.stdout


def test_location_prefix(tmp_path):
    assert location_prefix(tmp_path, cwd=tmp_path) == ""
    assert location_prefix(tmp_path / "a" / "b", cwd=tmp_path) == "a/b/"
    assert location_prefix("/elsewhere/x", cwd=tmp_path) == "/elsewhere/x/"


def test_most_and_fewest_samples_never_repeat_a_class(tmp_path):
    for i, name in enumerate(["Bag", "Bag", "Ant", "Ant", "Axe", "Antenna", "Ladder", "Airplane"]):
        make_pair(tmp_path, "DIS-TR", f"1#Accessories#1#{name}#{i}_o")
    out = _scan(tmp_path, cwd=tmp_path)
    most = next(line for line in out.stdout.splitlines() if "most samples" in line)
    fewest = next(line for line in out.stdout.splitlines() if "fewest samples" in line)
    named = lambda line: {part.split()[0] for part in line.split(":", 1)[1].split(",")}  # noqa: E731
    assert len(named(most)) == 5 and named(fewest) and not named(most) & named(fewest), (most, fewest)
