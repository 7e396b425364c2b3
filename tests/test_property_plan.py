"""Property test of `rename --plan FILE --apply`: hand-edited plans of any shape are applied correctly or refused.

A real plan CSV is damaged (a cell replaced by a hostile path, random text or another row's
value; a row dropped or duplicated; random bytes). Invariants: no traceback; exit 0/1/2;
nothing outside ROOT changes; no byte is lost; an applied plan is undone to every original name.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hardening import outside_world, run_cli, snapshot, tree_state
from hypothesis import given, settings
from hypothesis import strategies as st

from dis_audit.rename import PLAN_COLUMNS, plan_rename
from dis_audit.testing import make_pair

HOSTILE = st.sampled_from([
    "../x.png", "../../outside/x.png", "/tmp/x.png", "DS/im/../../x.png", "DS\\..\\x.png", "DS/im/a\x00.jpg",
    "DS/im/a\nb.jpg", "", "DS/im", "DS/gt/IMG_0.png", "DS/im/IMG_1.jpg", "DS/im/1#Accessories#1#Bag#IMG_0.JPG",
    "DS/im/1#Accessories#1#Bag#IMG_0.jpg", "rename", "-1", "99999999999999999999", "Bag", "Caf\u0065\u0301",
])
CELL = st.one_of(HOSTILE, st.text(max_size=12))
EDIT = st.one_of(
    st.tuples(st.just("cell"), st.integers(0, 50), st.sampled_from(PLAN_COLUMNS), CELL),
    st.tuples(st.just("drop"), st.integers(0, 50)),
    st.tuples(st.just("dup"), st.integers(0, 50)),
    st.tuples(st.just("bytes"), st.binary(max_size=80)),
)


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan") / "ROOT"
    for i in range(3):
        make_pair(root, "DS", f"IMG_{i}", size=(8, 6))
    (root / "classes.csv").write_text("key,class\nIMG_0,Bag\nIMG_1,Kite\nIMG_2,Chair\n")
    plan_csv = root.parent / "plan.csv"
    plan_rename(root, class_from=[f"map:{root / 'classes.csv'}"]).to_csv(plan_csv)
    return root, plan_csv.read_text(encoding="utf-8")


def _edit(text: str, edits) -> bytes:
    rows = list(csv.reader(io.StringIO(text)))
    for edit in edits:
        if edit[0] == "bytes":
            return text.encode() + edit[1]
        body = rows[1:]
        if not body:
            break
        i = 1 + edit[1] % len(body)
        if edit[0] == "cell":
            rows[i][PLAN_COLUMNS.index(edit[2])] = edit[3]
        elif edit[0] == "drop":
            del rows[i]
        else:
            rows.insert(i, list(rows[i]))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@settings(max_examples=max(5, settings().max_examples // 2))
@given(edits=st.lists(EDIT, min_size=1, max_size=3))
def test_edited_plans_are_applied_or_refused(planned, edits):
    source, text = planned
    with tempfile.TemporaryDirectory() as tmp:
        parent = outside_world(Path(tmp))
        root = parent / "ROOT"
        shutil.copytree(source, root)
        plan = parent / "outside" / "plan.csv"
        plan.write_bytes(_edit(text, edits))
        original = tree_state(root)
        before = snapshot(parent, skip=b"ROOT")
        out = run_cli("rename", root, "--plan", plan, "--apply", "--classes", "dis5k")
        assert snapshot(parent, skip=b"ROOT") == before, "a plan made dis-audit write outside ROOT"
        assert sorted(tree_state(root).values()) == sorted(original.values()), "a byte was lost"
        if tree_state(root) != original:  # something moved: undo gives every name back
            assert out.code in (0, 1)
            assert run_cli("rename", root, "--undo").code == 0
            assert tree_state(root) == original
