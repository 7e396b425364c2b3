"""The vocabulary sticks (``vocab_choice``), plan files say when they extend it, and dataset names are checked."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dis_audit.classes_from import MapSource, SampleRef
from dis_audit.cli import app
from dis_audit.manifest import read_manifest_meta
from dis_audit.testing import make_pair
from dis_audit.vocab import Vocabulary, builtin_dis5k
from dis_audit.vocab_choice import choose_vocabulary

runner = CliRunner()


@pytest.fixture()
def plain(tmp_path: Path) -> Path:
    """One dataset of plain names and a CSV keyed by file name with extension, one class new to DIS5K."""
    root = tmp_path / "data"
    for stem in ("IMG_1", "IMG_2", "IMG_3"):
        make_pair(root, "DIS-TR", stem)
    make_pair(root, "DIS-TE1", "1#Accessories#6#Bag#t1")
    with open(tmp_path / "map.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("IMG_1.jpg", "Kite"), ("IMG_2.jpg", "Quadcopter"), ("IMG_3.jpg", "Bag"),
                                  ("IMG_404.jpg", "Bag"), ("DIS-TR/im/nope", "Bag")])
    return root


def _scan(root: Path, *args: str):
    res = runner.invoke(app, ["scan", str(root), "--json", *args])
    return res, (json.loads(res.stdout) if res.stdout.startswith("{") else None)


def test_extended_vocabulary_sticks_after_rename(plain, tmp_path):
    res, _ = _scan(plain)
    assert res.exit_code == 1  # plain names: DA101
    mapping = f"map:{tmp_path / 'map.csv'}"
    res = runner.invoke(app, ["rename", str(plain), "--class-from", mapping, "--extend-vocab", "--plan-out",
                              str(tmp_path / "plan.csv"), "--json"])
    summary = json.loads(res.stdout)["summary"]
    assert summary["extended_classes"] == ["Quadcopter"]
    # keys that match no file are counted and listed
    assert summary["unmatched_map_keys"][mapping] == {"count": 2, "keys": ["IMG_404.jpg", "DIS-TR/im/nope"]}
    with open(tmp_path / "plan.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["class"] for r in rows if r["extends_vocab"] == "yes"} == {"Quadcopter"}

    # the saved plan applies without --extend-vocab: it records which classes it appends
    res = runner.invoke(app, ["rename", str(plain), "--plan", str(tmp_path / "plan.csv"), "--apply"])
    assert res.exit_code == 0, res.output
    vocab = read_manifest_meta(plain / "manifest.parquet").vocabulary
    assert vocab[-1] == "Quadcopter" and len(vocab) == 220

    # a plain scan keeps the manifest's vocabulary: no DA103, same ids
    res, data = _scan(plain)
    assert res.exit_code == 0, res.output
    assert data["vocabulary"] == vocab and data["summary"]["extended_classes"] == ["Quadcopter"]
    # ... unless told otherwise on the command line
    res, data = _scan(plain, "--classes", "dis5k", "--no-manifest")
    assert res.exit_code == 1 and {f["code"] for f in data["findings"]} == {"DA103"}


def test_plan_row_with_an_unmarked_new_class_is_refused_with_a_hint(plain, tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("old,new\nDIS-TR/im/IMG_1.jpg,DIS-TR/im/0#Other#219#Drone#IMG_1.jpg\n"
                    "DIS-TR/gt/IMG_1.png,DIS-TR/gt/0#Other#219#Drone#IMG_1.png\n")
    res = runner.invoke(app, ["rename", str(plain), "--plan", str(plan), "--apply"])
    assert res.exit_code == 1 and "mark the row extends_vocab=yes or pass --extend-vocab" in res.output
    plan.write_text("old,new\nDIS-TR/im/IMG_1.jpg,DIS-TR/im/0#Other#96#seahorse#IMG_1.jpg\n")
    res = runner.invoke(app, ["rename", str(plain), "--plan", str(plan)])
    assert "did you mean 'Seahorse'?" in res.output


def test_choose_vocabulary_rules(tmp_path, plain):
    dis5k = builtin_dis5k()
    assert choose_vocabulary("dis5k", None, explicit=False).vocabulary == dis5k
    runner.invoke(app, ["scan", str(plain), "--extend-vocab", "--classes", "infer"])
    manifest = plain / "manifest.parquet"
    stored = read_manifest_meta(manifest).vocabulary
    # nothing configured: the manifest's vocabulary, whatever it was made from
    choice = choose_vocabulary(None, manifest)
    assert choice.vocabulary.names == tuple(stored) and choice.extend  # inferred: keeps appending
    # a configured vocabulary the manifest's does not extend wins, with a note
    choice = choose_vocabulary("dis5k", manifest)
    assert choice.vocabulary == dis5k and not choice.from_manifest and "differs" in choice.note
    # configured infer reuses an inferred manifest vocabulary and keeps extending it
    choice = choose_vocabulary("infer", manifest)
    assert choice.from_manifest and choice.extend and choice.vocabulary.names == tuple(stored)
    # explicit always wins
    assert choose_vocabulary("infer", manifest, explicit=True).vocabulary is None
    extended = dis5k.extended(["Zz"])
    assert extended.appended_names == ("Zz",) and extended.extended(["Zy"]).source == "dis5k+extended"
    assert Vocabulary(("a",)).appended_names == ()


@pytest.mark.parametrize(("args", "message"), [
    (["--eval-datasets", "DIS-TEl"], "--eval-datasets: no dataset named 'DIS-TEl' (did you mean 'DIS-TE1'?)"),
    (["--difficulty-map", "DIS-TR=easy,DIS-TR2=hard"], "--difficulty-map: no dataset named 'DIS-TR2'"),
    (["--datasets", "DIS-Tr"], "--datasets: no dataset named 'DIS-Tr' (did you mean 'DIS-TR'?)"),
])
def test_dataset_names_are_checked(plain, args, message):
    res = runner.invoke(app, ["scan", str(plain), "--no-manifest", *args])
    assert res.exit_code == 2 and message in res.output and "found: DIS-TE1, DIS-TR" in res.output


def test_dataset_names_from_the_config_are_checked(plain):
    (plain / "dis-audit.toml").write_text('difficulty-map = { eazy = "1" }\n')
    make_pair(plain, "easy", "1#Accessories#6#Bag#e1")
    res = runner.invoke(app, ["scan", str(plain), "--no-manifest"])
    assert res.exit_code == 2 and "no dataset named 'eazy' (did you mean 'easy'?)" in res.output
    assert f"(configuration: {(plain / 'dis-audit.toml').absolute()})" in res.output


def test_map_keys_match_stem_file_name_and_relative_path(tmp_path):
    table = tmp_path / "m.csv"
    table.write_text("file,class\nIMG_1.jpg,Kite\nIMG_2,Bag\nDIS-TR/im/IMG_3.jpg,Kite\nIMG_4.png,Bag\nx.jpg,Bag\n")
    source = MapSource(table)
    vocab = builtin_dis5k()

    def ref(stem: str) -> SampleRef:
        return SampleRef(stem, f"DIS-TR/im/{stem}.jpg", f"DIS-TR/gt/{stem}.png", "DIS-TR")

    found = {stem: source.propose(ref(stem), vocab) for stem in ("IMG_1", "IMG_2", "IMG_3", "IMG_4", "IMG_5")}
    assert {k: v.class_name if v else None for k, v in found.items()} == {
        "IMG_1": "Kite", "IMG_2": "Bag", "IMG_3": "Kite", "IMG_4": "Bag", "IMG_5": None,  # IMG_4: the mask's file name
    }
    assert source.unmatched_keys() == ["x.jpg"]


def test_relabel_lists_unmatched_map_keys(plain, tmp_path):
    runner.invoke(app, ["scan", str(plain)])
    res = runner.invoke(app, ["relabel", str(plain), "--class-from", f"map:{tmp_path / 'map.csv'}", "--extend-vocab",
                              "--json"])
    data = json.loads(res.stdout)
    assert data["relabelled"] == 3 and data["extended_classes"] == ["Quadcopter"]
    assert data["unmatched_map_keys"][f"map:{tmp_path / 'map.csv'}"]["keys"] == ["IMG_404.jpg", "DIS-TR/im/nope"]


def test_dataset_named_by_its_path_is_recorded_by_name(tmp_path):
    from dis_audit.scan import scan

    for name in ("easy", "hard"):
        make_pair(tmp_path / "1024px", name, f"1#Accessories#6#Bag#{name}", image_dir="jpgs", mask_dir="masks")
    result = scan(tmp_path, workers=1, eval_datasets="1024px/hard", difficulty_map={"1024px/easy": "1"})
    assert result.options.eval_datasets == ("hard",)
    assert result.options.difficulty_map == {"easy": "1", "hard": "hard"}
