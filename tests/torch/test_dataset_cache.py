"""ManifestDataset(cache=DIR): cached items equal uncached ones; stale entries fall back, counted and warned once."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
import torch
from da_torch_helpers import samples_from_names, write_tree
from torch.utils.data import DataLoader

from dis_audit.cache import CacheError, build_cache
from dis_audit.torch import ManifestDataset

SIZE = (64, 48)
# Stated in docs/cache.md: cached images against the uncached Dataset's (torch's antialiased
# bilinear kernel there, Pillow's in the cache; plus JPEG q95 for the jpeg format).
MIN_PSNR = {"raw": 55.0, "jpeg": 38.0}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


@pytest.fixture()
def tree(tmp_path, vocabulary, dis5k_names):
    samples = samples_from_names([n for n in dis5k_names if n[0] == "DIS-TR"][:6], vocabulary, width=200, height=150)
    for s, ext in zip(samples, [".jpg", ".png", ".jpg", ".webp", ".jpg", ".jpg"]):
        s.image_ext = ext
    return write_tree(tmp_path, samples, vocabulary)


@pytest.mark.parametrize("fmt", ["jpeg", "raw"])
@pytest.mark.parametrize("output", ["uint8", "float"])
def test_cached_items_equal_uncached(tree, fmt, output):
    build_cache(tree, SIZE, format=fmt, workers=1)
    plain = ManifestDataset(tree, size=SIZE, output=output)
    cached = ManifestDataset(tree, size=SIZE, output=output, cache=tree.with_name("manifest.cache"))
    assert len(cached) == len(plain) == 6
    for i in range(len(plain)):
        pi, pm, pc = plain[i]
        ci, cm, cc = cached[i]
        assert ci.shape == pi.shape and ci.dtype == pi.dtype and cm.dtype == pm.dtype and cc == pc
        torch.testing.assert_close(cm, pm, rtol=0, atol=0)  # masks: exactly
        if output == "uint8":
            assert psnr(ci, pi) >= MIN_PSNR[fmt], (i, psnr(ci, pi))
    assert cached.cache_fallbacks == 0


def test_stale_entry_falls_back_counted_and_warned_once(tree):
    build_cache(tree, SIZE, workers=1)
    cache_dir = tree.with_name("manifest.cache")
    ds = ManifestDataset(tree, size=SIZE, output="uint8", cache=cache_dir)
    for i in (1, 2):  # touch two sources: their entries are stale now
        path = ds.image_path(i)
        os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns + 10**9))
    plain = ManifestDataset(tree, size=SIZE, output="uint8")
    with pytest.warns(UserWarning, match="no fresh entry") as caught:
        items = [ds[i] for i in range(len(ds))]
    assert len([w for w in caught if "no fresh entry" in str(w.message)]) == 1
    assert ds.cache_fallbacks == 2
    for i in (1, 2):  # served from the edited originals, exactly as without a cache
        torch.testing.assert_close(items[i][0], plain[i][0], rtol=0, atol=0)
    # A removed entry file also falls back instead of failing.
    for f in (cache_dir / "entries").rglob("*.jpg"):
        f.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.testing.assert_close(ds[0][1], plain[0][1], rtol=0, atol=0)
    assert ds.cache_fallbacks == 3


def test_cache_through_dataloader_workers_and_errors(tree, tmp_path):
    build_cache(tree, SIZE, format="raw", workers=1)
    ds = ManifestDataset(tree, size=SIZE, output="uint8", cache=tree.with_name("manifest.cache"))
    batches = list(DataLoader(ds, batch_size=3, num_workers=2))
    assert sum(len(b[0]) for b in batches) == 6 and ds.cache_fallbacks == 0
    with pytest.raises(CacheError, match="not found"):
        ManifestDataset(tree, size=SIZE, cache=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="fixed size"):
        ManifestDataset(tree, size=None, cache=tree.with_name("manifest.cache"))
    with pytest.warns(UserWarning, match="no entries at size 32x32"):
        other = ManifestDataset(tree, size=32, output="uint8", cache=tree.with_name("manifest.cache"))
    with pytest.warns(UserWarning, match="no fresh entry"):
        assert other[0][0].shape == (3, 32, 32)


@pytest.mark.parametrize("fmt", ["jpeg", "raw"])
def test_gpu_decode_reads_the_cache(tree, fmt):
    import io

    from PIL import Image

    from dis_audit.torch import GpuDecode

    def pil_decoder(data, device):  # stand-in for nvJPEG
        return [torch.from_numpy(np.asarray(Image.open(io.BytesIO(d.numpy().tobytes())).convert("RGB"))
                                 .transpose(2, 0, 1).copy()) for d in data]

    build_cache(tree, SIZE, format=fmt, workers=1)
    ds = ManifestDataset(tree, size=SIZE, decode="gpu", cache=tree.with_name("manifest.cache"))
    batch = next(iter(DataLoader(ds, batch_size=6, collate_fn=ds.collate_fn)))
    # jpeg: the small cached JPEG travels encoded (every sample, whatever its source format); raw: decoded.
    assert [img.ndim for img in batch[0]] == ([1] * 6 if fmt == "jpeg" else [3] * 6)
    images, masks, _ = GpuDecode(SIZE, device="cpu", decoder=pil_decoder)(batch)
    plain = next(iter(DataLoader(ManifestDataset(tree, size=SIZE), batch_size=6)))
    torch.testing.assert_close(masks, plain[1], rtol=0, atol=0)
    assert images.shape == plain[0].shape and ds.cache_fallbacks == 0
