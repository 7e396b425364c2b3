"""``ManifestDataset``: a map-style torch Dataset over a dis-audit parquet manifest."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from PIL import Image
from torch.utils.data import Dataset, default_collate

from dis_audit.manifest import (
    METADATA_KEY,
    SCHEMA_VERSION,
    ManifestError,
    ManifestMeta,
    manifest_root,
    read_manifest_table,
)

from ._cached import CacheLookup
from ._decode import IMAGENET_MEAN, IMAGENET_STD, decode_image, is_jpeg, normalize_uint8
from ._packed import PackedStrings
from ._unusable import unusable_rows

Transform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class SampleReadError(OSError):
    """An image or mask named by the manifest is missing or cannot be decoded."""


def _as_name_set(value: str | Iterable[str] | None) -> set[str] | None:
    # BiRefNet selects folders with "DIS-TR+DIS-VD"; accept that as well as a list.
    if value is None:
        return None
    if isinstance(value, str):
        return {part for part in value.split("+") if part}
    return {str(v) for v in value}


def _encode(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a string column: int32 codes (-1 for null) and the distinct values."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, names


def _load_manifest(manifest: Any) -> tuple[pa.Table, ManifestMeta, Path | None]:
    """Accept a path, an Arrow table carrying dis-audit metadata, or a scan result with ``.table``."""
    if isinstance(manifest, (str, os.PathLike)):
        table, meta = read_manifest_table(manifest)
        return table, meta, Path(manifest)
    table = getattr(manifest, "table", manifest)
    if not isinstance(table, pa.Table):
        raise TypeError(
            f"manifest must be a path, a pyarrow.Table or a scan result, not {type(manifest).__name__}"
        )
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ManifestError("the Arrow table carries no dis-audit metadata; build it with dis_audit.manifest")
    meta = ManifestMeta.from_bytes(raw)
    if meta.schema_version != SCHEMA_VERSION:
        raise ManifestError(
            f"manifest schema version {meta.schema_version}, this dis-audit reads version {SCHEMA_VERSION}; "
            "re-run `dis-audit scan` to rewrite it"
        )
    return table, meta, None


class ManifestDataset(Dataset):
    """Training samples from a dis-audit manifest, shaped like BiRefNet's training item.

    Each item is ``(image, mask, class_id)``:

    * ``output="float"``: image float32 ``3×H×W`` normalized with ImageNet mean/std, mask
      float32 ``1×H×W`` in [0, 1];
    * ``output="uint8"``: both uint8 (normalize on the device with :class:`GpuNormalize`);
    * ``decode="gpu"``: the image is the encoded JPEG file as a 1-D uint8 tensor (decoded in
      the training process by :class:`GpuDecode`), or a decoded uint8 ``3×H×W`` tensor for a
      non-JPEG file; the mask is uint8. Use ``collate_fn=dataset.collate_fn``.

    ``class_id`` is an ``int``; unknown labels (-1 in the manifest) become ``ignore_index`` so
    that ``CrossEntropyLoss(ignore_index=...)`` skips them. With ``return_info=True`` a dict
    ``{index, dataset, difficulty, class_name, image_path}`` is appended (``class_name`` is
    ``""`` when unknown, because the default collate cannot batch ``None``).

    Resizing: ``size`` is ``(width, height)`` like BiRefNet's config (an int means square;
    ``None`` keeps the file's size). The image is resized bilinear with antialiasing after a
    reduced-scale JPEG decode when the file is at least twice the target; the mask is resized
    bilinear too (as BiRefNet does), so edges are soft values in [0, 1], not binary.

    Rows without a mask are dropped at construction (``dropped_no_mask`` says how many) since
    they cannot train a segmentation model.

    Memory: paths live in packed byte buffers and labels in numpy arrays, so forked DataLoader
    workers share them instead of copying (pytorch issue #13246).

    Args:
        manifest: path to a manifest parquet, or an Arrow table with dis-audit metadata
            (e.g. ``dis_audit.scan(root).table``).
        root: dataset root the relative paths resolve against; default: the root recorded in
            the manifest if it exists, else the manifest's folder.
        size: output ``(width, height)``.
        datasets: keep only these dataset folders (list, or BiRefNet's ``"DIS-TR+DIS-VD"``).
        difficulties: keep only these difficulty values.
        drop_unlabeled: drop rows whose ``class_id`` is -1.
        ignore_index: the class id given to unlabeled rows.
        output: ``"float"`` or ``"uint8"``.
        transform: optional ``f(image, mask) -> (image, mask)`` applied to the output tensors
            (not allowed with ``decode="gpu"``).
        decode: ``"cpu"`` (default) or ``"gpu"``.
        return_info: append the info dict to each item.
        cache: a cache folder built by ``dis-audit cache`` (or ``dis_audit.cache.build_cache``) at
            this ``size``: samples whose entry is fresh (both source files unchanged since it was
            built) are read from it; the others from the original files, counted in
            :attr:`cache_fallbacks` and warned about once per process. Masks read from the
            cache equal the uncached ones exactly; images differ by a resize kernel (and JPEG
            q95 for the ``jpeg`` format): see docs/cache.md.
        on_error: ``"raise"`` (default) raises :class:`SampleReadError` naming the file;
            ``"skip"`` warns once per file, counts it in :attr:`skipped` and returns the next
            readable sample instead, so batch shapes and DDP step counts stay the same. Every
            decode failure counts, decompression bombs included.
        keep_unusable: rows whose image or mask the scan found unusable (a finding in
            :data:`UNUSABLE_CODES`, or more pixels than Pillow's decompression-bomb limit) are
            left out by default (:attr:`dropped_unusable` says how many, with a warning);
            ``True`` keeps them, e.g. to let ``on_error`` decide at load time.
    """

    def __init__(
        self,
        manifest: str | os.PathLike | pa.Table | Any,
        root: str | os.PathLike | None = None,
        size: tuple[int, int] | int | None = (1024, 1024),
        datasets: str | Iterable[str] | None = None,
        difficulties: str | Iterable[str] | None = None,
        drop_unlabeled: bool = False,
        ignore_index: int = -100,
        output: str = "float",
        transform: Transform | None = None,
        *,
        decode: str = "cpu",
        return_info: bool = False,
        on_error: str = "raise",
        cache: str | os.PathLike | None = None,
        keep_unusable: bool = False,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        if output not in ("float", "uint8"):
            raise ValueError(f"output must be 'float' or 'uint8', not {output!r}")
        if decode not in ("cpu", "gpu"):
            raise ValueError(f"decode must be 'cpu' or 'gpu', not {decode!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        if decode == "gpu" and transform is not None:
            raise ValueError("transform cannot run on encoded bytes; with decode='gpu' apply it after GpuDecode")
        if cache is not None and size is None:
            raise ValueError("cache= needs the fixed size the cache was built at")
        if decode == "gpu" and size is None:
            raise ValueError("decode='gpu' needs a fixed size so that masks can be batched")
        if isinstance(size, int):
            size = (size, size)
        if size is not None:
            size = (int(size[0]), int(size[1]))
            if min(size) <= 0:
                raise ValueError(f"size must be positive, got {size}")

        table, meta, path = _load_manifest(manifest)
        if root is not None:
            self.root = Path(root)
        elif path is not None:
            self.root = manifest_root(path, meta)
        elif meta.root:
            self.root = Path(meta.root)
        else:
            raise ValueError("the manifest table records no root; pass root=")
        if not self.root.is_dir():
            raise ManifestError(f"dataset root {self.root} is not a directory (pass root= to point at the data)")

        self.manifest_path = path
        self.vocabulary: list[str] = list(meta.vocabulary)
        self.size = size
        self.ignore_index = int(ignore_index)
        self.output = output
        self.decode = decode
        self.transform = transform
        self.return_info = return_info
        self.on_error = on_error
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

        keep = pc.is_valid(table["mask_path"])
        self.dropped_no_mask = int(len(table) - pc.sum(keep).as_py()) if len(table) else 0
        for column, wanted in (("dataset", _as_name_set(datasets)), ("difficulty", _as_name_set(difficulties))):
            if wanted is None:
                continue
            present = set(pc.unique(table[column]).to_pylist())
            unknown = wanted - present
            if unknown:
                from ..hints import did_you_mean

                named = ", ".join(f"{n!r}{did_you_mean(n, present)}" for n in sorted(unknown))
                raise ValueError(f"{column} {named} not in the manifest; it has: {', '.join(sorted(present))}")
            keep = pc.and_(keep, pc.is_in(table[column], value_set=pa.array(sorted(wanted))))
        if drop_unlabeled:
            keep = pc.and_(keep, pc.greater_equal(table["class_id"], 0))
        unusable = unusable_rows(table) & keep.to_numpy(zero_copy_only=False)
        self.dropped_unusable = 0 if keep_unusable else int(unusable.sum())
        if self.dropped_unusable:
            first = table["image_path"][int(np.flatnonzero(unusable)[0])].as_py()
            warnings.warn(
                f"{self.dropped_unusable} manifest rows have an image or mask that cannot be decoded and are "
                f"left out, e.g. {first} (keep_unusable=True keeps them)",
                stacklevel=2,
            )
            keep = pc.and_(keep, pa.array(~unusable))
        if self.dropped_no_mask:
            first = pc.filter(table["image_path"], pc.is_null(table["mask_path"]))[0].as_py()
            warnings.warn(
                f"{self.dropped_no_mask} manifest rows have no mask and are left out, e.g. {first} "
                "(`dis-audit scan` lists them all)",
                stacklevel=2,
            )
        table = table.filter(keep)

        self._image_paths = PackedStrings.from_arrow(table["image_path"])
        self._mask_paths = PackedStrings.from_arrow(table["mask_path"])
        class_ids = table["class_id"].to_numpy().astype(np.int64)
        self._class_ids = class_ids  # raw manifest ids, -1 = unknown
        self._dataset_codes, self.dataset_names = _encode(table["dataset"])
        self._difficulty_codes, self.difficulty_names = _encode(table["difficulty"])
        self._class_name_codes, self._class_name_values = _encode(table["class_name"])
        self._cache: CacheLookup | None = None
        if cache is not None:
            assert size is not None
            self._cache = CacheLookup(cache, table["image_path"], table["mask_path"], size)
            if self._cache.sizes_missing:
                warnings.warn(f"cache {cache} has no entries at size {size[0]}x{size[1]}; reading the original files",
                              stacklevel=2)
        self._cache_warned = False
        # Shared counters for all DataLoader workers (shared memory survives fork and spawn).
        self._skipped = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._fallbacks = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._warned: set[int] = set()
        self.collate_fn: Callable[[list], Any] = collate_encoded if decode == "gpu" else default_collate

    # -- what samplers and loss weights need -----------------------------------------------

    def __len__(self) -> int:
        return len(self._class_ids)

    @property
    def labels(self) -> np.ndarray:
        """Per-sample class ids (int64), with -1 for unknown, as the manifest stores them."""
        return self._class_ids

    @property
    def difficulties(self) -> np.ndarray:
        """Per-sample difficulty strings (a fixed-width numpy unicode array, no Python objects)."""
        names = np.asarray(self.difficulty_names if self.difficulty_names else [""])
        return names[self._difficulty_codes]

    @property
    def datasets(self) -> np.ndarray:
        """Per-sample dataset folder names (fixed-width numpy unicode array)."""
        names = np.asarray(self.dataset_names if self.dataset_names else [""])
        return names[self._dataset_codes]

    def class_counts(self) -> np.ndarray:
        """Samples per class id, length ``len(vocabulary)``; unknown (-1) rows are not counted."""
        labelled = self._class_ids[self._class_ids >= 0]
        n = max(len(self.vocabulary), int(labelled.max()) + 1 if len(labelled) else 0)
        return np.bincount(labelled, minlength=n).astype(np.int64)

    @property
    def skipped(self) -> int:
        """Samples replaced because they could not be read (``on_error="skip"``), all workers together."""
        return int(self._skipped.item())

    @property
    def cache_fallbacks(self) -> int:
        """Items read from the original files although ``cache=`` was given (no entry, or a stale one)."""
        return int(self._fallbacks.item())

    def image_path(self, index: int) -> Path:
        """Absolute path of sample ``index``'s image."""
        rel = self._image_paths[index]
        assert rel is not None  # image_path is never null in a manifest
        return self.root / rel

    def mask_path(self, index: int) -> Path:
        """Absolute path of sample ``index``'s mask."""
        rel = self._mask_paths[index]
        assert rel is not None  # rows without a mask were left out when the dataset was built
        return self.root / rel

    # -- loading ---------------------------------------------------------------------------

    def _load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path = self.image_path(index)
        mask_path = self.mask_path(index)
        if self._cache is not None:
            cached = self._load_cached(index, image_path, mask_path)
            if cached is not None:
                return cached
        current = image_path
        try:
            if self.decode == "gpu":
                data = image_path.read_bytes()
                image = self._encoded_or_decoded(data)
            else:
                image = decode_image(str(image_path), self.size, mode="RGB")
            current = mask_path
            mask = decode_image(str(mask_path), self.size, mode="L")
        except FileNotFoundError as exc:
            raise SampleReadError(f"sample {index}: file not found: {current}") from exc
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
            # Pillow raises OSError/UnidentifiedImageError for corrupt data, ValueError/SyntaxError
            # for some malformed headers, DecompressionBombError (not an OSError) above twice
            # MAX_IMAGE_PIXELS.
            raise SampleReadError(f"sample {index}: cannot decode {current}: {exc}") from exc
        return image, mask

    def _load_cached(self, index: int, image_path: Path, mask_path: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
        assert self._cache is not None
        hit = self._cache.fresh(index, image_path, mask_path)
        if hit is not None:
            base, raw = hit
            try:
                if self.decode == "gpu" and not raw:  # nvJPEG decodes the small cached JPEG
                    data, mask = self._cache.encoded(base)
                    return torch.frombuffer(bytearray(data), dtype=torch.uint8), torch.from_numpy(mask)[None]
                image, mask = self._cache.read(base, raw)
                return torch.from_numpy(image), torch.from_numpy(mask)[None]
            except (OSError, ValueError, SyntaxError):
                pass  # removed or damaged entry: the original files still are the truth
        self._fallbacks += 1
        if not self._cache_warned:
            self._cache_warned = True
            warnings.warn(
                f"cache {self._cache.cache_dir}: no fresh entry for {self._image_paths[index]} (changed or new "
                "since the cache was built); reading the original files. `dis-audit cache` updates it. "
                "Further such samples are only counted (ManifestDataset.cache_fallbacks).",
                stacklevel=3,
            )
        return None

    def _encoded_or_decoded(self, data: bytes) -> torch.Tensor:
        # nvJPEG takes baseline/progressive RGB or grayscale JPEGs; anything else (PNG, WebP,
        # CMYK JPEG) is decoded here so the GPU step only sees what it can decode.
        if is_jpeg(data):
            with Image.open(io.BytesIO(data)) as probe:
                if probe.mode in ("RGB", "L"):
                    return torch.frombuffer(bytearray(data), dtype=torch.uint8)
        return decode_image(data, self.size, mode="RGB")

    def _finish(self, index: int, image: torch.Tensor, mask: torch.Tensor) -> tuple:
        if self.decode == "cpu" and self.output == "float":
            image = normalize_uint8(image, self.mean, self.std)
            mask = mask.to(torch.float32).div_(255.0)
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        raw = int(self._class_ids[index])
        class_id = raw if raw >= 0 else self.ignore_index
        if not self.return_info:
            return image, mask, class_id
        code = self._class_name_codes[index]
        info = {
            "index": int(index),
            "dataset": self.dataset_names[self._dataset_codes[index]],
            "difficulty": self.difficulty_names[self._difficulty_codes[index]],
            "class_name": self._class_name_values[code] if code >= 0 else "",
            "image_path": self._image_paths[index],
        }
        return image, mask, class_id, info

    def __getitem__(self, index: int) -> tuple:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        if self.on_error == "raise":
            return self._finish(index, *self._load(index))
        # Skip mode: walk forward to the next readable sample; give up after a bounded number
        # of tries so a dataset that is entirely unreadable still fails loudly.
        last: SampleReadError | None = None
        for step in range(min(n, 64)):
            candidate = (index + step) % n
            try:
                return self._finish(candidate, *self._load(candidate))
            except SampleReadError as exc:
                last = exc
                self._skipped += 1
                if candidate not in self._warned:
                    self._warned.add(candidate)
                    warnings.warn(f"skipping unreadable sample: {exc}", stacklevel=2)
        raise SampleReadError(f"no readable sample in 64 tries from index {index}; last error: {last}")

    def __repr__(self) -> str:
        return (
            f"ManifestDataset(n={len(self)}, root={str(self.root)!r}, size={self.size}, output={self.output!r}, "
            f"decode={self.decode!r}, classes={len(self.vocabulary)})"
        )


def collate_encoded(batch: list[tuple]) -> tuple:
    """Collate ``decode="gpu"`` items: images stay a list (encoded bytes differ in length).

    Returns ``(images: list[Tensor], masks: uint8 B×1×H×W, class_ids: int64 B[, info])``.
    """
    images = [item[0] for item in batch]
    masks = torch.stack([item[1] for item in batch])
    class_ids = torch.tensor([item[2] for item in batch], dtype=torch.int64)
    if len(batch[0]) > 3:
        return images, masks, class_ids, default_collate([item[3] for item in batch])
    return images, masks, class_ids
