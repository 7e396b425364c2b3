"""`dis-audit classes`: distribution per class and difficulty, long-tail statistics, export, plot."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from PIL import Image
from typer.testing import CliRunner

from dis_audit.classdist import class_distribution, long_tail
from dis_audit.cli import app
from dis_audit.ordering import sort_difficulties
from dis_audit.testing import make_pair
from dis_audit.vocab import load_vocabulary_file

runner = CliRunner()


def test_long_tail_statistics_of_known_counts():
    st = long_tail([8, 2, 1, 1, 0])          # the zero (an absent class) is not part of the tail
    assert st.classes == 4 and st.imbalance_ratio == 8.0 and st.singletons == 2
    # Gini of (1, 1, 2, 8): sum (2i-n-1) x_i / (n sum x) = (-3 - 1 + 2 + 24) / (4 * 12)
    assert st.gini == pytest.approx(22 / 48, abs=1e-6)
    assert st.head_share == pytest.approx(8 / 12)          # ceil(0.2 * 4) = 1 class
    assert st.tail_share == pytest.approx(2 / 12)          # the smallest 2 classes
    assert st.classes_for_half == 1 and st.median == 1.5
    equal = long_tail([5, 5, 5])
    assert equal.gini == 0 and equal.imbalance_ratio == 1.0
    assert long_tail([]).classes == 0


def test_difficulty_words_sort_from_easy_to_hard():
    assert sort_difficulties(["hard", "medium", "easy", None]) == ["easy", "medium", "hard"]
    assert sort_difficulties(["DIS-TE10", "DIS-TE2", "Hard", "Easy"]) == ["Easy", "Hard", "DIS-TE2", "DIS-TE10"]


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    root = tmp_path / "mydata"
    for i in range(4):
        make_pair(root, "easy", f"1#Accessories#1#Bag#{i}_o")
    make_pair(root, "hard", "1#Accessories#1#Bag#9_o")
    make_pair(root, "medium", "2#Aircraft#1#Airplane#1_o")
    make_pair(root, "medium", "IMG_0001")                   # class -1: no class in the name
    make_pair(root, "hard", "1#Accessories#1#Bag#10_o", mask_ext=None)  # class -1: no mask (DA201)
    result = runner.invoke(app, ["scan", str(root)])
    assert result.exit_code == 1, result.output              # DA101 is an error
    return root / "manifest.parquet"


def test_distribution_per_class_and_difficulty(manifest):
    dist = class_distribution(manifest)
    assert dist.difficulties == ["easy", "medium", "hard"]
    names = [(dist.name(cid), n) for cid, n in dist.counts]
    assert names == [("Bag", 5), ("Airplane", 1)]
    bag = dist.vocabulary.index("Bag")
    assert dist.by_difficulty[bag] == {"easy": 4, "hard": 1}
    assert dist.unlabelled == 2 and dist.by_difficulty[-1] == {"medium": 1, "hard": 1}
    assert len(dist.absent) == 219 - 2
    as_dict = dist.to_dict()
    assert as_dict["classes"][0] == {"class_id": bag, "name": "Bag", "count": 5,
                                     "by_difficulty": {"easy": 4, "medium": 0, "hard": 1}}
    assert as_dict["long_tail"]["imbalance_ratio"] == 5.0


def test_cli_prints_exports_and_plots(manifest, tmp_path):
    svg, png, vocab = tmp_path / "c.svg", tmp_path / "c.png", tmp_path / "out" / "classes.txt"
    result = runner.invoke(app, ["classes", str(manifest), "--plot", str(svg), "--export", str(vocab)])
    assert result.exit_code == 0, result.output
    assert "Bag" in result.output and "imbalance ratio 5.0" in result.output
    header = next(line for line in result.output.splitlines() if "samples" in line and "easy" in line)
    assert header.index("easy") < header.index("medium") < header.index("hard")
    exported = load_vocabulary_file(vocab)
    assert len(exported) == 219 and exported.names[6] == "Bag"   # ids kept: the same line order
    svg_root = ET.parse(svg).getroot()
    assert svg_root.tag.endswith("svg")
    assert len([e for e in svg_root.iter() if e.tag.endswith("rect")]) == 1 + 2   # background + one bar a class
    assert runner.invoke(app, ["classes", str(manifest), "--plot", str(png), "--export", str(vocab),
                               "--present-only"]).exit_code == 0
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 300
    assert load_vocabulary_file(vocab).names == ("Airplane", "Bag")


def test_cli_json_and_bad_input(manifest, tmp_path):
    result = runner.invoke(app, ["classes", str(manifest), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["labelled"] == 6
    assert runner.invoke(app, ["classes", str(tmp_path / "nope.parquet")]).exit_code == 2
    bad = runner.invoke(app, ["classes", str(manifest), "--plot", str(tmp_path / "c.gif")])
    assert bad.exit_code == 2 and ".svg or .png" in bad.output and not (tmp_path / "c.gif").exists()
    folder = runner.invoke(app, ["classes", str(manifest), "--export", str(tmp_path)])
    assert folder.exit_code == 2 and "Traceback" not in folder.output


def test_class_name_names_the_file_class_id_the_training_label(manifest):
    """docs/manifest.md: class_name is the name's class; only class_id >= 0 rows are trained (and counted)."""
    import pyarrow.parquet as pq

    rows = {r["image_path"]: r for r in pq.read_table(manifest).to_pylist()}
    blocked = rows["hard/im/1#Accessories#1#Bag#10_o.jpg"]
    assert (blocked["class_name"], blocked["class_id"], blocked["label_status"]) == ("Bag", -1, "DA201")
    dist = class_distribution(manifest)
    assert {dist.name(c): n for c, n in dist.counts}["Bag"] == 5   # the blocked row is not counted
