"""The units a rename moves: every file of one sample key in one dataset (its image and its masks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..layout import LayoutError, discover_datasets, list_dataset, select_datasets
from ..naming import split_path
from .plan import ProgressCallback, RenameError


@dataclass
class Unit:
    """All files of one sample key in one dataset: its image(s) and mask(s); renamed as one."""

    dataset: str
    key: str
    images: list[str] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        """The shared stem of the unit's files."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The sub-folder of the image folder holding the files ('' when directly in it)."""
        return self.key.rsplit("/", 1)[0] if "/" in self.key else ""


def list_units(
    root: Path, image_dir: str | None, mask_dir: str | None, datasets: str | Sequence[str] | None,
    progress: ProgressCallback | None = None,
) -> tuple[list[Unit], dict[str, int]]:
    """The units of the chosen datasets under ``root``, and how many files were skipped, by reason."""
    try:
        found = discover_datasets(root, image_dir, mask_dir)
        if not found:
            raise LayoutError(f"no dataset found under {root} (see `dis-audit scan --help` for the layouts it knows)")
        chosen = select_datasets(found, datasets)
    except LayoutError as exc:
        raise RenameError(str(exc)) from exc
    units: list[Unit] = []
    skipped: Counter[str] = Counter()
    for n, ds in enumerate(chosen, 1):
        listing = list_dataset(root, ds)
        by_key: dict[str, Unit] = {}
        img_prefix = ds.image_dir + "/"
        for pair in listing.pairs:
            name = pair.image_path[len(img_prefix):]
            key = name[: len(name) - len(split_path(name)[1])]
            unit = by_key.get(key)
            if unit is None:
                unit = by_key[key] = Unit(ds.name, key)
            if pair.image_path not in unit.images:
                unit.images.append(pair.image_path)
            if pair.mask_path and pair.mask_path not in unit.masks:
                unit.masks.append(pair.mask_path)
        # A stem with several masks (x.png and x.jpg): all of them move with the image,
        # or the pair would silently change its mask.
        for key, candidates in listing.ambiguous:
            unit = by_key.get(key)
            if unit is None:
                continue
            for path in candidates:
                target = unit.images if path.startswith(img_prefix) else unit.masks
                if path not in target:
                    target.append(path)
        skipped["orphan mask"] += len(listing.orphan_masks)
        skipped["non-image file"] += listing.clutter
        skipped["undecodable name"] += len(listing.undecodable)
        skipped["unreadable path"] += len(listing.unreadable)
        units.extend(by_key[k] for k in sorted(by_key))
        if progress:
            progress("list", n, len(chosen))
    return units, {k: v for k, v in skipped.items() if v}
