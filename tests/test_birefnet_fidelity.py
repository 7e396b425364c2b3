"""Per-file agreement with the REAL BiRefNet ``MyData`` (upstream and the jpgs/masks fork).

For every defect kind in ``birefnet_trees`` the real loader runs in the oracle environment (a
second venv with torch + torchvision + BiRefNet's imports, made by ``.ci/oracle-venv.sh``) and
this test requires, per image file: where BiRefNet labels the file, the manifest's ``class_id``
is that label; where it skips the file, raises on it, or stops the run because of it, the
manifest says ``class_id`` -1 and carries a finding on it (for a stopped run, one that says so).

Skips with a reason where ``../shared/birefnet`` or the oracle venv is absent; CI makes both.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from birefnet_trees import DEEP_ONLY, build_tree

import dis_audit

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIS_AUDIT_BIREFNET_SRC") or REPO.parent / "shared" / "birefnet")
ORACLE_PYTHON = Path(
    os.environ.get("DIS_AUDIT_ORACLE_PYTHON") or Path.home() / ".cache" / "dis-audit" / "oracle-venv" / "bin" / "python"
)
pytestmark = pytest.mark.slow  # the oracle imports torch and decodes two trees: ~20 s per codebase
CODEBASES = {"upstream": ("im", "gt", "birefnet"), "fork": ("jpgs", "masks", "birefnet-fork")}
RUN_STOPS = "whole run stops"


def _need_oracle(codebase: str) -> Path:
    src = SHARED / codebase
    if not (src / "dataset.py").is_file():
        pytest.skip(f"BiRefNet reference copy {src} is absent (the repo's sibling shared/ folder is not checked out)")
    if not ORACLE_PYTHON.is_file():
        pytest.skip(f"oracle venv {ORACLE_PYTHON} is absent: bash .ci/oracle-venv.sh makes it (CI does)")
    return src


def _outcomes(oracle: dict) -> dict[str, object]:
    """Per image path (relative to the task folder): BiRefNet's label (int) or why it has none (str)."""
    out: dict[str, object] = {}
    for entry in oracle.values():
        if "items" in entry:
            out.update(entry["items"])
            continue
        for path in entry.get("culprits", []):
            out[path] = "run stops: " + entry["init_error"]
        if "after_removal" in entry:
            out.update(entry["after_removal"])
    return out


def _compare(task: Path, image_dir: str, oracle: dict, result, *, skip_kinds: frozenset[str]) -> tuple[list[str], Counter]:
    """Disagreements (empty when every file agrees) and a per-kind tally of files compared."""
    rows = {r["image_path"]: r for r in result.table.to_pylist()}
    findings: dict[str, list] = {}
    for f in result.findings:
        for path in (f.path, *f.related):
            findings.setdefault(path, []).append(f)
    outcomes = _outcomes(oracle)
    bad, tally = [], Counter()
    for kind, entry in oracle.items():
        if kind in skip_kinds:
            continue
        files = sorted(
            str(p.relative_to(task))
            for folder in (task / kind).iterdir() if folder.name.casefold() == image_dir
            for p in folder.rglob("*") if not p.is_dir() or p.suffix == ".jpg"  # a folder named x.jpg is listed
        )
        run_failed = "init_error" in entry and not entry.get("culprits") and "after_removal" not in entry
        for path in files:
            row = rows.get(path)
            got = outcomes.get(path)
            tally[kind] += 1
            if isinstance(got, int):
                if row is None or row["class_id"] != got:
                    bad.append(f"{path}: BiRefNet labels {got}, manifest {None if row is None else row['class_id']}")
                continue
            if run_failed:
                got = "run stops: " + entry["init_error"]
            if got is None and row is None:
                continue  # BiRefNet does not list it, and neither does the manifest (clutter)
            if row is None:
                bad.append(f"{path}: BiRefNet {got or 'skips it'}, but the manifest has no row for it")
                continue
            if row["class_id"] != -1 or not row["issues"]:
                bad.append(f"{path}: BiRefNet {got or 'skips it'}, manifest class_id {row['class_id']} {row['issues']}")
                continue
            if isinstance(got, str) and got.startswith("run stops") and not any(
                RUN_STOPS in f.message for f in findings.get(path, [])
            ):
                bad.append(f"{path}: BiRefNet's run stops ({got}); no finding on it says so: {row['issues']}")
    return bad, tally


@pytest.fixture(scope="module", params=sorted(CODEBASES))
def oracle_run(request, tmp_path_factory):
    codebase = request.param
    src = _need_oracle(codebase)
    image_dir, mask_dir, loader = CODEBASES[codebase]
    data_root = tmp_path_factory.mktemp(f"birefnet-{codebase}")
    task = data_root / "1024px"
    names = build_tree(task, image_dir, mask_dir)
    out = data_root / "oracle.json"
    proc = subprocess.run(
        [str(ORACLE_PYTHON), str(REPO / "tests" / "birefnet_oracle.py"), str(src), image_dir, mask_dir,
         str(data_root), "1024px", str(out), *names],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    oracle = json.loads(out.read_text())
    return codebase, loader, task, oracle, image_dir


def test_header_scan_labels_every_file_as_birefnet_does(oracle_run):
    codebase, loader, task, oracle, image_dir = oracle_run
    result = dis_audit.scan(task, workers=1)
    assert result.options.loader == loader  # chosen from the layout
    bad, tally = _compare(task, image_dir, oracle, result, skip_kinds=DEEP_ONLY)
    assert not bad, f"{codebase}: {len(bad)} of {sum(tally.values())} files disagree:\n" + "\n".join(bad)
    assert len(tally) == len(oracle) - len(DEEP_ONLY)


def test_deep_scan_labels_pixel_damage_as_birefnet_does(oracle_run):
    codebase, loader, task, oracle, image_dir = oracle_run
    result = dis_audit.scan(task, workers=1, deep=True, loader=loader)
    bad, tally = _compare(task, image_dir, oracle, result, skip_kinds=frozenset())
    assert not bad, f"{codebase} --deep: {len(bad)} of {sum(tally.values())} files disagree:\n" + "\n".join(bad)


def test_truncated_jpeg_keeps_its_label_with_a_warning_that_says_so(oracle_run):
    _, _loader, task, oracle, _ = oracle_run
    items = oracle["jpeg-cut-mid-scan"]["items"]
    assert all(isinstance(v, int) for v in items.values()), items
    result = dis_audit.scan(task, workers=1, datasets="jpeg-cut-mid-scan")
    hits = [f for f in result.findings if f.code == "DA309"]
    assert len(hits) == 1 and "trains on it" in hits[0].message and hits[0].severity.value == "warning"
