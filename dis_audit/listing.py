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
from functools import partial
from itertools import repeat
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
    masks: _Index = ([], "", None)
    if dataset.mask_dir:
        found = _flat_index(f"{root}/{dataset.mask_dir}")
        if found is None:
            return None
        masks = found
    image_prefix = dataset.image_dir + "/"
    mask_prefix = f"{dataset.mask_dir}/"
    # Sorted by key, as pair_dataset sorts them (a key has one file here, so no path tie-breaks).
    keys = sorted(images[0])
    image_paths = _paths(image_prefix, keys, images)
    mask_paths: list[str | None]
    orphans: list[str] = []
    # Every image has its mask and every mask its image, the common case: the sorted stems are
    # equal (cheaper than hashing every stem into sets), and the mask paths are built in bulk.
    if len(masks[0]) == len(keys) and sorted(masks[0]) == keys:
        mask_paths = list(_paths(mask_prefix, keys, masks))
    else:
        mask_keys = set(masks[0])
        mask_paths = [mask_prefix + _file_name(key, masks) if key in mask_keys else None for key in keys]
        orphans = sorted(mask_prefix + _file_name(key, masks) for key in mask_keys.difference(keys))
    n = len(keys)
    # tuple.__new__ makes each PairTask without a Python-level call per pair.
    pairs = list(map(_new_pair, zip(repeat(dataset.name, n), image_paths, mask_paths, repeat(False, n))))
    return DatasetListing(dataset=dataset, pairs=pairs, orphan_masks=orphans)


#: A folder's index: its file stems, and either the one extension every name has (with the dot)
#: or, for a folder of several extensions, the file name of each stem.
_Index = tuple[list[str], str, dict[str, str] | None]
_new_pair = partial(tuple.__new__, PairTask)


def _file_name(key: str, index: _Index) -> str:
    by_key = index[2]
    return key + index[1] if by_key is None else by_key[key]


def _paths(prefix: str, keys: list[str], index: _Index) -> list[str]:
    """``prefix`` + the file name of every key of ``index``."""
    ext, by_key = index[1], index[2]
    if not keys:
        return []
    if by_key is not None:
        return [prefix + by_key[key] for key in keys]
    # One join and one split instead of two concatenations a key (no name holds a NUL).
    return (prefix + (ext + "\0" + prefix).join(keys) + ext).split("\0")


def _flat_index(folder: str) -> _Index | None:
    """The stems of a folder of image files only, one per stem, ASCII names; None otherwise."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None  # the general path reports why
    if not names:
        return [], "", None
    joined = "\0".join(names) + "\0"
    if not joined.isascii():
        return None
    stem, dot, ext = names[0].rpartition(".")
    if dot and _is_image_ext(ext) and joined.count(f".{ext}\0") == len(names):
        # Every name ends with the first one's extension (an occurrence ends at a separator, so one a
        # name at most): the stems are the names without it, in one replace and one split.
        return joined.replace(f".{ext}\0", "\0").split("\0")[:-1], f".{ext}", None
    by_key: dict[str, str] = {}
    for file_name in names:
        stem, dot, ext = file_name.rpartition(".")
        if not (dot and _is_image_ext(ext)):  # a sub-folder, clutter or no extension: the general path looks closer
            return None
        by_key[stem] = file_name
    if len(by_key) != len(names):
        return None
    return list(by_key), "", by_key


def _is_image_ext(ext: str) -> bool:
    """Whether ``ext`` (raw, after the last dot) is an image extension; a folder has few distinct ones."""
    ok = _IS_IMAGE_EXT.get(ext)
    if ok is None:
        ok = _IS_IMAGE_EXT[ext] = f".{ext}".lower() in IMAGE_EXTENSIONS
    return ok
