"""Helpers for the dis_audit.torch tests: tiny DIS-style trees with a hand-built manifest.

(Not named conftest so test modules can import it; not a package, so nothing here can shadow
the real ``torch``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dis_audit.manifest import ManifestMeta, build_table, empty_columns, write_manifest


def photo(width: int, height: int, seed: int) -> np.ndarray:
    """A photo-like RGB array: smooth gradients plus mild noise (JPEG-friendly, not flat)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            127 + 100 * np.sin(x / (width / 3.0) + seed),
            127 + 100 * np.cos(y / (height / 2.5) + seed),
            127 + 80 * np.sin((x + y) / (width / 2.0)),
        ],
        axis=-1,
    )
    base += rng.normal(0, 6, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def blob_mask(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    y, x = np.mgrid[0:height, 0:width]
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    r = rng.uniform(0.2, 0.35) * min(width, height)
    return (((x - cx) ** 2 + (y - cy) ** 2) < r * r).astype(np.uint8) * 255


@dataclass
class Sample:
    dataset: str
    difficulty: str
    name: str  # file name; the stem is used for the mask
    class_name: str | None
    class_id: int
    width: int = 96
    height: int = 72
    image_ext: str | None = None  # overrides the name's extension
    mask: bool = True


def write_tree(root: Path, samples: list[Sample], vocabulary: list[str], manifest: Path | None = None) -> Path:
    """Write images/masks in ``<dataset>/im|gt`` and a manifest; returns the manifest path."""
    cols = empty_columns()
    for k, s in enumerate(samples):
        stem = s.name.rsplit(".", 1)[0]
        ext = s.image_ext or ("." + s.name.rsplit(".", 1)[1])
        image_rel = f"{s.dataset}/im/{stem}{ext}"
        mask_rel = f"{s.dataset}/gt/{stem}.png"
        (root / s.dataset / "im").mkdir(parents=True, exist_ok=True)
        (root / s.dataset / "gt").mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(photo(s.width, s.height, k))
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".JPG": "JPEG", ".png": "PNG", ".webp": "WEBP"}[ext]
        img.save(root / image_rel, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        if s.mask:
            Image.fromarray(blob_mask(s.width, s.height, k), "L").save(root / mask_rel)
        stat = (root / image_rel).stat()
        row = {
            "image_path": image_rel,
            "mask_path": mask_rel if s.mask else None,
            "dataset": s.dataset,
            "difficulty": s.difficulty,
            "class_name": s.class_name,
            "class_id": s.class_id,
            "label_status": "ok" if s.class_id >= 0 else "DA201",
            "width": s.width,
            "height": s.height,
            "mask_width": s.width if s.mask else None,
            "mask_height": s.height if s.mask else None,
            "file_size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "issues": [] if s.class_id >= 0 else ["DA201"],
            "class_field": s.name.split("#")[3] if s.name.count("#") >= 4 else None,
            "image_format": fmt,
            "image_mode": "RGB",
            "mask_format": "PNG" if s.mask else None,
            "mask_mode": "L" if s.mask else None,
            "mask_file_size": None,
            "mask_mtime_ns": None,
        }
        for key, value in row.items():
            cols[key].append(value)
    table = build_table(cols, ManifestMeta(vocabulary=vocabulary, root=str(root), tool_version="test"))
    return write_manifest(table, manifest or root / "manifest.parquet")


def samples_from_names(
    names: list[tuple[str, str]], vocabulary: list[str], difficulty_of=None, **kwargs
) -> list[Sample]:
    """Samples whose class follows BiRefNet's rule (class field in the vocabulary, else -1)."""
    index = {c: i for i, c in enumerate(vocabulary)}
    out = []
    for split, name in names:
        cls = name.split("#")[3]
        cid = index.get(cls, -1)
        out.append(
            Sample(
                dataset=split,
                difficulty=difficulty_of(split) if difficulty_of else split,
                name=name,
                class_name=cls if cid >= 0 else None,
                class_id=cid,
                **kwargs,
            )
        )
    return out
