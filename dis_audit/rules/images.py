"""DA3xx: image files are readable and what their names say."""

from __future__ import annotations

from ..findings import Emitter, LabelEffect, Rule, Severity
from .base import CheckFamily, Sample

UNREADABLE_IMAGE = Rule(
    "DA301", "unreadable-image", Severity.ERROR,
    "The image header cannot be read (corrupt, truncated, or not an image).",
    "The loader crashes on it mid-epoch, or skips it and shifts every index after it.",
    "Re-export the image from its source, or delete the pair.",
    LabelEffect.POLICY,
)
EMPTY_IMAGE = Rule(
    "DA302", "empty-image", Severity.ERROR,
    "The image file is empty (0 bytes).",
    "Usually an interrupted copy or download; the loader crashes on it.",
    "Copy the file again from its source.",
    LabelEffect.POLICY,
)
EXTENSION_MISMATCH = Rule(
    "DA303", "extension-mismatch", Severity.WARNING,
    "The file's content is another format than its extension says (a PNG named .jpg, ...).",
    "Tools that trust the extension (format filters, codecs, some GPU decoders) fail or pick the wrong path.",
    "Rename the file to its real extension, or re-save it in the format the name says.",
)
UNUSUAL_IMAGE_MODE = Rule(
    "DA304", "unusual-image-mode", Severity.INFO,
    "The image is not plain RGB or greyscale (CMYK, alpha, palette, 16-bit ...).",
    "Loaders convert it to RGB silently: alpha is dropped, palettes and CMYK change colours, 16-bit is cut "
    "to 8.",
    "Convert it to 8-bit RGB yourself so you see the result, or accept the loader's conversion.",
)

_EXTENSION_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF",
    ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
}


def extension_format_mismatch(path: str, ext: str, fmt: str | None) -> str | None:
    """A message when ``fmt`` (from the content) is not what ``ext`` promises; shared with the mask checks."""
    expected = _EXTENSION_FORMATS.get(ext.lower())
    if expected and fmt and fmt != expected:
        return f"extension '{ext}' but the content is {fmt}"
    return None


class ImageChecks(CheckFamily):
    prefix = "DA3"
    title = "images"
    rules = (UNREADABLE_IMAGE, EMPTY_IMAGE, EXTENSION_MISMATCH, UNUSUAL_IMAGE_MODE)

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        info = sample.image
        if info.size == 0:
            emit.emit(EMPTY_IMAGE, sample.image_path, "image file is empty (0 bytes)")
            return
        if info.error:
            emit.emit(UNREADABLE_IMAGE, sample.image_path, info.error)
            return
        mismatch = extension_format_mismatch(sample.image_path, sample.image_ext, info.format)
        if mismatch:
            emit.emit(EXTENSION_MISMATCH, sample.image_path, mismatch)
        if info.mode not in ("RGB", "L"):
            emit.emit(UNUSUAL_IMAGE_MODE, sample.image_path, f"image mode {info.mode}; loaders convert it to RGB")
