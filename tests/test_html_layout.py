"""The page leads with findings, folds long class lists, orders difficulties, draws each duplicate pair once."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.manifest import with_findings
from dis_audit.report.html import build_html
from dis_audit.scan import scan
from dis_audit.testing import make_pair
from dis_audit.vocab import builtin_dis5k

runner = CliRunner()


def _section_order(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)"', page)


def test_sections_lead_with_findings_and_nav_follows_them(example_tree: Path) -> None:
    result = scan(example_tree, workers=1, deep=True)
    page, _ = build_html(result, root=example_tree, workers=1)
    order = _section_order(page)
    assert order.index("summary") < order.index("findings") < order.index("duplicates") < order.index("classes") \
        < order.index("matrix")
    nav = re.findall(r'<li><a href="#([a-z]+)">', page.split("<main>")[0])
    assert nav == order  # every section is in the nav, in page order


def test_each_duplicate_pair_is_drawn_once_per_rule(example_tree: Path) -> None:
    result = scan(example_tree, workers=1, deep=True)
    pairs = [f for f in result.findings if f.code.startswith("DA5") and f.related]
    assert pairs, "the example has duplicate findings"
    page, _ = build_html(result, root=example_tree, workers=1)
    for code in {f.code for f in pairs}:
        article = page.split(f'id="rule-{code}"', 1)[1].split("</article>", 1)[0]
        cards = re.findall(r'<li class="card">.*?</li>', article)
        members = [frozenset(re.findall(r'<figcaption[^>]*>(.*?)</figcaption>', c)) for c in cards]
        assert len(members) == len(set(members)), (code, members)


def _tree_with_many_classes(root: Path, n_classes: int) -> None:
    names = builtin_dis5k().names[:n_classes]
    for i, name in enumerate(names):
        for difficulty in ("hard", "easy", "medium")[: 1 + i % 3]:
            make_pair(root, difficulty, f"1#Accessories#1#{name}#{i}_o", size=(4, 4))


def test_long_class_lists_fold_and_difficulties_run_easy_to_hard(tmp_path: Path) -> None:
    root = tmp_path / "mydata"
    _tree_with_many_classes(root, 40)
    result = scan(root, workers=1)
    table = with_findings(result.table, [f.to_dict() for f in result.findings])
    page, _ = build_html(table, root=root, workers=1)
    classes = page.split('<section id="classes"', 1)[1].split("</section>", 1)[0]
    assert "<summary>20 more classes</summary>" in classes
    matrix = page.split('<section id="matrix"', 1)[1].split("</section>", 1)[0]
    assert '<details class="matrix-fold"><summary>Show the matrix: 40 classes × 3 difficulties' in matrix
    heads = re.findall(r'<th scope="col">([a-z]+)</th>', matrix.split("</thead>")[0])
    assert heads == ["class", "easy", "medium", "hard", "total"]
    datasets = page.split('<section id="datasets"', 1)[1].split("</section>", 1)[0]
    assert "?" not in re.sub(r"<[^>]+>", "", datasets)  # no role reads 'none', not '?'


def test_scan_html_names_the_manifest_it_wrote(tmp_path: Path) -> None:
    make_pair(tmp_path / "d", "DIS-TR", "1#Accessories#1#Bag#1_o")
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["scan", str(tmp_path / "d"), "--html", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert f"Manifest {tmp_path / 'd' / 'manifest.parquet'} · root" in page
    assert "in-memory" not in page
