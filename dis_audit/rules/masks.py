"""DA4xx: mask files are readable, single-channel, lossless and the size of their image."""

from __future__ import annotations

from ..findings import Emitter, LabelEffect, Rule, Severity
from .base import CheckFamily, Sample
from .images import EXTENSION_MISMATCH, extension_format_mismatch

UNREADABLE_MASK = Rule(
    "DA401", "unreadable-mask", Severity.ERROR,
    "The mask header cannot be read (corrupt, truncated, or not an image).",
    "The loader crashes on it mid-epoch.",
    "Re-export the mask from the annotation tool.",
    LabelEffect.POLICY,
)
EMPTY_MASK_FILE = Rule(
    "DA402", "empty-mask-file", Severity.ERROR,
    "The mask file is empty (0 bytes).",
    "Usually an interrupted copy; the loader crashes on it.",
    "Copy the mask again from its source.",
    LabelEffect.POLICY,
)
SIZE_MISMATCH = Rule(
    "DA403", "size-mismatch", Severity.ERROR,
    "The mask's width and height differ from its image's.",
    "Loaders resize image and mask independently, so the mask no longer lies on the object: the model "
    "learns shifted or stretched edges and nothing reports it.",
    "Re-export the mask at the image's size (or rotate it, if the sizes are swapped by EXIF orientation).",
)
MASK_NOT_GRAYSCALE = Rule(
    "DA404", "mask-not-grayscale", Severity.WARNING,
    "The mask is not a single-channel (L or 1) image.",
    "Loaders convert it to greyscale with weights (0.299 R + 0.587 G + 0.114 B), so a coloured or "
    "alpha-only mask turns into unexpected grey levels.",
    "Save the mask as an 8-bit greyscale PNG with 0 for background and 255 for the object.",
)
LOSSY_MASK = Rule(
    "DA405", "lossy-mask", Severity.WARNING,
    "The mask is stored as JPEG.",
    "JPEG compression adds grey noise around every edge of a binary mask, exactly where fine structures are.",
    "Store masks as PNG.",
)


class MaskChecks(CheckFamily):
    prefix = "DA4"
    title = "masks"
    rules = (UNREADABLE_MASK, EMPTY_MASK_FILE, SIZE_MISMATCH, MASK_NOT_GRAYSCALE, LOSSY_MASK)

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        mask = sample.mask
        if mask is None or sample.mask_path is None:
            return
        path = sample.mask_path
        if mask.size == 0:
            emit.emit(EMPTY_MASK_FILE, path, "mask file is empty (0 bytes)", related=(sample.image_path,))
            return
        if mask.error:
            emit.emit(UNREADABLE_MASK, path, mask.error, related=(sample.image_path,))
            return
        mismatch = extension_format_mismatch(path, sample.mask_ext, mask.format)
        if mismatch:
            emit.emit(EXTENSION_MISMATCH, path, mismatch, related=(sample.image_path,))
        if mask.format == "JPEG":
            emit.emit(LOSSY_MASK, path, "mask is a JPEG; edges carry compression noise", related=(sample.image_path,))
        if mask.mode not in ("L", "1"):
            emit.emit(MASK_NOT_GRAYSCALE, path, f"mask mode {mask.mode}, expected L or 1", related=(sample.image_path,))
        image = sample.image
        if image.error is None and image.width and (image.width, image.height) != (mask.width, mask.height):
            swapped = (image.width, image.height) == (mask.height, mask.width)
            emit.emit(
                SIZE_MISMATCH, path,
                f"mask is {mask.width}x{mask.height}, image is {image.width}x{image.height}"
                + (" (swapped: EXIF rotation?)" if swapped else ""),
                related=(sample.image_path,),
            )
