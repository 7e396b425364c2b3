"""DA2xx: images and masks find each other, and BiRefNet's loader would see them."""

from __future__ import annotations

from functools import lru_cache

from ..findings import Emitter, LabelEffect, Rule, Severity
from ..layout import DatasetListing
from .base import CheckFamily, Sample

MISSING_MASK = Rule(
    "DA201", "missing-mask", Severity.ERROR,
    "An image has no mask with the same stem.",
    "BiRefNet's loader raises ValueError when images and masks differ in number, so one missing mask "
    "stops training before it starts.",
    "Add the mask (same stem, in the mask folder) or move the image out of the dataset.",
    LabelEffect.POLICY,
)
ORPHAN_MASK = Rule(
    "DA202", "orphan-mask", Severity.WARNING,
    "A mask has no image with the same stem.",
    "Usually the trace of a renamed or deleted image; the pair is lost for training.",
    "Restore or rename the image, or delete the mask.",
)
IMAGE_EXTENSION_SKIPPED = Rule(
    "DA203", "image-extension-skipped", Severity.WARNING,
    "The image's extension is not one BiRefNet's loader lists (.png .jpg .PNG .JPG .JPEG).",
    "Files ending in .jpeg, .webp, .bmp, .tif ... are silently skipped: the data you think you train on is "
    "not used.",
    "Re-save or rename the file to .jpg/.png, or --ignore DA203 if your loader reads it.",
    LabelEffect.POLICY,
)
MASK_EXTENSION_UNSUPPORTED = Rule(
    "DA204", "mask-extension-unsupported", Severity.ERROR,
    "The mask's extension is not one BiRefNet's loader tries (.png .jpg .PNG .JPG .JPEG).",
    "The loader does not find the mask and raises ValueError for the whole dataset.",
    "Save the mask as .png (lossless).",
    LabelEffect.POLICY,
)
AMBIGUOUS_STEM = Rule(
    "DA205", "ambiguous-stem", Severity.WARNING,
    "Several images, or several masks, share one stem.",
    "Only one mask can pair with a stem; which one a loader picks depends on its extension order, so "
    "an image may train against the wrong mask.",
    "Keep one file per stem and delete or rename the others.",
)
UNREADABLE_PATH = Rule(
    "DA206", "unreadable-path", Severity.WARNING,
    "A folder could not be listed, a link is broken, or a symbolic link loops.",
    "Files behind it are missing from the scan and from training.",
    "Fix the permissions or the link.",
)
NESTED_SAMPLE = Rule(
    "DA207", "nested-sample", Severity.WARNING,
    "The image is in a sub-folder of the image folder, which the scan's loader does not list.",
    "BiRefNet lists only the top level of im/ (os.listdir), so it never trains on this file; the label is -1 "
    "under the birefnet profiles (dis-audit's Dataset, --loader dis-audit, does read it).",
    "Move the file up to the image folder, or train from the manifest with --loader dis-audit.",
    LabelEffect.POLICY,
)
FOLDER_NAME_CASE = Rule(
    "DA208", "folder-name-case", Severity.ERROR,
    "The image or mask folder's name differs in case from the one the scan's loader opens (Im for im, GT for gt).",
    "BiRefNet joins the literal names 'im'/'gt' (fork: 'jpgs'/'masks'); on a case-sensitive file system "
    "os.listdir raises FileNotFoundError for the image folder, or every mask is missing and the dataset "
    "raises ValueError: the whole run stops before training.",
    "Rename the folder to the exact name the loader opens.",
    LabelEffect.POLICY,
)


class PairingChecks(CheckFamily):
    prefix = "DA2"
    title = "pairing"
    rules = (
        MISSING_MASK, ORPHAN_MASK, IMAGE_EXTENSION_SKIPPED, MASK_EXTENSION_UNSUPPORTED,
        AMBIGUOUS_STEM, UNREADABLE_PATH, NESTED_SAMPLE, FOLDER_NAME_CASE,
    )

    def check_dataset(self, listing: DatasetListing, emit: Emitter) -> None:
        for path in listing.orphan_masks:
            emit.emit(ORPHAN_MASK, path, "mask has no image with the same stem")
        for key, paths in listing.ambiguous:
            emit.emit(
                AMBIGUOUS_STEM, paths[0],
                f"{len(paths)} files share the stem {key.rsplit('/', 1)[-1]!r}: " + ", ".join(p.rsplit('/', 1)[-1] for p in paths),
                related=paths[1:],
            )
        for path, reason in listing.unreadable:
            emit.emit(UNREADABLE_PATH, path, reason)

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        loader = sample.loader
        self._check_folders(sample, emit)
        if not loader.lists_image(sample.image_path.rsplit("/", 1)[-1]):
            emit.emit(
                IMAGE_EXTENSION_SKIPPED, sample.image_path,
                f"the {loader.name} loader skips '{sample.image_ext}' images silently",
            )
        if sample.mask_path is None:
            where = "" if sample.has_mask_dir else " (this dataset has no mask folder)"
            effect = (
                ": BiRefNet raises ValueError when the dataset is built, the whole run stops"
                if loader.missing_mask_fails_run else ""
            )
            emit.emit(MISSING_MASK, sample.image_path, "no mask with this stem" + where + effect)
        elif not loader.tries_mask(sample.mask_ext):
            emit.emit(
                MASK_EXTENSION_UNSUPPORTED, sample.mask_path,
                f"the {loader.name} loader does not look for '{sample.mask_ext}' masks: it raises ValueError "
                "when the dataset is built, the whole run stops",
                related=(sample.image_path,),
            )
        if sample.nested and not loader.lists_subfolders:
            emit.emit(
                NESTED_SAMPLE, sample.image_path,
                f"image is below a sub-folder; the {loader.name} loader lists only the top level and never sees it",
            )

    def _check_folders(self, sample: Sample, emit: Emitter) -> None:
        loader = sample.loader
        if not loader.image_dir or not loader.mask_dir:
            return
        # Depends on the dataset's folders alone: worked out once per dataset, not once per sample.
        what = _folder_case_problem(loader.name, loader.image_dir, loader.mask_dir, sample.image_dir, sample.mask_dir)
        if what is not None:
            emit.emit(FOLDER_NAME_CASE, sample.image_path, what)


@lru_cache(maxsize=256)
def _folder_case_problem(
    loader_name: str, loader_image_dir: str, loader_mask_dir: str, image_dir: str, mask_dir: str | None,
) -> str | None:
    """The DA208 message for a dataset whose folders are the loader's in another case; None when they are fine."""
    image_name = image_dir.rsplit("/", 1)[-1]
    mask_name = (mask_dir or "").rsplit("/", 1)[-1]
    # Only the loader's own layout in another case: other names mean the user already edited
    # the folder names in the loader's code (BiRefNet's comment says to).
    if image_name.casefold() != loader_image_dir.casefold() or (
        mask_name and mask_name.casefold() != loader_mask_dir.casefold()
    ):
        return None
    if image_name != loader_image_dir:
        what = f"folder '{image_name}' is not '{loader_image_dir}': the {loader_name} loader raises FileNotFoundError listing '{loader_image_dir}'"
    elif mask_name and mask_name != loader_mask_dir:
        what = f"folder '{mask_name}' is not '{loader_mask_dir}': the {loader_name} loader finds no mask and raises ValueError"
    else:
        return None
    return what + "; the whole run stops before training"
