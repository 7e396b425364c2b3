"""Where the tests find the shared name corpora, and what they use on a plain clone without them.

The corpora (real DIS5K / COD10K file names) live in ``../shared/corpora`` beside the checkout.
``DIS_AUDIT_CORPORA`` points elsewhere; set it to a missing folder to see what a plain clone runs.
Tests that only need the 219 class names read the list the package ships; tests that need a few
DIS5K-style names get real ones when the corpora are there, and names built from the shipped class
and group tables otherwise. Only the tests that need all 5,470 real names skip.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("DIS_AUDIT_CORPORA") or REPO.parent / "shared" / "corpora")
SPLITS = ("DIS-TR", "DIS-VD", "DIS-TE1", "DIS-TE2", "DIS-TE3", "DIS-TE4")


def corpus(name: str) -> Path:
    """A file of the shared corpora, or skip the calling test with the reason."""
    path = CORPORA / name
    if not path.is_file():
        pytest.skip(f"shared corpus {path} is absent (the repo's sibling shared/ folder is not checked out)")
    return path


def shipped_dis5k_classes() -> list[str]:
    """BiRefNet's 219 DIS5K class names in id order, as the package ships them."""
    text = resources.files("dis_audit").joinpath("data/dis5k_classes.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _names_from_shipped_tables() -> list[tuple[str, str]]:
    """DIS5K-style (split, file name) pairs built from the shipped class and group tables.

    Every training class gets two names in DIS-TR and one in each other split; the original ids
    follow the Flickr pattern of the real names.
    """
    groups: dict[str, tuple[str, str, str]] = {}
    text = resources.files("dis_audit").joinpath("data/dis5k_groups.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            cls, group_idx, group, class_idx = line.split("\t")
            groups[cls] = (group_idx, group, class_idx)
    out: list[tuple[str, str]] = []
    serial = 0
    for split in SPLITS:
        for cls in shipped_dis5k_classes():
            group_idx, group, class_idx = groups[cls]
            for _ in range(2 if split == "DIS-TR" else 1):
                serial += 1
                out.append((split, f"{group_idx}#{group}#{class_idx}#{cls}#{serial:08d}_{serial:010x}_o.jpg"))
    return out


def dis5k_names() -> list[tuple[str, str]]:
    """(split, file name): all 5,470 real names when the corpora are present, else names from the shipped tables."""
    path = CORPORA / "dis5k_names.tsv"
    if path.is_file():
        return [tuple(line.split("\t", 1)) for line in path.read_text(encoding="utf-8").splitlines() if line]  # type: ignore[misc]
    return _names_from_shipped_tables()
