"""rename: plans, refusals (nothing touched), idempotence, round trips, manifest, CLI."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest
from corpus_paths import CORPORA
from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.manifest import read_manifest
from dis_audit.rename import (
    GroupTable,
    PlanRefused,
    RenamePlan,
    apply_plan,
    load_plan,
    plan_rename,
    relabel_manifest,
    undo,
)
from dis_audit.rename.journal import read_journal
from dis_audit.scan import scan
from dis_audit.testing import make_pair
from dis_audit.vocab import builtin_dis5k

runner = CliRunner()


def tree_hash(root: Path) -> dict[str, str]:
    """relative path -> sha1 of every file, journal folder excluded."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".dis-audit"]
        for name in filenames:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    make_pair(root, "DS", "IMG_0001")
    make_pair(root, "DS", "IMG_0002")
    make_pair(root, "DS", "2#Aircraft#5#airplane#81818181_x_o")
    make_pair(root, "DS", "1#Accessories#1#Bag#ok_o")
    (root / "classes.csv").write_text("key,class\nIMG_0001,Chair\nDS/im/IMG_0002.jpg,Kite\n")
    return root


def moves_of(plan: RenamePlan) -> dict[str, str]:
    return dict(plan.moves)


def test_plan_changes_nothing_and_pairs_image_with_mask(tree):
    before = tree_hash(tree)
    plan = plan_rename(tree, class_from=["fuzzy", f"map:{tree / 'classes.csv'}"])
    assert tree_hash(tree) == before
    m = moves_of(plan)
    # Chair: DIS5K group 11 Furniture, class 4 within it, as the real DIS5K names have it
    assert m["DS/im/IMG_0001.jpg"] == "DS/im/11#Furniture#4#Chair#IMG_0001.jpg"
    # the mask moves to the same stem, keeping its own extension
    assert m["DS/gt/IMG_0001.png"] == m["DS/im/IMG_0001.jpg"][:-4].replace("/im/", "/gt/") + ".png"
    assert m["DS/im/2#Aircraft#5#airplane#81818181_x_o.jpg"] == "DS/im/2#Aircraft#1#Airplane#81818181_x_o.jpg"
    assert plan.unchanged == 2 and not plan.problems and plan.validated
    assert "DS/im/1#Accessories#1#Bag#ok_o.jpg" not in m


def test_new_name_fields_and_sanitized_original_id(tmp_path):
    root = tmp_path / "d"
    make_pair(root, "DS", "weird id#with hash")
    (tmp_path / "m.csv").write_text("weird id#with hash,Bag\n")
    plan = plan_rename(root, class_from=[f"map:{tmp_path / 'm.csv'}"])
    new = moves_of(plan)["DS/im/weird id#with hash.jpg"]
    # Bag is DIS5K group 1 Accessories, class 1 within it (as in DIS5K); '#' in the old stem -> '_'
    assert new == "DS/im/1#Accessories#1#Bag#weird id_with hash.jpg"


def test_unresolved_files_keep_names_and_are_listed(tree):
    plan = plan_rename(tree)
    assert {e.old for e in plan.unresolved if e.kind == "image"} == {
        "DS/im/IMG_0001.jpg", "DS/im/IMG_0002.jpg", "DS/im/2#Aircraft#5#airplane#81818181_x_o.jpg"}
    assert all(e.new is None for e in plan.unresolved)
    res = runner.invoke(app, ["rename", str(tree), "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["summary"]["unresolved_pairs"] == 3 and data["applied"] is None


def test_idempotent_second_run_plans_nothing(tree):
    spec = ["fuzzy", f"map:{tree / 'classes.csv'}"]
    apply_plan(plan_rename(tree, class_from=spec))
    after = tree_hash(tree)
    again = plan_rename(tree, class_from=spec)
    assert again.moves == [] and not again.unresolved
    journals = len(list((tree / ".dis-audit").glob("*.jsonl")))
    assert apply_plan(again).journal is None  # nothing to do: no new journal
    assert len(list((tree / ".dis-audit").glob("*.jsonl"))) == journals and tree_hash(tree) == after


def test_round_trip_apply_undo_is_byte_identical(tree):
    scan(tree).write_manifest()
    before = tree_hash(tree)
    manifest_bytes = (tree / "manifest.parquet").read_bytes()
    result = apply_plan(plan_rename(tree, class_from=["fuzzy", f"map:{tree / 'classes.csv'}"]))
    assert result.moved == 6  # three samples, image and mask each
    assert tree_hash(tree) != before
    # same bytes under new names (the manifest aside, which apply rewrote)
    now = {k: v for k, v in tree_hash(tree).items() if k != "manifest.parquet"}
    assert sorted(now.values()) == sorted(v for k, v in before.items() if k != "manifest.parquet")
    undo(tree)
    assert tree_hash(tree) == before
    assert (tree / "manifest.parquet").read_bytes() == manifest_bytes
    assert read_journal(result.journal).status == "undone"


def test_manifest_rewritten_and_rescan_has_no_minus_one(tree):
    scan(tree).write_manifest()
    df, _ = read_manifest(tree / "manifest.parquet")
    assert (df["class_id"] == -1).sum() == 3
    apply_plan(plan_rename(tree, class_from=["fuzzy", f"map:{tree / 'classes.csv'}"]))
    df, vocab = read_manifest(tree / "manifest.parquet")
    assert (df["class_id"] == -1).sum() == 0
    assert all((tree / p).is_file() for p in df["image_path"]) and all((tree / p).is_file() for p in df["mask_path"])
    assert all(vocab[c] == n for c, n in zip(df["class_id"], df["class_name"]))
    rescan = scan(tree)
    fresh = rescan.rows.set_index("image_path")
    mine = df.set_index("image_path")
    assert (fresh["class_id"] == -1).sum() == 0
    assert fresh.loc[mine.index, "class_id"].tolist() == mine["class_id"].tolist()
    assert fresh.loc[mine.index, "label_status"].tolist() == mine["label_status"].tolist()


def test_collision_two_sources_one_target_refused_nothing_touched(tmp_path):
    root = tmp_path / "d"
    make_pair(root, "DS", "a#b")  # sanitizes to a_b
    make_pair(root, "DS", "a_b")
    (tmp_path / "m.csv").write_text("a#b,Bag\na_b,Bag\n")
    before = tree_hash(root)
    plan = plan_rename(root, class_from=[f"map:{tmp_path / 'm.csv'}"])
    assert any("collision" in p for p in plan.problems)
    with pytest.raises(PlanRefused):
        apply_plan(plan)
    assert tree_hash(root) == before and not (root / ".dis-audit").exists()
    res = runner.invoke(app, ["rename", str(root), "--class-from", f"map:{tmp_path / 'm.csv'}", "--apply"])
    assert res.exit_code == 1 and "refused" in res.stdout
    assert tree_hash(root) == before


def test_existing_target_and_case_only_clash_refused(tmp_path):
    root = tmp_path / "d"
    make_pair(root, "DS", "IMG_1")
    make_pair(root, "DS", "IMG_2")
    (tmp_path / "m.csv").write_text("IMG_1,Bag\nIMG_2,Bag\n")
    # a file already sits at IMG_1's target; one differing only in case at IMG_2's
    (root / "DS/im/1#Accessories#1#Bag#IMG_1.jpg").write_bytes(b"other")
    (root / "DS/gt/1#ACCESSORIES#1#Bag#IMG_2.png").write_bytes(b"other")
    before = tree_hash(root)
    plan = plan_rename(root, class_from=[f"map:{tmp_path / 'm.csv'}"])
    assert any("already exists" in p for p in plan.problems)
    assert any("case-insensitive" in p for p in plan.problems)
    with pytest.raises(PlanRefused):
        apply_plan(plan)
    assert tree_hash(root) == before


def write_plan(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["pair", "old", "new"])
        for i, (old, new) in enumerate(rows):
            w.writerow([i // 2, old, new])
    return path


@pytest.mark.parametrize("bad_new", [
    "../escape/1#Accessories#6#Bag#x.jpg",
    "/tmp/1#Accessories#6#Bag#x.jpg",
    "DS/im/../../1#Accessories#6#Bag#x.jpg",
    "DS/im/..\\..\\1#Accessories#6#Bag#x.jpg",
    "DS/im/1#Accessories#6#Bag#x\x00.jpg",
    "DS/gt/1#Accessories#6#Bag#IMG_0002.jpg",  # another folder
    "DS/im/1#Accessories#6#Bag#IMG_0002.png",  # another extension
    "DS/im/1#Accessories#6#Bagg#IMG_0002.jpg",  # class not in vocabulary
    "DS/im/IMG_renamed.jpg",  # not the convention
])
def test_hand_edited_plan_with_one_bad_row_refused_whole(tree, tmp_path, bad_new):
    before = tree_hash(tree)
    rows = [
        ("DS/im/IMG_0001.jpg", "DS/im/1#Accessories#6#Bag#IMG_0001.jpg"),
        ("DS/gt/IMG_0001.png", "DS/gt/1#Accessories#6#Bag#IMG_0001.png"),
        ("DS/im/IMG_0002.jpg", bad_new),
        ("DS/gt/IMG_0002.png", "DS/gt/1#Accessories#6#Bag#IMG_0002.png"),
    ]
    plan = load_plan(write_plan(tmp_path / "plan.csv", rows), tree)
    assert plan.problems
    with pytest.raises(PlanRefused):
        apply_plan(plan)
    res = runner.invoke(app, ["rename", str(tree), "--plan", str(tmp_path / "plan.csv"), "--apply"])
    assert res.exit_code == 1, res.output
    assert tree_hash(tree) == before and not (tree / ".dis-audit").exists()


def test_hand_edited_plan_moving_image_without_mask_refused(tree, tmp_path):
    rows = [("DS/im/IMG_0001.jpg", "DS/im/1#Accessories#6#Bag#IMG_0001.jpg")]
    plan = load_plan(write_plan(tmp_path / "plan.csv", rows), tree)
    assert any("of the same sample is not" in p for p in plan.problems)


def test_plan_out_then_apply_reviewed_plan(tree, tmp_path):
    out = tmp_path / "plan.csv"
    res = runner.invoke(app, ["rename", str(tree), "--class-from", "fuzzy", "--class-from",
                              f"map:{tree / 'classes.csv'}", "--plan-out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["status"] for r in rows} == {"rename"} and len(rows) == 6
    # review: change Kite to Bag for IMG_0002 (image and mask)
    for r in rows:
        r["new"] = r["new"].replace("#Kite#", "#Bag#")
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = runner.invoke(app, ["rename", str(tree), "--plan", str(out), "--apply", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["applied"]["moved"] == 6
    names = {p.name for p in (tree / "DS/im").iterdir()}
    assert not any(n.startswith("IMG_") for n in names)
    assert not any("#Kite#" in n for n in names) and any("#Bag#IMG_0002" in n for n in names)


def test_cli_undo_and_resume_errors_without_traceback(tree):
    # Nothing to undo is a usage problem (exit 2), and leaves no .dis-audit folder or lock behind.
    res = runner.invoke(app, ["rename", str(tree), "--undo"])
    assert res.exit_code == 2 and "Traceback" not in res.output and "no rename journal" in res.output
    assert not (tree / ".dis-audit").exists()
    res = runner.invoke(app, ["rename", str(tree), "--resume"])
    assert res.exit_code == 2 and not (tree / ".dis-audit").exists()
    res = runner.invoke(app, ["rename", str(tree / "nope")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    res = runner.invoke(app, ["rename", str(tree), "--apply", "--undo"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["rename", str(tree), "--class-from", "regex:(oops"])
    assert res.exit_code == 2 and "regular expression" in res.output
    res = runner.invoke(app, ["rename", str(tree), "--class-from", "map:/nonexistent.csv"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["rename", str(tree), "--plan", str(tree / "nope.csv")])
    assert res.exit_code == 2
    (tree / "evil.csv").write_text("../../etc/passwd,Bag\n")
    res = runner.invoke(app, ["rename", str(tree), "--class-from", f"map:{tree / 'evil.csv'}", "--apply"])
    assert res.exit_code == 1 and "Traceback" not in res.output


def test_cli_apply_then_undo_named_journal(tree):
    before = tree_hash(tree)
    res = runner.invoke(app, ["rename", str(tree), "--class-from", "fuzzy", "--class-from",
                              f"map:{tree / 'classes.csv'}", "--apply", "--json"])
    assert res.exit_code == 0, res.output
    journal = json.loads(res.stdout)["applied"]["journal"]
    res = runner.invoke(app, ["rename", str(tree), "--undo", Path(journal).name])
    assert res.exit_code == 0, res.output
    assert tree_hash(tree) == before


def test_cod10k_tree_converts_and_extends_vocab(tmp_path):
    if not (CORPORA / "cod10k_names.txt").is_file():
        pytest.skip("shared corpora not present")
    names = sorted({n.strip().rsplit(".", 1)[0] if n.strip().endswith((".jpg", ".png")) else n.strip()
                    for n in (CORPORA / "cod10k_names.txt").read_text().splitlines() if n.strip()})
    root = tmp_path / "cod"
    for stem in names:
        for sub, ext in (("Imgs", ".jpg"), ("GT", ".png")):
            p = root / "COD10K" / sub / f"{stem}{ext}"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(stem.encode())
    plan = plan_rename(root, class_from=["cod10k"])
    # classes DIS5K knows (Octopus, Butterfly, ...) resolve; the others are refused, never half-renamed
    refused = {e.old for e in plan.entries if e.status == "refused"}
    assert "COD10K/Imgs/COD10K-CAM-1-Aquatic-1-BatFish-2.jpg" in refused
    assert "COD10K/GT/COD10K-CAM-1-Aquatic-1-BatFish-2.png" in refused
    m = moves_of(plan)
    assert m["COD10K/Imgs/COD10K-CAM-1-Aquatic-11-Octopus-430.jpg"].startswith("COD10K/Imgs/3#Aquatic#7#Octopus#")
    # COD10K's 'SeaHorse' is DIS5K's 'Seahorse' (same name up to case), not a new class
    assert "#Seahorse#COD10K-CAM-1-Aquatic-15-SeaHorse-1003" in m["COD10K/Imgs/COD10K-CAM-1-Aquatic-15-SeaHorse-1003.jpg"]
    assert not refused & set(moves_of(plan))
    plan = plan_rename(root, class_from=["cod10k"], extend_vocab=True)
    m = moves_of(plan)
    # A new class in a DIS5K group: the group's DIS5K index, numbered after the group's DIS5K classes
    batfish = m["COD10K/Imgs/COD10K-CAM-1-Aquatic-1-BatFish-2.jpg"].split("/")[-1].split("#")
    assert batfish[:2] == ["3", "Aquatic"] and int(batfish[2]) > 7 and batfish[3] == "BatFish"
    assert "#BatFish#COD10K-CAM-1-Aquatic-1-BatFish-2.jpg" in m["COD10K/Imgs/COD10K-CAM-1-Aquatic-1-BatFish-2.jpg"]
    assert m["COD10K/GT/COD10K-NonCAM-3-Flying-1515.png"].endswith("#Flying#COD10K-NonCAM-3-Flying-1515.png")
    apply_plan(plan)
    again = plan_rename(root, class_from=["cod10k"], extend_vocab=True)
    assert again.moves == [] and not again.unresolved
    rows = scan(root, extend_vocab=True).rows
    # the pixels are fake (unreadable images stay -1 for that reason); every name now labels
    assert rows["class_name"].notna().all()
    assert not rows["label_status"].str.startswith("DA1").any()


def test_groups_file_and_new_group_numbering(tmp_path):
    root = tmp_path / "d"
    make_pair(root, "Pets", "p1")
    make_pair(root, "Bags", "b1")
    (tmp_path / "groups.csv").write_text("class,group,group_idx\nPets,Animals,30\n")
    plan = plan_rename(root, class_from=["dataset"], extend_vocab=True, groups=tmp_path / "groups.csv")
    m = moves_of(plan)
    assert m["Pets/im/p1.jpg"].startswith("Pets/im/30#Animals#")
    assert m["Bags/im/b1.jpg"].startswith("Bags/im/0#Other#")
    with pytest.raises(Exception, match="group index"):
        (tmp_path / "bad.csv").write_text("Pets,Animals,x\n")
        GroupTable.from_file(tmp_path / "bad.csv")


def test_all_masks_of_a_stem_move_together(tmp_path):
    root = tmp_path / "d"
    make_pair(root, "DS", "IMG_1")
    make_pair(root, "DS", "IMG_1", mask_ext=".jpg", image_ext=".jpg")  # a second mask: gt/IMG_1.jpg
    (tmp_path / "m.csv").write_text("IMG_1,Bag\n")
    plan = plan_rename(root, class_from=[f"map:{tmp_path / 'm.csv'}"])
    assert set(moves_of(plan)) == {"DS/im/IMG_1.jpg", "DS/gt/IMG_1.png", "DS/gt/IMG_1.jpg"}


def test_relabel_writes_manifest_only(tree):
    scan(tree).write_manifest()
    before = tree_hash(tree)
    del before["manifest.parquet"]
    res = runner.invoke(app, ["relabel", str(tree), "--class-from", "fuzzy", "--class-from",
                              f"map:{tree / 'classes.csv'}", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["relabelled"] == 3 and data["unresolved_rows"] == 0
    after = tree_hash(tree)
    del after["manifest.parquet"]
    assert after == before
    df, vocab = read_manifest(tree / "manifest.parquet")
    got = dict(zip(df["image_path"], df["class_name"]))
    assert got["DS/im/IMG_0001.jpg"] == "Chair" and got["DS/im/IMG_0002.jpg"] == "Kite"
    assert got["DS/im/2#Aircraft#5#airplane#81818181_x_o.jpg"] == "Airplane"
    assert (df["class_id"] == -1).sum() == 0
    assert all(vocab[c] == n for c, n in zip(df["class_id"], df["class_name"]))


def test_relabel_unresolved_and_missing_manifest(tree):
    res = runner.invoke(app, ["relabel", str(tree)])
    assert res.exit_code == 2 and "scan" in res.output
    scan(tree).write_manifest()
    res = runner.invoke(app, ["relabel", str(tree), "--json"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["unresolved_rows"] == 3
    result = relabel_manifest(tree / "manifest.parquet", class_from=["dataset"], extend_vocab=True, dry_run=True)
    # name is consulted first: the conforming Bag row keeps Bag; the other three get the dataset name
    assert result.extended == ["DS"] and result.relabelled == 3


def test_new_names_agree_with_the_real_dis5k_names(corpora, tmp_path):
    """Every DIS5K class renamed from a plain name gets the group and class fields the real DIS5K names carry."""
    real: dict[str, set[tuple[str, str, str]]] = {}
    for line in (corpora / "dis5k_names.tsv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")[-1].split("#")
        if len(fields) == 5:
            real.setdefault(fields[3], set()).add(tuple(fields[:3]))
    vocab = set(builtin_dis5k().names)
    classes = sorted(c for c in real if c in vocab)
    assert len(classes) >= 200
    root = tmp_path / "d"
    rows = []
    for i, cls in enumerate(classes):
        make_pair(root, "DS", f"IMG_{i}", size=(4, 4))
        rows.append(f"IMG_{i},{cls}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    m = moves_of(plan_rename(root, class_from=[f"map:{tmp_path / 'm.csv'}"]))
    for i, cls in enumerate(classes):
        fields = m[f"DS/im/IMG_{i}.jpg"].rsplit("/", 1)[-1].split("#")
        assert fields[3] == cls and {tuple(fields[:3])} == real[cls], (cls, fields, real[cls])
