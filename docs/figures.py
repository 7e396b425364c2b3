"""Regenerate the figures docs/report.md and docs/rename.md quote from the bundled example.

    python docs/figures.py           # rewrite the generated blocks in place
    python docs/figures.py --check   # exit 1 when a block is stale (tests/test_doc_figures.py does this)

A generated block sits between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``. The
example (``examples/dis-mini``) is rebuilt in a temporary folder by ``examples/make_example.py``, so
the checkout is never written except for the two Markdown files. Elapsed times are measured as
they come; ``--check`` compares everything but them.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DOCS = {"report": REPO / "docs" / "report.md", "rename": REPO / "docs" / "rename.md"}
_BLOCK = re.compile(r"(<!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.S)
_TIME = re.compile(r"\d+\.\d+ s\b")


def _example(tmp: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_example", REPO / "examples" / "make_example.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp / "dis-mini")


def blocks() -> dict[str, str]:
    """Every generated block's text, by name."""
    from dis_audit.report.html import render_html
    from dis_audit.scan import scan

    with tempfile.TemporaryDirectory() as tmp:
        root = _example(Path(tmp))
        result = scan(root, workers=1)
        manifest = result.write_manifest()
        out = Path(tmp) / "report.html"
        # Best of three, as the timing table of docs/report.md is measured.
        r1 = min((render_html(manifest, out, workers=1) for _ in range(3)), key=lambda r: r.elapsed_s)
        r2 = min((render_html(manifest, out, workers=2) for _ in range(3)), key=lambda r: r.elapsed_s)
        from typer.testing import CliRunner

        from dis_audit.cli import app

        # The command's own output, off a terminal (full names, no wrapping), as a user sees it in a log.
        rename_out = CliRunner().invoke(app, ["rename", str(root), "--class-from", "fuzzy"]).stdout
    mb = f"{r1.size_bytes / 1e6:.2f} MB"
    return {
        "report-example": (
            "```console\n"
            "$ dis-audit scan examples/dis-mini --html report.html      # scan, write manifest.parquet, then the page\n"
            "$ dis-audit report examples/dis-mini/manifest.parquet --html report.html\n"
            f"html report: report.html ({mb}, {r1.rows:,} rows, {r1.findings:,} findings, "
            f"{r1.thumbnails:,} previews, {r1.elapsed_s:.2f} s)\n"
            "```\n"
        ),
        "report-example-row": (
            f"The bundled example, `examples/dis-mini`: {r1.rows:,} rows, {r1.findings:,} findings, "
            f"{r1.thumbnails:,} previews, a {mb} page in {r1.elapsed_s:.2f} s with 1 worker and "
            f"{r2.elapsed_s:.2f} s with 2 (best of three; `python docs/figures.py`).\n"
        ),
        "rename-example": (
            "```console\n"
            "$ dis-audit rename examples/dis-mini --class-from fuzzy\n"
            + "\n".join(line.rstrip() for line in rename_out.replace(str(root), "examples/dis-mini").splitlines())
            + "\n```\n"
        ),
    }


def _documents() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in DOCS.values()}


def stale(generated: dict[str, str]) -> list[str]:
    """Names of the blocks whose text differs from ``generated`` (times aside), or that are missing."""
    found: dict[str, str] = {}
    for text in _documents().values():
        for m in _BLOCK.finditer(text):
            found[m.group("name")] = m.group("body")
    return [name for name, body in generated.items()
            if name not in found or _TIME.sub("T s", found[name]) != _TIME.sub("T s", body)]


def write(generated: dict[str, str]) -> None:
    for path, text in _documents().items():
        new = _BLOCK.sub(lambda m: m.group(1) + generated.get(m.group("name"), m.group("body")) + m.group(4), text)
        if new != text:
            path.write_text(new, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks (exit 1 if any)")
    args = parser.parse_args()
    generated = blocks()
    if args.check:
        names = stale(generated)
        for name in names:
            print(f"stale: {name}")
        return 1 if names else 0
    write(generated)
    print("\n".join(f"{name}:\n{body}" for name, body in generated.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
