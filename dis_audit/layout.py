"""Find dataset folders, their image/mask folder pair, and pair files by stem.

The only module of the scan that lists directories. Paths it hands on are relative POSIX
strings from the scan root; undecodable (non-UTF-8) names are reported, never passed on.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .naming import BIREFNET_EXTENSIONS, IMAGE_EXTENSIONS, split_path
from .paths import display_path

#: Known image/mask folder pairs, matched case-insensitively, most common first.
KNOWN_DIR_PAIRS: tuple[tuple[str, str], ...] = (
    ("im", "gt"),
    ("jpgs", "masks"),
    ("imgs", "gt"),
    ("image", "mask"),
    ("images", "masks"),
    ("images", "labels"),
    ("img", "mask"),
    ("imgs", "masks"),
)
IMAGE_DIR_SUFFIX = "-image"
MASK_DIR_SUFFIX = "-mask"
MAX_SEARCH_DEPTH = 4
# Mask extensions in the order BiRefNet tries them; any other image extension comes after.
_MASK_PREFERENCE = {ext: i for i, ext in enumerate(BIREFNET_EXTENSIONS)}


class LayoutError(Exception):
    """The root cannot be scanned at all (missing, not a folder, no dataset found)."""


@dataclass(frozen=True)
class DatasetDir:
    """One dataset folder: ``rel`` is its path from the root ('' when the root is the dataset)."""

    name: str
    rel: str
    image_dir: str  # relative to the root
    mask_dir: str | None  # None when the dataset has images but no mask folder


class PairTask(NamedTuple):
    """One image and the mask it pairs with; all paths relative to the root."""

    dataset: str
    image_path: str
    mask_path: str | None
    nested: bool  # below a sub-folder of the image folder (BiRefNet's listdir does not see it)


@dataclass
class DatasetListing:
    """What listing one dataset's folders found."""

    dataset: DatasetDir
    pairs: list[PairTask] = field(default_factory=list)
    orphan_masks: list[str] = field(default_factory=list)
    ambiguous: list[tuple[str, list[str]]] = field(default_factory=list)  # (key, candidate paths)
    clutter: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    undecodable: list[str] = field(default_factory=list)  # display forms of non-UTF-8 names


def _is_undecodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _match_pair(subdirs: dict[str, str], image_dir: str | None, mask_dir: str | None) -> tuple[str, str | None] | None:
    """Pick the image/mask folder names among ``subdirs`` (folded name -> real name)."""
    if image_dir or mask_dir:
        img = subdirs.get(image_dir.casefold()) if image_dir else None
        msk = subdirs.get(mask_dir.casefold()) if mask_dir else None
        if image_dir and img is None:
            return None
        if img is None:  # only --mask-dir given: find the image folder among the known names
            folded = (mask_dir or "").casefold()
            img = next((subdirs[i] for i, m in KNOWN_DIR_PAIRS if m == folded and i in subdirs), None)
            if img is None:
                return None
        if msk is None and not mask_dir:
            for i_name, m_name in KNOWN_DIR_PAIRS:
                if i_name == img.casefold() and m_name in subdirs:
                    msk = subdirs[m_name]
                    break
        return img, msk
    for i_name, m_name in KNOWN_DIR_PAIRS:
        if i_name in subdirs and m_name in subdirs:
            return subdirs[i_name], subdirs[m_name]
    for folded, real in subdirs.items():
        if folded.endswith(IMAGE_DIR_SUFFIX):
            mate = folded[: -len(IMAGE_DIR_SUFFIX)] + MASK_DIR_SUFFIX
            if mate in subdirs:
                return real, subdirs[mate]
    for i_name, _ in KNOWN_DIR_PAIRS:  # an image folder alone still makes a dataset (masks missing)
        if i_name in subdirs:
            return subdirs[i_name], None
    return None


def _subdirs(path: str) -> list[str]:
    """The names of the visible sub-folders of ``path``, sorted (none when it cannot be read)."""
    out: list[str] = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir():
                        out.append(entry.name)
                except OSError:
                    continue
    except OSError:
        pass
    return sorted(out)


def _by_folded_name(names: list[str]) -> dict[str, str]:
    """Folded name -> real name, for matching folder names without regard to case (the first, sorted, wins)."""
    out: dict[str, str] = {}
    for name in names:
        out.setdefault(name.casefold(), name)
    return out


def discover_datasets(root: str | Path, image_dir: str | None = None, mask_dir: str | None = None) -> list[DatasetDir]:
    """Find dataset folders under ``root`` (or ``root`` itself), breadth-first, sorted by path."""
    root = Path(root)
    if not root.exists():
        raise LayoutError(f"root not found: {root}")
    if not root.is_dir():
        raise LayoutError(f"root is not a folder: {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise LayoutError(f"root is not readable: {root}")
    found: list[tuple[str, str, str | None]] = []
    seen: set[tuple[int, int]] = set()
    frontier: list[tuple[str, int]] = [("", 0)]
    while frontier:
        rel, depth = frontier.pop(0)
        abs_path = os.path.join(root, rel) if rel else str(root)
        try:
            st = os.stat(abs_path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:  # a symlinked folder seen before: never loop
            continue
        seen.add((st.st_dev, st.st_ino))
        names = _subdirs(abs_path)
        pair = _match_pair(_by_folded_name(names), image_dir, mask_dir)
        if pair is not None:
            found.append((rel, pair[0], pair[1]))
            continue
        if depth < MAX_SEARCH_DEPTH:
            # Every sub-folder, also those whose names differ only in case (`ext-JPEG`, `ext-jpeg`): each
            # can be a dataset of its own.
            for real in names:
                frontier.append((f"{rel}/{real}" if rel else real, depth + 1))
    found.sort()
    last_names = [rel.rsplit("/", 1)[-1] if rel else root.resolve().name for rel, _, _ in found]
    datasets = []
    for (rel, img, msk), last in zip(found, last_names):
        name = last if last_names.count(last) == 1 else (rel or last)
        image_dir = f"{rel}/{img}" if rel else img
        mask_dir = (f"{rel}/{msk}" if rel else msk) if msk else None
        datasets.append(DatasetDir(name=name, rel=rel, image_dir=image_dir, mask_dir=mask_dir))
    return datasets


def select_datasets(datasets: list[DatasetDir], spec: str | Iterable[str] | None) -> list[DatasetDir]:
    """Keep datasets named in ``spec`` (BiRefNet's ``a+b`` syntax, or a list); names or paths match."""
    if spec is None:
        return datasets
    wanted = [s.strip() for s in (spec.split("+") if isinstance(spec, str) else spec) if s.strip()]
    if not wanted:
        # Scanning nothing would overwrite a good manifest with an empty one.
        raise LayoutError(f"--datasets {spec!r} names no dataset; leave it out to scan every dataset")
    check_dataset_names("--datasets", wanted, datasets)
    chosen: list[DatasetDir] = []
    for want in wanted:
        chosen.extend(m for m in datasets if dataset_matches(want, m) and m not in chosen)
    return chosen


def dataset_matches(name: str, dataset: DatasetDir) -> bool:
    """Whether an option's dataset ``name`` means ``dataset``: its name, its path, or the name's last part."""
    return name in (dataset.name, dataset.rel, dataset.name.rsplit("/", 1)[-1])


def check_dataset_names(option: str, names: Iterable[str], datasets: list[DatasetDir]) -> None:
    """LayoutError naming every entry of ``option`` that matches no dataset found, with a did-you-mean.

    Every option that names datasets (``--datasets``, ``--eval-datasets``, the keys of
    ``--difficulty-map``) goes through here, so a typo (``DIS-TEl``) is refused rather than
    silently changing what the option does.
    """
    unknown = [n for n in names if not any(dataset_matches(n, d) for d in datasets)]
    if not unknown:
        return
    from .hints import did_you_mean

    known = sorted({d.name for d in datasets} | {d.rel for d in datasets if d.rel})
    listed = ", ".join(sorted({d.name for d in datasets})) or "none"
    what = "; ".join(f"{n!r}{did_you_mean(n, known)}" for n in unknown)
    raise LayoutError(f"{option}: no dataset named {what}; found: {listed}")


def _list_tree(root: str, rel_dir: str, listing: FolderIndex) -> list[tuple[str, list[str]]]:
    """(folder relative to root, non-folder names in it) for ``rel_dir`` and every folder below it.

    Names with an image extension are taken as files without a stat (a folder named
    ``x.jpg`` then fails to open and is reported by the probe); other names are looked at.
    Follows symbolic links to folders, but never into a folder already visited (no loops).
    """
    seen: set[tuple[int, int]] = set()
    out: list[tuple[str, list[str]]] = []
    stack = [rel_dir]
    extensions = IMAGE_EXTENSIONS
    while stack:
        current = stack.pop()
        abs_dir = f"{root}/{current}"
        try:
            st = os.stat(abs_dir)
            if (st.st_dev, st.st_ino) in seen:
                listing.unreadable.append((current, "symlink loop: folder already visited"))
                continue
            seen.add((st.st_dev, st.st_ino))
            names = os.listdir(abs_dir)
        except OSError as exc:
            listing.unreadable.append((current, exc.strerror or str(exc)))
            continue
        files: list[str] = []
        subdirs: list[str] = []
        bad_folder = not current.isascii() and _is_undecodable(current)  # then no path below it is text
        for name in names:
            if bad_folder or (not name.isascii() and _is_undecodable(name)):
                listing.undecodable.append(display_path(f"{current}/{name}"))
                continue
            dot = name.rfind(".")
            if dot >= 0 and name[dot:].lower() in extensions:  # ".jpg" alone too: BiRefNet lists it
                files.append(name)
                continue
            path = f"{abs_dir}/{name}"
            try:
                is_dir = stat.S_ISDIR(os.stat(path).st_mode)
            except OSError as exc:
                # Reported, never counted as clutter: a path over PATH_MAX, a broken link, no permission.
                if exc.errno == errno.ENAMETOOLONG:
                    reason = "path longer than the system allows (PATH_MAX); not scanned"
                elif os.path.lexists(path):
                    reason = "broken symbolic link" if os.path.islink(path) else (exc.strerror or str(exc))
                else:
                    reason = exc.strerror or str(exc)
                listing.unreadable.append((f"{current}/{name}", reason))
                continue
            if is_dir:
                if not name.startswith("."):
                    subdirs.append(f"{current}/{name}")
            else:
                files.append(name)
        out.append((current, files))
        stack.extend(sorted(subdirs, reverse=True))
    return out


@dataclass
class FolderIndex:
    """One image or mask folder, listed: files by key (path below the folder, no extension)."""

    by_key: dict[str, list[str]] = field(default_factory=dict)
    clutter: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)


def index_folder(root: str | Path, rel_dir: str) -> FolderIndex:
    """List ``rel_dir`` (and below) and map each image file's key to its paths; the rest is clutter."""
    index = FolderIndex()
    by_key = index.by_key
    extensions = IMAGE_EXTENSIONS
    skip = len(rel_dir) + 1
    clutter = 0
    for folder, names in _list_tree(str(root), rel_dir, index):
        prefix = folder + "/"
        key_prefix = prefix[skip:]
        for name in names:
            dot = name.rfind(".")
            if dot < 0 or name[dot:].lower() not in extensions:
                clutter += 1
                continue
            key = key_prefix + name[:dot]
            paths = by_key.get(key)
            if paths is None:
                by_key[key] = [prefix + name]
            else:
                paths.append(prefix + name)
    index.clutter = clutter
    return index


def undecodable_dataset(dataset: DatasetDir, images: FolderIndex, masks: FolderIndex | None) -> DatasetListing | None:
    """A listing for a dataset whose folder names are not valid UTF-8 (None for every other dataset).

    Such a dataset cannot be a manifest row (its name and paths are not text): every file in it
    becomes an undecodable-name finding under the folder's printable name, and nothing is paired.
    """
    names = (dataset.name, dataset.rel, dataset.image_dir, dataset.mask_dir or "")
    if not any(_is_undecodable(name) for name in names):
        return None
    printable = DatasetDir(
        name=display_path(dataset.name), rel=display_path(dataset.rel), image_dir=display_path(dataset.image_dir),
        mask_dir=None if dataset.mask_dir is None else display_path(dataset.mask_dir),
    )
    listing = DatasetListing(dataset=printable)
    for part in (images, masks):
        if part is not None:
            listing.clutter += part.clutter
            listing.unreadable.extend((display_path(p), why) for p, why in part.unreadable)
            listing.undecodable.extend(part.undecodable)
            listing.undecodable.extend(display_path(p) for paths in part.by_key.values() for p in paths)
    if not listing.undecodable:  # an empty folder still gets its name reported
        listing.undecodable.append(printable.image_dir)
    listing.undecodable.sort()
    return listing


def pair_dataset(dataset: DatasetDir, images: FolderIndex, masks: FolderIndex | None) -> DatasetListing:
    """Pair a dataset's indexed image and mask folders by key."""
    listing = DatasetListing(dataset=dataset)
    mask_keys = masks.by_key if masks is not None else {}
    image_keys = images.by_key
    for part in (images, masks):
        if part is not None:
            listing.clutter += part.clutter
            listing.unreadable.extend(part.unreadable)
            listing.undecodable.extend(part.undecodable)
    for key, candidates in mask_keys.items():
        if len(candidates) > 1:
            candidates.sort(key=lambda p: (_MASK_PREFERENCE.get(split_path(p)[1], 99), p))
            listing.ambiguous.append((key, list(candidates)))
        if key not in image_keys:
            listing.orphan_masks.extend(candidates)
    pairs = listing.pairs
    name = dataset.name
    for key in sorted(image_keys):
        paths = image_keys[key]
        if len(paths) > 1:
            paths.sort()
            listing.ambiguous.append((key, list(paths)))
        mask_candidates = mask_keys.get(key)
        pairs.append(PairTask(name, paths[0], mask_candidates[0] if mask_candidates else None, "/" in key))
        for path in paths[1:]:
            pairs.append(PairTask(name, path, mask_candidates[0] if mask_candidates else None, "/" in key))
    listing.orphan_masks.sort()
    return listing


def list_dataset(root: str | Path, dataset: DatasetDir) -> DatasetListing:
    """List a dataset's image and mask folders and pair files by stem (relative to each folder)."""
    images = index_folder(root, dataset.image_dir)
    masks = index_folder(root, dataset.mask_dir) if dataset.mask_dir is not None else None
    return pair_dataset(dataset, images, masks)
