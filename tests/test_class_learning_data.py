"""experiments/class_learning/data.py: the generated data is deterministic, long-tailed and scans clean."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dis_audit import scan
from dis_audit.naming import parse_name
from experiments.class_learning import data


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "data"
    return data.generate(out, seed=3, test_seed=4, test_per_class=2, size=48, scale=0.05)


def test_train_counts_are_long_tailed_like_dis_tr():
    counts = data.train_counts()
    assert len(counts) == len(data.CLASSES) == 20
    assert max(counts) == 150 and min(counts) == 3
    assert sorted(counts, reverse=True)[:3] == [150, 122, 99]
    # The shuffle is fixed: frequency does not follow class id.
    assert counts != sorted(counts, reverse=True) and counts == data.train_counts()
    assert all(c >= 1 for c in data.train_counts(scale=0.01))


def test_generation_is_deterministic_and_seed_dependent(small, tmp_path):
    again = data.generate(tmp_path / "again", seed=3, test_seed=4, test_per_class=2, size=48, scale=0.05)
    assert _digest(small.root) == _digest(again.root)
    other = data.generate(tmp_path / "other", seed=5, test_seed=4, test_per_class=2, size=48, scale=0.05)
    first, second = _digest(small.train_root), _digest(other.train_root)
    assert first.keys() != second.keys() or first != second
    assert _digest(small.test_root) == _digest(other.test_root)  # same test seed, same test split


def test_generated_names_scan_clean_with_the_right_columns(small):
    train = scan(small.train_root, classes=small.classes_file, workers=1)
    assert train.findings == []
    rows = train.rows
    assert len(rows) == sum(small.train_counts)
    assert set(rows["difficulty"]) <= {"easy", "medium", "hard"}
    assert np.bincount(rows["class_id"], minlength=20).tolist() == small.train_counts
    for name, class_id in zip(rows["image_path"], rows["class_id"]):
        assert data.CLASS_NAMES[class_id] == parse_name(Path(name).stem).class_field
    test = scan(small.test_root, classes=small.classes_file, workers=1)
    assert test.findings == []
    assert np.bincount(test.rows["class_id"], minlength=20).tolist() == [2] * 20


def test_masks_are_binary_and_images_match(small):
    from PIL import Image

    masks = sorted(small.train_root.rglob("gt/*.png"))
    assert masks
    for mask_path in masks[:10]:
        mask = np.asarray(Image.open(mask_path))
        assert mask.shape == (48, 48) and set(np.unique(mask)) <= {0, 255} and mask.max() == 255
        image = mask_path.parent.parent / "im" / (mask_path.stem + ".jpg")
        assert Image.open(image).size == (48, 48)


@pytest.mark.parametrize("class_id", range(20))
def test_every_class_draws_a_visible_object_at_every_difficulty(class_id):
    for difficulty in data.DIFFICULTIES:
        image, mask = data.render_sample(class_id, difficulty, np.random.default_rng([9, class_id]), 128)
        covered = (mask > 0).mean()
        assert image.shape == (128, 128, 3), (data.CLASS_NAMES[class_id], difficulty)
        assert 0.003 < covered < 0.7, (data.CLASS_NAMES[class_id], difficulty)


def test_refuses_to_overwrite_and_equal_seeds(small, tmp_path):
    with pytest.raises(FileExistsError):
        data.generate(small.root, seed=3, test_seed=4, size=48, scale=0.05)
    with pytest.raises(ValueError):
        data.generate(tmp_path / "x", seed=1, test_seed=1)
