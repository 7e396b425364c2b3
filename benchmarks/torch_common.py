"""Shared pieces of the dis_audit.torch benchmarks: a generated DIS-style tree with a
manifest, and a BiRefNet-equivalent OpenCV loader to compare against.

Not a test helper: opencv (``pip install 'dis-audit[bench]'``) is imported lazily, only by
the baseline loader.
"""

from __future__ import annotations

import io
import os
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from dis_audit.manifest import ManifestMeta, build_table, empty_columns, write_manifest  # noqa: E402

# Real DIS5K-style names (group#Group#idx#Class#id); the classes cycle over a few entries of
# BiRefNet's list so that the class column is realistic.
CLASSES = [("1", "Accessories", "1", "Bag"), ("5", "Electrical", "4", "Lamp"), ("13", "Non-motor Vehicle", "2", "Bicycle")]


def photo_jpeg(width: int, height: int, seed: int, quality: int = 90, noise: int = 8) -> bytes:
    """A photo-like JPEG: smooth colour field (bicubic-upsampled random grid) plus pixel noise.

    At 4000×3000, quality 90 and noise ±8 this is about 2 MB, like a DSLR photo in DIS5K.
    """
    rng = np.random.default_rng(seed)
    grid = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
    base = np.asarray(Image.fromarray(grid).resize((width, height), Image.BICUBIC), dtype=np.int16)
    base = base + rng.integers(-noise, noise + 1, base.shape, dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def blob_png(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed + 7)
    y, x = np.ogrid[0:height, 0:width]
    mask = np.zeros((height, width), dtype=bool)
    for _ in range(4):
        cx, cy, r = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height, rng.uniform(0.05, 0.2) * width
        mask |= (x - cx) ** 2 + (y - cy) ** 2 < r * r
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, "L").save(buf, "PNG")
    return buf.getvalue()


def make_tree(root: Path, count: int, width: int, height: int, unique: int = 8, dataset: str = "DIS-TR") -> Path:
    """Write ``count`` image/mask pairs under ``root/<dataset>/im|gt`` and a manifest; return its path.

    Only ``unique`` distinct pictures are encoded (generation is slow on a small machine);
    the rest are byte copies under other names, which costs the loaders exactly the same.
    """
    im_dir, gt_dir = root / dataset / "im", root / dataset / "gt"
    im_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    vocab = [c[3] for c in CLASSES]
    cols = empty_columns()
    sources: list[tuple[Path, Path]] = []
    for k in range(count):
        g, group, ci, cls = CLASSES[k % len(CLASSES)]
        stem = f"{g}#{group}#{ci}#{cls}#{1000000 + k}_{k:010x}_o"
        im, gt = im_dir / f"{stem}.jpg", gt_dir / f"{stem}.png"
        if k < unique:
            im.write_bytes(photo_jpeg(width, height, k))
            gt.write_bytes(blob_png(width, height, k))
            sources.append((im, gt))
        else:
            src_im, src_gt = sources[k % unique]
            shutil.copyfile(src_im, im)
            shutil.copyfile(src_gt, gt)
        st = im.stat()
        row = {
            "image_path": f"{dataset}/im/{stem}.jpg", "mask_path": f"{dataset}/gt/{stem}.png", "dataset": dataset,
            "difficulty": dataset, "class_name": cls, "class_id": vocab.index(cls), "label_status": "ok",
            "width": width, "height": height, "mask_width": width, "mask_height": height, "file_size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "issues": [], "class_field": cls, "image_format": "JPEG", "image_mode": "RGB",
            "mask_format": "PNG", "mask_mode": "L", "mask_file_size": gt.stat().st_size, "mask_mtime_ns": gt.stat().st_mtime_ns,
        }
        for key, value in row.items():
            cols[key].append(value)
    table = build_table(cols, ManifestMeta(vocabulary=vocab, root=str(root), tool_version="bench"))
    return write_manifest(table, root / "manifest.parquet")


class BiRefNetCv2Dataset:
    """What BiRefNet's training loader does per item, with OpenCV as the decoder.

    cv2.imread (full decode) → cv2.resize (INTER_LINEAR) → BGR→RGB → ToTensor (÷255) →
    Normalize(ImageNet); the mask: grayscale imread → resize → ÷255. Paths are plain Python
    lists, as in BiRefNet.
    """

    def __init__(self, root: Path, image_paths: list[str], mask_paths: list[str], labels: list[int], size=(1024, 1024)):
        self.images = [str(root / p) for p in image_paths]
        self.masks = [str(root / p) for p in mask_paths]
        self.labels = labels
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        import cv2
        import torch

        im = cv2.imread(self.images[i], cv2.IMREAD_COLOR)
        im = cv2.cvtColor(cv2.resize(im, self.size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        x = torch.from_numpy(im).permute(2, 0, 1).float().div_(255.0)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
        x = (x - mean) / std
        gt = cv2.resize(cv2.imread(self.masks[i], cv2.IMREAD_GRAYSCALE), self.size, interpolation=cv2.INTER_LINEAR)
        return x, torch.from_numpy(gt)[None].float().div_(255.0), self.labels[i]


def baseline_from_manifest(manifest: Path, size=(1024, 1024)) -> BiRefNetCv2Dataset:
    import pyarrow.parquet as pq

    t = pq.read_table(manifest).to_pydict()
    return BiRefNetCv2Dataset(manifest.parent, t["image_path"], t["mask_path"], t["class_id"], size)


def machine() -> str:
    """One line describing the host, for the record."""
    import torch

    try:
        import cv2

        cv = cv2.__version__
    except ImportError:
        cv = "absent"
    import PIL

    return (
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
        f"Pillow {PIL.__version__}, opencv {cv}"
    )


def command() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
