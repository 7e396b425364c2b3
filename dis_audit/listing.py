"""List and pair a dataset's folders in one pass, the way ``layout`` does in two.

``layout.index_folder`` walks each folder (stat for every name without an image extension,
a key index per folder) and ``layout.pair_dataset`` then pairs the indexes: general, and 5x
the cost of a plain ``listdir``. Nearly every real dataset is two flat folders of image files
with one file per stem (DIS5K, HRSOD, UHRSD ...); for those, one ``listdir`` per folder and
one dict per folder give the pairs directly. Anything else (a sub-folder, clutter, two files
of one stem, a name that is not ASCII, a folder that cannot be read) goes the general way, so
the listing is the same either way (tests/test_listing.py compares them on tricky trees).
"""

from __future__ import annotations

import os
from pathlib import Path

from .layout import DatasetDir, DatasetListing, PairTask, index_folder, pair_dataset, undecodable_dataset
from .naming import IMAGE_EXTENSIONS

# Raw extension (after the last dot, any case) -> whether it is an image extension; a folder
# has few distinct ones, so each is lowered and looked up once.
_IS_IMAGE_EXT: dict[str, bool] = {}


def list_and_pair(root: str | Path, dataset: DatasetDir) -> DatasetListing:
    """The listing of ``dataset`` (pairs, orphans, ambiguities, clutter, unreadable and undecodable names)."""
    listing = flat_listing(str(root), dataset)
    if listing is not None:
        return listing
    images = index_folder(root, dataset.image_dir)
    masks = index_folder(root, dataset.mask_dir) if dataset.mask_dir else None
    return undecodable_dataset(dataset, images, masks) or pair_dataset(dataset, images, masks)


def flat_listing(root: str, dataset: DatasetDir) -> DatasetListing | None:
    """The listing when both folders are flat, image files only, one per stem and ASCII; else None."""
    if not (dataset.image_dir + (dataset.mask_dir or "") + dataset.name + dataset.rel).isascii():
        return None
    images = _flat_index(f"{root}/{dataset.image_dir}")
    if images is None:
        return None
    masks: dict[str, str] = {}
    if dataset.mask_dir:
        found = _flat_index(f"{root}/{dataset.mask_dir}")
        if found is None:
            return None
        masks = found
    image_prefix = dataset.image_dir + "/"
    mask_prefix = f"{dataset.mask_dir}/"
    name = dataset.name
    get_mask = masks.get
    # Sorted by key, as pair_dataset sorts them (a key has one file here, so no path tie-breaks).
    pairs = [
        PairTask(name, image_prefix + images[key], None if (mask := get_mask(key)) is None else mask_prefix + mask, False)
        for key in sorted(images)
    ]
    orphans = sorted(mask_prefix + masks[key] for key in masks.keys() - images.keys())
    return DatasetListing(dataset=dataset, pairs=pairs, orphan_masks=orphans)


def _flat_index(folder: str) -> dict[str, str] | None:
    """Stem -> file name for a folder of image files only, one per stem, ASCII names; None otherwise."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None  # the general path reports why
    if not "".join(names).isascii():
        return None
    by_key: dict[str, str] = {}
    known = _IS_IMAGE_EXT
    for file_name in names:
        stem, dot, ext = file_name.rpartition(".")
        ok = known.get(ext) if dot else False
        if ok is None:
            ok = known[ext] = f".{ext}".lower() in IMAGE_EXTENSIONS
        if not ok:  # a sub-folder, clutter or a name without an extension: the general path looks closer
            return None
        by_key[stem] = file_name
    return by_key if len(by_key) == len(names) else None
