"""Project configuration (``dis_audit.config``): discovery, checking, precedence, and what a scan records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dis_audit.cli import app
from dis_audit.config import ConfigError, find_config, load_config, resolve_settings
from dis_audit.manifest import read_manifest_meta
from dis_audit.testing import make_pair

runner = CliRunner()
GOOD = "1#Accessories#6#Bag#26345192014_f722d1ef0b_o"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """Two datasets with a `#` name each, plus one sample in a sub-folder (DA207)."""
    root = tmp_path / "data"
    make_pair(root, "DIS-TR", GOOD)
    make_pair(root, "DIS-TE1", "2#Aircraft#96#Kite#x1")
    make_pair(root, "DIS-TR", "sub/1#Accessories#6#Bag#nested")
    return root


def test_found_from_root_upward_nearest_first(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no table: not a configuration
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) is None
    (tmp_path / "pyproject.toml").write_text('[tool.dis-audit]\nextend-vocab = true\n')
    assert find_config(deep) == (tmp_path / "pyproject.toml").absolute()
    (tmp_path / "a" / "dis-audit.toml").write_text("deep = true\n")
    assert find_config(deep) == (tmp_path / "a" / "dis-audit.toml").absolute()
    assert load_config(find_config(deep)).values == {"deep": True}
    assert load_config(tmp_path / "pyproject.toml").values == {"extend-vocab": True}


def test_file_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "dis-audit.toml"
    bad.write_text("extend-vocb = true\n")
    with pytest.raises(ConfigError, match=r"unknown key 'extend-vocb' \(did you mean 'extend-vocab'\?\)"):
        load_config(bad)
    bad.write_text("extend-vocab = 'yes'\n")
    with pytest.raises(ConfigError, match="extend-vocab must be true or false"):
        load_config(bad)
    bad.write_text("select = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    bad.write_text("[thresholds]\nnear-duplicate = 'four'\n")
    with pytest.raises(ConfigError, match=r"thresholds\.near-duplicate must be a whole number"):
        load_config(bad)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    with pytest.raises(ConfigError, match=r"no \[tool.dis-audit\] table"):
        load_config(tmp_path / "pyproject.toml")


def test_paths_are_relative_to_the_file_and_flags_win(tmp_path):
    (tmp_path / "dis-audit.toml").write_text(
        'classes = "cls.txt"\nclass-from = ["map:m.csv", "fuzzy"]\nextend_vocab = true\n'
        'eval-datasets = "DIS-VD+DIS-TE1"\ndifficulty-map = { DIS-TE1 = "easy" }\n'
    )
    settings = resolve_settings(tmp_path, classes=None, extend_vocab=False, eval_datasets=None)
    assert settings["classes"] == str(tmp_path.absolute() / "cls.txt")
    assert settings["class-from"] == (f"map:{tmp_path.absolute() / 'm.csv'}", "fuzzy")
    assert settings["extend-vocab"] is False and settings.origins["extend-vocab"] == "command line"
    assert settings["eval-datasets"] == ("DIS-VD", "DIS-TE1") and settings.origins["eval-datasets"] == "file"
    assert settings["difficulty-map"] == {"DIS-TE1": "easy"}
    assert settings["deep"] is False and settings.origins["deep"] == "default"
    assert resolve_settings(tmp_path, isolated=True).file is None


def test_scan_reads_the_config_and_records_it(tree):
    (tree / "dis-audit.toml").write_text(
        'ignore = ["nested-sample"]\neval-datasets = ["DIS-TE1"]\n'
        'difficulty-map = { DIS-TE1 = "hard" }\nloader = "birefnet"\n[thresholds]\nnear-duplicate = 3\n'
    )
    res = runner.invoke(app, ["scan", str(tree), "--json"])
    assert res.exit_code == 0, res.output
    assert "DA207" not in {f["code"] for f in json.loads(res.stdout)["findings"]}
    options = read_manifest_meta(tree / "manifest.parquet").options
    assert options.ignore == ("DA207",) and options.eval_datasets == ("DIS-TE1",)
    assert options.difficulty_map["DIS-TE1"] == "hard" and options.near_dup_distance == 3
    assert options.config == {
        "file": str((tree / "dis-audit.toml").absolute()),
        "settings": {"ignore": ["nested-sample"], "eval-datasets": ["DIS-TE1"], "difficulty-map": {"DIS-TE1": "hard"},
                     "loader": "birefnet", "thresholds": {"near-duplicate": 3}},
    }
    # a flag overrides the file; --isolated ignores it; --config names another one
    res = runner.invoke(app, ["scan", str(tree), "--json", "--no-manifest", "--ignore", "DA1"])
    assert "DA207" in {f["code"] for f in json.loads(res.stdout)["findings"]}
    res = runner.invoke(app, ["scan", str(tree), "--json", "--no-manifest", "--isolated"])
    assert "DA207" in {f["code"] for f in json.loads(res.stdout)["findings"]}
    other = tree.parent / "other.toml"
    other.write_text('select = ["DA1"]\n')
    res = runner.invoke(app, ["scan", str(tree), "--json", "--no-manifest", "--config", str(other)])
    assert res.exit_code == 0 and not json.loads(res.stdout)["findings"]


def test_show_config_and_config_command(tree):
    (tree / "dis-audit.toml").write_text('extend-vocab = true\n[thresholds]\nDA502 = 2\n')
    res = runner.invoke(app, ["scan", str(tree), "--show-config", "--select", "DA1", "--no-extend-vocab"])
    assert res.exit_code == 0
    assert 'select = ["DA1"]  # command line' in res.output
    assert "extend-vocab = false  # command line" in res.output
    assert "thresholds = { DA502 = 2 }  # file" in res.output
    assert not (tree / "manifest.parquet").exists()  # nothing scanned
    res = runner.invoke(app, ["config", str(tree), "--json"])
    data = json.loads(res.stdout)
    assert data["file"] == str((tree / "dis-audit.toml").absolute())
    assert data["values"]["extend-vocab"] is True and data["origins"]["classes"] == "default"
    assert data["note"] == "vocabulary scan and rename use: dis5k, 219 classes"


def test_bad_config_and_thresholds_exit_2(tree):
    (tree / "dis-audit.toml").write_text("eval-datasets = 3\n")
    res = runner.invoke(app, ["scan", str(tree)])
    assert res.exit_code == 2 and "eval-datasets must be a string or a list of strings" in res.output
    (tree / "dis-audit.toml").write_text("[thresholds]\nsize-mismatch = 3\n")
    res = runner.invoke(app, ["scan", str(tree)])
    assert res.exit_code == 2 and "has no threshold" in res.output and "DA502 near-duplicate" in res.output
    (tree / "dis-audit.toml").write_text('ignore = ["nested-sampel"]\n')
    res = runner.invoke(app, ["scan", str(tree)])
    assert res.exit_code == 2 and "did you mean 'nested-sample'" in res.output
    assert not (tree / "manifest.parquet").exists()


def test_the_documented_example_is_a_valid_configuration(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "dis-audit.toml").write_text(example)
    values = load_config(tmp_path / "dis-audit.toml").values
    assert values["thresholds"] == {"near-duplicate": 4, "too-many-pixels": 150_000_000}
    from dis_audit.rules import threshold_options

    assert threshold_options(values["thresholds"]) == {"near_dup_distance": 4, "max_pixels": 150_000_000}
    from dis_audit.quality import QualityThresholds

    assert values["quality-thresholds"] == {"dark_high": 60.0, "swap_evidence": 1.5}
    assert QualityThresholds.parse(values["quality-thresholds"]).changed() == {"dark_high": 60.0, "swap_evidence": 1.5}
