"""The HTML report without a browser: content, escaping, placeholders, caps, duplicates, CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image
from typer.testing import CliRunner

from dis_audit import scan
from dis_audit.cli import app
from dis_audit.manifest import ManifestMeta, build_table, read_manifest_table, with_findings, write_manifest
from dis_audit.report.html import ReportError, build_html, render_html, split_of
from dis_audit.report.markup import esc
from dis_audit.report.thumbs import ThumbJob, make_thumb, make_thumbs
from dis_audit.testing import make_pair, write_image

REPO = Path(__file__).resolve().parents[1]
# A file name that would inject markup (and an event handler) if any string reached the page unescaped.
HOSTILE_ID = "<img src=x onerror=alert(1)>&amp;\"q'"
HOSTILE_STEM = f"9#Insect#52#Butterfly#{HOSTILE_ID}"


def _example_tree(tmp: Path) -> Path:
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import make_example
    finally:
        sys.path.pop(0)
    root = make_example.build(tmp / "dis-mini")
    # The hostile name gets a finding (its mask is missing) so it shows in a card and a list.
    make_pair(root, "DIS-TR", HOSTILE_STEM, size=(48, 36), mask_ext=None)
    return root


def example_report(tmp: Path) -> Path:
    """Scan the example (plus a hostile name), plant a leaked and a plain duplicate group, render the page."""
    root = _example_tree(tmp)
    result = scan(root)
    table = with_duplicates(result.table, [f.to_dict() for f in result.findings])
    manifest = write_manifest(table, root / "manifest.parquet")
    out = tmp / "report.html"
    render_html(manifest, out)
    return out


def with_duplicates(table: pa.Table, findings: list[dict]) -> pa.Table:
    """Mark a train/test pair and a train/train pair as duplicate groups, as a deep scan would."""
    cols = table.to_pydict()
    paths = cols["image_path"]
    te = paths.index("DIS-TE1/im/9#Insect#52#Butterfly#61616161_aaaaaaaaaa_o.jpg")
    tr = paths.index("DIS-TR/im/9#Insect#52#Butterfly#24681357_0011223344_o.jpg")
    a = paths.index("DIS-TR/im/14#Plant#80#Tree#10101010_7788990011_o.jpg")
    b = paths.index("DIS-TR/im/15#Sports#85#Racket#20202020_aabbccdd00_o.jpg")
    cols["dup_group"] = [None] * len(paths)
    cols["sha1"] = [f"{i:040x}" for i in range(len(paths))]
    for row, group in ((te, 7), (tr, 7), (a, 3), (b, 3)):
        cols["dup_group"][row] = group
    cols["fg_ratio"] = [0.05 * (i % 20) for i in range(len(paths))]
    cols["mask_kind"] = ["binary" if i % 5 else "soft" for i in range(len(paths))]
    meta = ManifestMeta.from_bytes(table.schema.metadata[b"dis_audit"])
    planted = {
        "code": "DA599", "severity": "error", "path": paths[te], "message": "same image in DIS-TR and DIS-TE1",
        "dataset": "DIS-TE1", "related": [paths[tr]],
    }
    return with_findings(build_table(cols, meta), [*findings, planted])


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = example_report(tmp_path_factory.mktemp("html"))
    return out, out.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- the example page


def test_example_page_has_every_section_and_every_rule_code(example: tuple[Path, str]) -> None:
    out, page = example
    table, _ = read_manifest_table(out.parent / "dis-mini" / "manifest.parquet")
    from dis_audit.manifest import read_findings

    codes = {f["code"] for f in read_findings(table)}
    assert {"DA101", "DA103", "DA201", "DA202", "DA203", "DA301", "DA403", "DA404", "DA405", "DA599"} <= codes
    for code in codes:
        assert f'id="rule-{code}"' in page, code
        assert f'href="#rule-{code}"' in page, code
    for section in ("summary", "datasets", "classes", "matrix", "masks", "findings", "duplicates"):
        assert f'<section id="{section}"' in page
    for name in ("DIS-TR", "DIS-VD", "DIS-TE1", "Butterfly", "Snake", "airplane"):
        assert name in page
    # Rule documentation comes along: why and fix of a registry rule.
    assert "Why it matters" in page and "BiRefNet&#x27;s loader raises ValueError" in page
    assert page.count("<img ") >= 10


def test_page_is_self_contained_and_script_free(example: tuple[Path, str]) -> None:
    _, page = example
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page
    for attr in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert attr.startswith(("data:", "#")), attr
    assert "url(" not in page and "@import" not in page
    assert re.search(r"<h1>.*</h1>", page) and "<h2" in page and 'alt="Preview of ' in page


def test_hostile_file_name_is_escaped(example: tuple[Path, str]) -> None:
    _, page = example
    assert HOSTILE_ID not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;amp;&quot;q&#x27;" in page


def test_leaked_group_is_shown_side_by_side_first(example: tuple[Path, str]) -> None:
    _, page = example
    dup = page[page.index('<section id="duplicates"'):]
    assert "2 groups hold 4 files" in dup and "<strong>1</strong> groups span" in dup
    first, second = dup.index("group 7"), dup.index("group 3")
    assert first < second  # the leak comes before the plain duplicate
    leak = dup[first:second]
    assert "leakage: training ↔ evaluation" in dup[: second]
    assert leak.count("<img ") == 2 and "DIS-TE1/im/9#Insect#52#Butterfly#61616161" in leak and "DIS-TR/im/9#Insect" in leak
    # The related finding's card shows both files too.
    card = page[page.index('id="rule-DA599"'):]
    card = card[: card.index("</article>")]
    assert card.count("<img ") == 2 and "no documentation" in card


def test_truncated_and_orphan_files_get_placeholder_notes(example: tuple[Path, str]) -> None:
    _, page = example
    da301 = page[page.index('id="rule-DA301"'):]
    assert "image: cannot decode" in da301[: da301.index("</article>")]
    da201 = page[page.index('id="rule-DA201"'):]
    assert "mask: none" in da201[: da201.index("</article>")]
    da403 = page[page.index('id="rule-DA403"'):]
    assert "stretched onto the image" in da403[: da403.index("</article>")]


# ----------------------------------------------------------------------------- escaping and edge cases


def test_escape_handles_markup_quotes_controls_and_undecodable_bytes() -> None:
    assert esc("<a href='x'>&\"") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;"
    assert esc("bad\udcff.jpg") == "bad\\xff.jpg"  # a surrogate-escaped non-UTF-8 byte
    assert esc("lone\ud800") == "lone\\ud800"
    assert esc("nul\x00esc\x1b") == "nul\\x00esc\\x1b"
    esc("ok ünïcødé ✓").encode("utf-8")


def _meta() -> ManifestMeta:
    return ManifestMeta(vocabulary=["Bag", "Chair"], tool_version="test", root=None)


def _rows(paths: list[str], dataset: str = "DIS-TR") -> dict[str, list]:
    n = len(paths)
    return {
        "image_path": paths,
        "mask_path": [p.replace("/im/", "/gt/").rsplit(".", 1)[0] + ".png" for p in paths],
        "dataset": [dataset] * n, "difficulty": [dataset] * n, "class_name": ["Bag"] * n,
        "class_id": [i % 2 for i in range(n)], "label_status": ["ok"] * n, "issues": [[] for _ in range(n)],
        "class_field": ["Bag"] * n,
    }


def test_missing_files_and_undecodable_finding_paths_never_crash(tmp_path: Path) -> None:
    paths = [f"DIS-TR/im/1#A#1#Bag#{i}.jpg" for i in range(3)]
    findings = [
        {"code": "DA301", "severity": "error", "path": p, "message": "gone", "dataset": "DIS-TR"} for p in paths
    ] + [{"code": "DA102", "severity": "warning", "path": "DIS-TR/im/bad\udcff<.jpg", "message": "x\udcff"}]
    table = with_findings(build_table(_rows(paths), _meta()), findings)
    page, stats = build_html(table, root=tmp_path)
    assert stats.thumbnails == 0 and stats.findings == 4
    assert page.count("image: file not found") == 3
    assert "bad\\xff&lt;.jpg" in page and "file not found" in page
    page.encode("utf-8")  # strict: no lone surrogate made it into the page


def test_empty_manifest_and_no_findings(tmp_path: Path) -> None:
    page, stats = build_html(build_table(_rows([]), _meta()), root=tmp_path)
    assert stats.rows == 0 and "No findings: every check passed." in page and "No sample has a class." in page
    assert "No exact or near-duplicate files." in page and page.count("<img ") == 0


def test_caps_bound_previews_lists_and_page_size(tmp_path: Path) -> None:
    # 3,000 samples that all exist on disk (hard links to one pair) and all have a finding, in 5 rules.
    make_pair(tmp_path, "src", "x", size=(640, 480))
    paths = [f"DIS-TR/im/1#A#1#Bag#{i}.jpg" for i in range(3000)]
    for p in paths:
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p.replace("/im/", "/gt/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).hardlink_to(tmp_path / "src/im/x.jpg")
        (tmp_path / p.replace("/im/", "/gt/").replace(".jpg", ".png")).hardlink_to(tmp_path / "src/gt/x.png")
    codes = ["DA101", "DA103", "DA201", "DA202", "DA203"]
    findings = [
        {"code": codes[i % 5], "severity": "error", "path": p, "message": f"m{i}", "dataset": "DIS-TR"}
        for i, p in enumerate(paths)
    ]
    table = with_findings(build_table(_rows(paths), _meta()), findings)
    page, stats = build_html(table, root=tmp_path, max_thumbs_per_rule=4, max_thumbs=12, max_listed=50)
    assert stats.thumbnails == 12
    assert page.count("<img ") == 12 and page.count("preview limit reached") == 8
    assert "further previews left out (limit 12)" in page
    assert page.count("First 50 of 600 findings") == 5
    assert stats.size_bytes < 1_000_000


def test_render_from_path_is_atomic_and_refuses_bad_targets(tmp_path: Path) -> None:
    table = build_table(_rows(["DIS-TR/im/a.jpg"]), _meta())
    manifest = write_manifest(table, tmp_path / "m.parquet")
    stats = render_html(manifest, tmp_path / "out" / "r.html")
    assert stats.path == tmp_path / "out" / "r.html" and stats.size_bytes == stats.path.stat().st_size
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.html"]
    with pytest.raises(ReportError, match="folder"):
        render_html(manifest, tmp_path)
    with pytest.raises(ReportError, match="metadata"):
        build_html(pa.table({"image_path": ["a"]}))


def test_split_of_reads_dataset_names() -> None:
    assert [split_of(n) for n in ("DIS-TR", "DIS-TE1", "DIS-VD", "train", "val2", "HRSOD-test", "extra")] == [
        "train", "eval", "eval", "train", "eval", "eval", None,
    ]
    assert split_of("extra", ["extra"]) == "eval"


# ----------------------------------------------------------------------------- previews


def test_preview_of_a_pair_tints_the_mask(tmp_path: Path) -> None:
    image = write_image(tmp_path / "a.jpg", np.full((300, 400, 3), 128, np.uint8))
    mask = np.zeros((300, 400), np.uint8)
    mask[:, 200:] = 255
    write_image(tmp_path / "a.png", mask)
    thumb = make_thumb(ThumbJob(str(image), str(tmp_path / "a.png"), size=100))
    assert thumb.notes == () and (thumb.width, thumb.height) == (204, 75)
    with Image.open(__import__("io").BytesIO(thumb.jpeg)) as im:
        px = np.asarray(im.convert("RGB"), dtype=int)
    left_bg, right_bg, right_fg = px[37, 30], px[37, 104 + 20], px[37, 104 + 80]
    assert abs(left_bg - 128).max() < 12 and abs(right_bg - 128).max() < 12
    assert right_fg[0] > 170 and right_fg[1] < 90  # magenta where the mask is on


def test_preview_edge_cases_are_notes_not_exceptions(tmp_path: Path) -> None:
    img, msk = make_pair(tmp_path, "d", "s", size=(64, 48), mask_size=(48, 64))
    truncated = tmp_path / "t.jpg"
    truncated.write_bytes(img.read_bytes()[:200])
    garbage = tmp_path / "g.png"
    garbage.write_bytes(b"not an image at all")
    cases = {
        "mismatch": make_thumb(ThumbJob(str(img), str(msk))),
        "bomb": make_thumb(ThumbJob(str(img), str(msk), max_pixels=1000)),
        "missing": make_thumb(ThumbJob(str(tmp_path / "nope.jpg"), None)),
        "truncated": make_thumb(ThumbJob(str(truncated), str(msk))),
        "garbage": make_thumb(ThumbJob(str(garbage), str(garbage))),
        "mask-only": make_thumb(ThumbJob(None, str(msk))),
    }
    assert cases["mismatch"].jpeg and "stretched" in cases["mismatch"].notes[0]
    assert cases["bomb"].jpeg is None and all("pixel limit, not decoded" in n for n in cases["bomb"].notes)
    assert cases["missing"].jpeg is None and cases["missing"].notes == ("image: file not found", "mask: none")
    assert cases["truncated"].jpeg and cases["truncated"].notes[0].startswith("image: cannot decode")
    assert cases["garbage"].jpeg is None and len(cases["garbage"].notes) == 2
    assert str(tmp_path) not in " ".join(cases["garbage"].notes)  # no absolute paths in notes
    assert cases["mask-only"].jpeg and cases["mask-only"].notes == ("image: none",)


def test_process_pool_gives_the_same_previews_as_one_process(tmp_path: Path) -> None:
    jobs = []
    for i in range(30):
        img, msk = make_pair(tmp_path, "d", f"s{i}", size=(80, 60))
        jobs.append(ThumbJob(str(img), str(msk)))
    assert [t.jpeg for t in make_thumbs(jobs, workers=2)] == [t.jpeg for t in make_thumbs(jobs, workers=1)]


# ----------------------------------------------------------------------------- CLI


def test_cli_report_and_scan_html(tmp_path: Path) -> None:
    root = _example_tree(tmp_path)
    runner = CliRunner()
    scanned = runner.invoke(app, ["scan", str(root), "--html", str(tmp_path / "scan.html")])
    assert scanned.exit_code == 1, scanned.output  # the example has error findings
    assert "html report:" in scanned.output and (tmp_path / "scan.html").stat().st_size > 10_000
    done = runner.invoke(app, ["report", str(root / "manifest.parquet"), "--html", str(tmp_path / "r.html")])
    assert done.exit_code == 0, done.output
    assert "html report:" in done.output and "previews" in done.output
    assert 'id="rule-DA201"' in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "{tmp}/missing.parquet", "--html", "{tmp}/r.html"], "manifest not found"),
        (["report", "{tmp}/bad.parquet", "--html", "{tmp}/r.html"], "cannot read manifest"),
        (["report", "{tmp}/bad.parquet"], "give --html"),
        (["report", "{tmp}/ok.parquet", "--html", "{tmp}"], "is a folder"),
    ],
)
def test_cli_user_errors_exit_2_without_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.parquet").write_text("not parquet")
    write_manifest(build_table(_rows(["DIS-TR/im/a.jpg"]), _meta()), tmp_path / "ok.parquet")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "dis_audit", *argv], cwd=REPO, capture_output=True, text=True, check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
