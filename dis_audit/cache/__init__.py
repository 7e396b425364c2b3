"""A cache of training-size samples: decode and resize every image and mask once, not every epoch.

``build_cache(manifest, (1024, 1024))`` (or ``dis-audit cache MANIFEST --size 1024,1024``) writes
each sample's image and mask at the training size, with a parquet index keyed by source path,
size, mtime and resize settings, so later builds only redo new or changed files, a killed build
resumes where it stopped, and ``--shard i/N`` builds run on many machines at once.
``ManifestDataset(..., cache=DIR)`` reads fresh entries and falls back to the original files for
stale ones. Reference: docs/cache.md.
"""

from __future__ import annotations

from ._build import CachePlan, CacheResult, build_cache, default_cache_dir, plan_cache, run_plan
from ._entry import FORMATS, read_encoded_image, read_entry, read_entry_mask
from ._index import CacheError, CacheSettings, entry_base, read_index

__all__ = [
    "FORMATS",
    "CacheError",
    "CachePlan",
    "CacheResult",
    "CacheSettings",
    "build_cache",
    "default_cache_dir",
    "entry_base",
    "plan_cache",
    "read_encoded_image",
    "read_entry",
    "read_entry_mask",
    "read_index",
    "run_plan",
]
