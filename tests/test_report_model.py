"""The report model: one summary that the terminal, JSON and HTML reports all show."""

from __future__ import annotations

import io
import re
from importlib import resources
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dis_audit import scan
from dis_audit.cli import app
from dis_audit.findings import Severity
from dis_audit.manifest import (
    ManifestError,
    ManifestMeta,
    build_table,
    read_manifest_table,
    with_findings,
    write_manifest,
)
from dis_audit.report.html import build_html, stylesheet
from dis_audit.report.json import model_to_dict, scan_to_dict
from dis_audit.report.model import ReportModel
from dis_audit.report.terminal import render_model, render_scan

# Keys a scan adds about the run itself; everything else comes from the manifest.
RUN_ONLY = {"elapsed_s", "reused_rows", "probed_samples"}


def test_severity_order_is_declared_once_worst_first() -> None:
    assert [s.rank for s in Severity] == [0, 1, 2]
    assert sorted(["info", "error", "warning"], key=lambda v: Severity(v).rank) == ["error", "warning", "info"]


@pytest.mark.parametrize("deep", [False, True])
def test_manifest_alone_rebuilds_the_scan_summary(example_tree: Path, deep: bool) -> None:
    result = scan(example_tree, workers=1, deep=deep)
    table, meta = read_manifest_table(result.write_manifest())
    model = ReportModel.from_manifest(table, meta)
    expected = {k: v for k, v in result.summary.items() if k not in RUN_ONLY}
    assert model.summary == expected
    assert ("deep" in model.summary) is deep
    # The views agree: the JSON of the rebuilt model is the scan's JSON, run-only keys aside.
    rebuilt = model_to_dict(model)
    scanned = scan_to_dict(result)
    scanned["summary"] = expected
    assert rebuilt == scanned


def test_terminal_and_html_list_rules_in_the_same_order(example_tree: Path) -> None:
    result = scan(example_tree, workers=1)
    extra = {"code": "DA999", "severity": "error", "path": "DIS-TR/im/x.jpg", "message": "from a newer version"}
    table = with_findings(result.table, [f.to_dict() for f in result.findings] + [extra])
    model = ReportModel.from_manifest(table, ManifestMeta.from_bytes(table.schema.metadata[b"dis_audit"]))
    codes = [g.code for g in model.rule_groups]
    # Worst severity first; a code this version does not know keeps its stored severity.
    assert [g.severity.rank for g in model.rule_groups] == sorted(g.severity.rank for g in model.rule_groups)
    assert codes.index("DA999") < codes.index("DA202")
    buf = io.StringIO()
    render_model(model, str(example_tree), Console(file=buf, width=200, color_system=None))
    terminal = [m.group(1) for m in re.finditer(r"^(DA\d{3}) .* × \d+$", buf.getvalue(), re.MULTILINE)]
    page, _ = build_html(table, root=example_tree, max_thumbs=0)
    html = re.findall(r'<article class="rule" id="rule-(DA\d{3})"', page)
    assert terminal == html == codes


def test_terminal_report_of_a_result_is_the_view_of_its_model(example_tree: Path) -> None:
    result = scan(example_tree, workers=1)

    def text(render) -> str:
        buf = io.StringIO()
        render(Console(file=buf, width=200, color_system=None))
        return buf.getvalue()

    via_result = text(lambda c: render_scan(result, c))
    via_model = text(lambda c: render_model(ReportModel.from_result(result), str(result.root), c))
    assert via_result == via_model
    assert "DIS-TR" in via_result and "(0." in via_result  # the elapsed time of the run is shown


def _meta(**options) -> ManifestMeta:
    return ManifestMeta(vocabulary=["Bag", "Chair"], tool_version="test", root=None, options=options)


def _rows(n: int, dataset: str = "DIS-TE2") -> dict[str, list]:
    return {
        "image_path": [f"{dataset}/im/1#A#1#Bag#{i}.jpg" for i in range(n)],
        "mask_path": [None] * n, "dataset": [dataset] * n, "difficulty": ["hard"] * n,
        "class_name": ["Bag"] * n, "class_id": [0] * n, "label_status": ["ok"] * n,
        "issues": [[] for _ in range(n)], "class_field": ["Bag"] * n,
    }


def test_a_manifest_without_listings_still_gets_every_dataset(tmp_path: Path) -> None:
    finding = {"code": "DA202", "severity": "warning", "path": "DIS-TR/gt/x.png", "message": "orphan", "dataset": "DIS-TR"}
    table = with_findings(build_table(_rows(3), _meta()), [finding])
    model = ReportModel.from_manifest(table, _meta())
    rows = {d.name: d for d in model.datasets}
    assert set(rows) == {"DIS-TE2", "DIS-TR"}
    assert (rows["DIS-TE2"].samples, rows["DIS-TE2"].split, rows["DIS-TE2"].difficulty) == (3, "eval", "hard")
    assert (rows["DIS-TR"].samples, rows["DIS-TR"].warnings, rows["DIS-TR"].split) == (0, 1, "train")
    page, _ = build_html(table, root=tmp_path)
    assert '<th scope="row">DIS-TR</th><td>train</td>' in page


def test_manifest_contradicting_its_metadata_is_refused(tmp_path: Path) -> None:
    bad_id = _rows(2)
    bad_id["class_id"] = [0, 7]
    with pytest.raises(ManifestError, match="class_id 7 is outside"):
        ReportModel.from_manifest(build_table(bad_id, _meta()), _meta())
    severity = {"code": "DA101", "severity": "fatal", "path": "a", "message": "m"}
    with pytest.raises(ManifestError, match="unknown severity 'fatal'"):
        ReportModel.from_manifest(with_findings(build_table(_rows(1), _meta()), [severity]), _meta())
    write_manifest(build_table(bad_id, _meta()), tmp_path / "m.parquet")
    done = CliRunner().invoke(app, ["report", str(tmp_path / "m.parquet"), "--html", str(tmp_path / "r.html")])
    assert done.exit_code == 2 and "outside the manifest's vocabulary" in done.output


def test_css_is_package_data_inlined_into_the_page(tmp_path: Path) -> None:
    css = resources.files("dis_audit.report").joinpath("report.css").read_text(encoding="utf-8")
    assert css == stylesheet() and ".sev.error{" in css
    page, _ = build_html(build_table(_rows(1), _meta()), root=tmp_path)
    assert f"<style>\n{css}</style>" in page
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dis_audit = \[.*"report/\*\.css".*\]$', pyproject, re.MULTILINE)


def test_page_of_a_scan_result_equals_the_page_of_its_manifest(example_tree: Path) -> None:
    result = scan(example_tree, workers=1, deep=True)
    table = with_findings(result.table, [f.to_dict() for f in result.findings])

    def page(source) -> str:
        text, _ = build_html(source, root=example_tree, workers=1)
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "DATE", text)

    from_result = page(result)
    # No file behind either source: the header says so instead of naming a manifest.
    assert "No manifest file (built from an in-memory table)" in from_result
    assert "Manifest in-memory" not in from_result
    assert from_result == page(table)
    named, _ = build_html(result, root=example_tree, workers=1, manifest_name="data/manifest.parquet")
    assert "Manifest data/manifest.parquet · root" in named
