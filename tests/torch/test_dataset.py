"""ManifestDataset: decoding against a reference, labels, filters, errors, workers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from da_torch_helpers import Sample, samples_from_names, write_tree
from PIL import Image
from torch.utils.data import DataLoader

from dis_audit.manifest import ManifestError
from dis_audit.torch import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    GpuDecode,
    GpuNormalize,
    ManifestDataset,
    SampleReadError,
)
from dis_audit.torch._packed import PackedStrings

SIZE = (64, 48)  # (width, height); sources are 200x150, so JPEG draft decode engages (>= 2x)

# Tolerances against a plain full decode + Pillow bilinear resize, in uint8 levels.
# JPEG: libjpeg's reduced-scale DCT is itself a (box-like) filter, so on photo-like content it
# differs from full decode + bilinear by rounding-level amounts. PNG/WebP: torch's antialiased
# bilinear kernel matches Pillow's within 1 level (rounding). Masks go through Pillow: exact.
JPEG_MEAN_TOL = 1.5
JPEG_MAX_TOL = 16


def reference_uint8(path: Path, size, mode: str) -> np.ndarray:
    """Plain full-resolution decode + bilinear resize, the semantics the Dataset promises."""
    with Image.open(path) as img:
        out = img.convert(mode).resize(size, Image.BILINEAR)
    arr = np.asarray(out)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


@pytest.fixture()
def mixed_tree(tmp_path, vocabulary, dis5k_names):
    """Eight real DIS-TR/DIS-TE1 names, one per extension kind, plus an unlabeled one."""
    tr = [n for n in dis5k_names if n[0] == "DIS-TR"][:3]
    te = [n for n in dis5k_names if n[0] == "DIS-TE1"][:2]
    samples = samples_from_names(tr + te, vocabulary, width=200, height=150)
    for s, ext in zip(samples, [".jpg", ".png", ".jpeg", ".webp", ".jpg"]):
        s.image_ext = ext
    # A name BiRefNet cannot label: three '#' fields only.
    samples.append(Sample("DIS-TR", "DIS-TR", "1#Accessories#Bag.jpg", None, -1, width=200, height=150))
    manifest = write_tree(tmp_path, samples, vocabulary)
    return tmp_path, manifest, samples


@pytest.mark.parametrize("ext_index", [0, 1, 2, 3], ids=["jpg", "png", "jpeg", "webp"])
def test_items_match_reference_decode(mixed_tree, ext_index):
    _root, manifest, _samples = mixed_tree
    ds_u8 = ManifestDataset(manifest, size=SIZE, output="uint8")
    ds_f = ManifestDataset(manifest, size=SIZE)
    image, mask, _ = ds_u8[ext_index]
    ref = reference_uint8(ds_u8.image_path(ext_index), SIZE, "RGB")
    ref_mask = reference_uint8(ds_u8.mask_path(ext_index), SIZE, "L")
    assert image.dtype == torch.uint8 and tuple(image.shape) == (3, SIZE[1], SIZE[0])
    assert mask.dtype == torch.uint8 and tuple(mask.shape) == (1, SIZE[1], SIZE[0])
    diff = np.abs(image.numpy().astype(int) - ref.astype(int))
    if ds_u8.image_path(ext_index).suffix in (".jpg", ".jpeg"):
        assert diff.mean() <= JPEG_MEAN_TOL and diff.max() <= JPEG_MAX_TOL, (diff.mean(), diff.max())
    else:
        assert diff.max() <= 1 and diff.mean() < 0.5, (diff.mean(), diff.max())
    np.testing.assert_array_equal(mask.numpy(), ref_mask)

    # float output = the uint8 output normalized with ImageNet statistics, mask in [0, 1]
    fimage, fmask, _ = ds_f[ext_index]
    assert fimage.dtype == torch.float32 and fmask.dtype == torch.float32
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    torch.testing.assert_close(fimage, (image.float() / 255 - mean) / std, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fmask, mask.float() / 255)
    assert 0.0 <= float(fmask.min()) and float(fmask.max()) <= 1.0


def test_draft_decode_really_engages(mixed_tree, monkeypatch):
    """The JPEG path must ask libjpeg for a reduced scale (otherwise it is no faster)."""
    _, manifest, _ = mixed_tree
    calls = []
    from PIL import JpegImagePlugin

    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        calls.append(result)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    ManifestDataset(manifest, size=SIZE, output="uint8")[0]
    assert calls and calls[0] is not None and calls[0][1][2] == 100  # decoded 100 px wide (1/2)


def test_labels_ignore_index_and_info(mixed_tree, vocabulary):
    _, manifest, samples = mixed_tree
    ds = ManifestDataset(manifest, size=SIZE, ignore_index=-7, return_info=True)
    assert len(ds) == len(samples)
    *_, cid, info = ds[5]
    assert cid == -7 and info["class_name"] == "" and info["index"] == 5
    *_, cid, info = ds[0]
    assert cid == vocabulary.index(samples[0].class_name) and info["class_name"] == samples[0].class_name
    assert info["dataset"] == "DIS-TR" and info["image_path"].startswith("DIS-TR/im/")
    np.testing.assert_array_equal(ds.labels, [s.class_id for s in samples])
    assert list(ds.difficulties) == [s.difficulty for s in samples]
    counts = ds.class_counts()
    assert len(counts) == len(vocabulary) and counts.sum() == 5
    assert counts[vocabulary.index("Bag")] == sum(s.class_name == "Bag" for s in samples)


def test_filters(mixed_tree):
    _, manifest, _ = mixed_tree
    assert len(ManifestDataset(manifest, size=SIZE, datasets="DIS-TE1")) == 2
    assert len(ManifestDataset(manifest, size=SIZE, datasets="DIS-TR+DIS-TE1")) == 6
    assert len(ManifestDataset(manifest, size=SIZE, difficulties=["DIS-TR"], drop_unlabeled=True)) == 3
    with pytest.raises(ValueError, match=r"DIS-XX.*it has: DIS-TE1, DIS-TR"):
        ManifestDataset(manifest, size=SIZE, datasets="DIS-XX")


def test_paths_are_packed_buffers_not_python_lists(mixed_tree):
    _, manifest, _ = mixed_tree
    ds = ManifestDataset(manifest, size=SIZE)
    for value in vars(ds).values():
        # small vocabularies are fine; nothing may hold one Python object per sample
        if isinstance(value, (list, tuple, dict)):
            assert len(value) < len(ds) or len(value) in (0, 3, 219), value
    assert isinstance(ds._image_paths, PackedStrings) and ds._image_paths._data.dtype == np.uint8
    assert ds.labels.dtype == np.int64


def test_dataloader_with_workers(mixed_tree):
    _, manifest, samples = mixed_tree
    ds = ManifestDataset(manifest, size=SIZE, return_info=True)
    batches = list(DataLoader(ds, batch_size=3, num_workers=2))
    images = torch.cat([b[0] for b in batches])
    assert images.shape == (len(samples), 3, SIZE[1], SIZE[0])
    assert sorted(int(i) for b in batches for i in b[3]["index"]) == list(range(len(samples)))


def test_missing_rows_and_errors(tmp_path, vocabulary, dis5k_names):
    names = [n for n in dis5k_names if n[0] == "DIS-VD"][:4]
    samples = samples_from_names(names, vocabulary)
    samples[3].mask = False
    manifest = write_tree(tmp_path, samples, vocabulary)
    with pytest.warns(UserWarning, match="1 manifest rows have no mask"):
        ds = ManifestDataset(manifest, size=SIZE)
    assert len(ds) == 3 and ds.dropped_no_mask == 1

    ds.image_path(1).unlink()
    with pytest.raises(SampleReadError, match=r"file not found: .*DIS-VD/im/"):
        ds[1]
    ds.mask_path(2).write_bytes(b"not a png")
    with pytest.raises(SampleReadError, match=r"cannot decode .*DIS-VD/gt/.*\.png"):
        ds[2]

    with pytest.warns(UserWarning):
        skipping = ManifestDataset(manifest, size=SIZE, on_error="skip", return_info=True)
    with pytest.warns(UserWarning, match="skipping unreadable sample"):
        *_, info = skipping[1]
    assert info["index"] == 0  # 1 and 2 are unreadable: wraps around to 0
    assert skipping.skipped == 2
    # the counter is shared with DataLoader workers (their warnings go to their own stderr)
    list(DataLoader(skipping, batch_size=1, num_workers=2))
    assert skipping.skipped == 2 + 3  # index 1 skips 1 and 2, index 2 skips 2


def test_decompression_bomb_is_a_sample_read_error(tmp_path, vocabulary, dis5k_names, monkeypatch):
    """A bomb (over twice Pillow's pixel limit) is refused per sample, never an uncaught DecompressionBombError."""
    names = [n for n in dis5k_names if n[0] == "DIS-VD"][:2]
    manifest = write_tree(tmp_path, samples_from_names(names, vocabulary), vocabulary)
    ds = ManifestDataset(manifest, size=SIZE)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4)  # every real image now counts as a bomb
    with pytest.raises(SampleReadError, match="decompression bomb"):
        ds[0]


def test_bad_manifest_inputs(tmp_path, mixed_tree):
    with pytest.raises(ManifestError, match=str(tmp_path / "nope.parquet")):
        ManifestDataset(tmp_path / "nope.parquet")
    _, manifest, _ = mixed_tree
    table = pq.read_table(manifest)
    meta = dict(table.schema.metadata)
    meta[b"dis_audit"] = meta[b"dis_audit"].replace(b'"schema_version": 1', b'"schema_version": 99')
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "old.parquet")
    with pytest.raises(ManifestError, match=r"old\.parquet.*schema version 99"):
        ManifestDataset(tmp_path / "old.parquet")
    with pytest.raises(ManifestError, match="is not a directory"):
        ManifestDataset(manifest, root=tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="output"):
        ManifestDataset(manifest, output="half")


def test_accepts_arrow_table(mixed_tree):
    root, manifest, samples = mixed_tree
    ds = ManifestDataset(pq.read_table(manifest), size=SIZE)
    assert len(ds) == len(samples) and ds.root == root


def _pil_decoder(data, device):
    """Stand-in for nvJPEG: full-resolution CPU decode."""
    out = []
    for item in data:
        import io

        with Image.open(io.BytesIO(item.numpy().tobytes())) as img:
            out.append(torch.from_numpy(np.asarray(img.convert("RGB")).transpose(2, 0, 1).copy()).to(device))
    return out


def test_gpu_decode_path_on_cpu_with_injected_decoder(mixed_tree):
    _, manifest, samples = mixed_tree
    ds = ManifestDataset(manifest, size=SIZE, decode="gpu")
    loader = DataLoader(ds, batch_size=len(samples), collate_fn=ds.collate_fn)
    raw = next(iter(loader))
    kinds = [img.ndim for img in raw[0]]
    assert kinds == [1, 3, 1, 3, 1, 1]  # jpg, png, jpeg, webp, jpg, jpg: non-JPEGs decoded on CPU
    step = GpuDecode(SIZE, device="cpu", decoder=_pil_decoder)
    images, masks, class_ids = step(raw)
    ref_images, ref_masks, ref_ids = next(iter(DataLoader(ManifestDataset(manifest, size=SIZE), batch_size=6)))
    assert images.shape == ref_images.shape and masks.shape == ref_masks.shape
    torch.testing.assert_close(masks, ref_masks)
    torch.testing.assert_close(class_ids, ref_ids)
    # Torch's antialiased bilinear vs Pillow's (after draft): same filter family, small differences.
    diff = (images - ref_images).abs() * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
    assert float(diff.mean()) < 2.0 and float(diff.max()) < 24, (float(diff.mean()), float(diff.max()))


def test_gpu_decode_falls_back_per_sample(mixed_tree):
    _, manifest, _ = mixed_tree
    ds = ManifestDataset(manifest, size=SIZE, decode="gpu")
    raw = ds.collate_fn([ds[0], ds[2]])

    def picky(data, device):
        if len(data) > 1 or data[0][100] % 2 == 0:  # refuses batches, and some images
            raise RuntimeError("unsupported")
        return _pil_decoder(data, device)

    step = GpuDecode(SIZE, device="cpu", decoder=picky)
    images, _, _ = step(raw)
    assert images.shape == (2, 3, SIZE[1], SIZE[0]) and torch.isfinite(images).all()


def test_gpu_normalize_equals_float_path(mixed_tree):
    _, manifest, _ = mixed_tree
    u8 = next(iter(DataLoader(ManifestDataset(manifest, size=SIZE, output="uint8"), batch_size=6)))
    f32 = next(iter(DataLoader(ManifestDataset(manifest, size=SIZE), batch_size=6)))
    images, masks, _ids = GpuNormalize(device="cpu")(u8)
    torch.testing.assert_close(images, f32[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masks, f32[1])
    torch.testing.assert_close(GpuNormalize()(u8[0]), f32[0], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
def test_gpu_decode_without_torchvision_says_what_to_install():
    with pytest.raises(ImportError, match=r"pip install 'dis-audit\[gpu\]'"):
        GpuDecode((64, 64))


def test_gpu_decode_rejects_transform(mixed_tree):
    _, manifest, _ = mixed_tree
    with pytest.raises(ValueError, match="transform"):
        ManifestDataset(manifest, size=SIZE, decode="gpu", transform=lambda i, m: (i, m))


def test_transform_applies_to_tensors(mixed_tree):
    _, manifest, _ = mixed_tree
    ds = ManifestDataset(manifest, size=SIZE, transform=lambda i, m: (i.flip(-1), m.flip(-1)))
    plain = ManifestDataset(manifest, size=SIZE)
    torch.testing.assert_close(ds[0][0], plain[0][0].flip(-1))
