"""DA3xx: image files are readable and what their names say."""

from __future__ import annotations

from ..findings import Emitter, LabelEffect, Rule, Severity
from ..probe import JPEG_CUT_BEFORE_SCAN
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
    "The image file's content is another format than its extension says (a PNG named .jpg, ...). "
    "Masks have their own rule, DA412, which --select/--ignore DA303 also match.",
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
TOO_MANY_PIXELS = Rule(
    "DA305", "too-many-pixels", Severity.ERROR,
    "The image header gives more pixels than --max-pixels (default: Pillow's decompression-bomb limit); "
    "`scan --deep` does not decode it. Masks have their own rule, DA413, which --select/--ignore DA305 also "
    "match.",
    "Pillow refuses such files (DecompressionBombError above twice its limit) or a loader spends gigabytes "
    "of memory on one sample; a tiny file with a huge header is a decompression bomb.",
    "Downscale the file, delete it if it is a bomb, or raise --max-pixels if it is a genuine large image.",
)
CORRUPT_IMAGE = Rule(
    "DA306", "corrupt-image", Severity.ERROR,
    "The image header is readable but the full decode fails (truncated or corrupt pixel data).",
    "The header check passes, then the loader raises ('image file is truncated', 'broken data stream') "
    "mid-epoch and stops training.",
    "Re-export or re-download the image; delete the pair if the original is lost.",
    LabelEffect.POLICY,
)
EXIF_ORIENTATION_MISMATCH = Rule(
    "DA307", "exif-orientation-mismatch", Severity.WARNING,
    "The image's EXIF orientation differs from its mask's (usually: the image has one, the mask none).",
    "Loaders disagree on EXIF: OpenCV's imread and ImageOps.exif_transpose rotate the image, Pillow's "
    "Image.open does not, and the mask carries no tag, so in one of the two worlds the mask lies rotated or "
    "mirrored against its image.",
    "Apply the rotation to the pixels and drop the tag (e.g. ImageOps.exif_transpose, then save), or give the "
    "mask the same orientation.",
)

TRUNCATED_FILE = Rule(
    "DA308", "truncated-file", Severity.ERROR,
    "The image or mask file is cut short (a PNG without its IEND chunk, or a JPEG without its end-of-image "
    "marker) and the scan's loader cannot decode it.",
    "BiRefNet's cv2.imread returns None for a truncated PNG and the next cv2.resize raises: training crashes "
    "when it reaches the sample. Pillow (dis-audit's Dataset) raises 'image file is truncated' for both formats.",
    "Copy or export the file again from its source; delete the pair if the original is lost.",
    LabelEffect.POLICY,
)
TRUNCATED_JPEG_DECODED = Rule(
    "DA309", "truncated-jpeg-decoded", Severity.WARNING,
    "A JPEG image or mask is cut short in its scan data; the scan's loader (OpenCV) decodes it anyway.",
    "OpenCV's libjpeg warns 'Premature end of JPEG file' and returns the image with the missing part filled "
    "grey: BiRefNet trains on it (the label is kept), and the grey part teaches the model wrong pixels.",
    "Copy or export the file again from its source, or delete the pair.",
)

OVER_DECODER_LIMIT = Rule(
    "DA310", "over-decoder-limit", Severity.ERROR,
    "The image or mask header gives more pixels than the scan's loader's decoder accepts (OpenCV: 2**30, "
    "CV_IO_MAX_IMAGE_PIXELS; Pillow: twice Image.MAX_IMAGE_PIXELS).",
    "cv2.imread raises 'pixels <= CV_IO_MAX_IMAGE_PIXELS' (Pillow: DecompressionBombError) when the loader "
    "reaches the sample: BiRefNet's training crashes there. Seen from the header, nothing is decoded.",
    "Downscale the file, or delete it if it is a decompression bomb.",
    LabelEffect.POLICY,
)

_ORIENTATIONS = {
    2: "mirrored left-right", 3: "rotated 180°", 4: "mirrored top-bottom", 5: "transposed",
    6: "rotated 90° clockwise", 7: "transversed", 8: "rotated 90° counter-clockwise",
}


def orientation_name(value: int) -> str:
    """A reader's description of an EXIF orientation value."""
    return _ORIENTATIONS.get(value, "none" if value == 1 else f"unknown value {value}")


def loader_conversion(mode: str) -> str:
    """What a loader's ``Image.open(p).convert("RGB")`` (or OpenCV's imread) does to ``mode``."""
    if mode == "CMYK":
        return "convert('RGB') inverts CMYK with a plain formula and ignores the colour profile: colours shift"
    if mode in ("P", "PA"):
        return "convert('RGB') looks every index up in the palette; any transparency is dropped"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        return ("convert('RGB') drops the alpha channel: transparent areas show whatever colour is stored under "
                "them (often black)")
    if mode.endswith(";16"):
        return ("16 bits per channel: Pillow opens it as 8-bit (keeps the high byte), OpenCV's imread divides by "
                "256; the fine gradations are lost")
    if mode.startswith("I;16") or mode == "I":
        return "16/32-bit grey: Pillow's convert('RGB') clips every value above 255 to white; OpenCV divides by 256"
    if mode == "F":
        return "32-bit float: convert('RGB') clips values to 0..255"
    if mode == "1":
        return "1-bit: convert('RGB') expands it to pure black and white"
    return f"convert('RGB') converts it from mode {mode}"

_EXTENSION_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF",
    ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
}


def extension_format_mismatch(ext: str, fmt: str | None) -> str | None:
    """A message when ``fmt`` (from the content) is not what ``ext`` promises; shared with the mask checks (DA412)."""
    expected = _EXTENSION_FORMATS.get(ext.lower())
    if expected and fmt and fmt != expected:
        return f"extension '{ext}' but the content is {fmt}"
    return None


class ImageChecks(CheckFamily):
    prefix = "DA3"
    title = "images"
    rules = (
        UNREADABLE_IMAGE, EMPTY_IMAGE, EXTENSION_MISMATCH, UNUSUAL_IMAGE_MODE, TOO_MANY_PIXELS, CORRUPT_IMAGE,
        EXIF_ORIENTATION_MISMATCH, TRUNCATED_FILE, TRUNCATED_JPEG_DECODED, OVER_DECODER_LIMIT,
    )

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        info = sample.image
        if info.size == 0:
            emit.emit(EMPTY_IMAGE, sample.image_path, "image file is empty (0 bytes)")
            return
        if info.error:
            emit.emit(UNREADABLE_IMAGE, sample.image_path, info.error)
            return
        mismatch = extension_format_mismatch(sample.image_ext, info.format)
        if mismatch:
            emit.emit(EXTENSION_MISMATCH, sample.image_path, mismatch)
        self._check_truncated(sample, emit)
        deep = sample.deep.image if sample.deep is not None else None
        # A full decode knows the bit depth the header parser does not report ("RGB;16").
        mode = deep.mode if deep is not None and deep.mode else info.mode
        if mode is not None and mode not in ("RGB", "L"):
            emit.emit(UNUSUAL_IMAGE_MODE, sample.image_path, f"image mode {mode}: {loader_conversion(mode)}")
        if deep is not None:
            self._check_decoded(sample, deep, emit)

    def _check_truncated(self, sample: Sample, emit: Emitter) -> None:
        """DA308/DA309 for the image and its mask, from the tail the probe read."""
        loader = sample.loader
        image, mask, limit = sample.image, sample.mask, loader.max_pixels
        # Nearly every sample: neither file is cut short or over the limit, so the loop below has
        # nothing to say (checked once here instead of per file).
        if not image.truncated and (image.width or 0) * (image.height or 0) <= limit and (
            mask is None or (not mask.truncated and (mask.width or 0) * (mask.height or 0) <= limit)
        ):
            return
        for path, info, what in (
            (sample.image_path, sample.image, "image"), (sample.mask_path, sample.mask, "mask"),
        ):
            if path is None or info is None or info.error:
                continue
            related = () if what == "image" else (sample.image_path,)
            pixels = (info.width or 0) * (info.height or 0)
            if pixels > loader.max_pixels:
                emit.emit(
                    OVER_DECODER_LIMIT, path,
                    f"{what} is {info.width}x{info.height} = {pixels:,} pixels, over the {loader.name} loader's "
                    f"decoder limit of {loader.max_pixels:,}: "
                    + ("cv2.imread raises, training crashes" if loader.decoder == "cv2"
                       else "Pillow raises DecompressionBombError"),
                    related=related,
                )
            if not info.truncated:
                continue
            if info.format == "JPEG" and loader.truncated_jpeg_trains and info.truncated != JPEG_CUT_BEFORE_SCAN:
                emit.emit(
                    TRUNCATED_JPEG_DECODED, path,
                    f"{what}: {info.truncated}; OpenCV decodes it with a warning and the {loader.name} loader "
                    "trains on it, the missing part grey",
                    related=related,
                )
            else:
                emit.emit(TRUNCATED_FILE, path, f"{what}: {info.truncated}; {loader.describe_crash()}", related=related)

    def _check_decoded(self, sample: Sample, deep, emit: Emitter) -> None:
        if deep.refused:
            emit.emit(TOO_MANY_PIXELS, sample.image_path, f"image is {deep.refused}")
            return
        if sample.image.truncated:
            return  # DA308/DA309 already say what the loader does with it
        if deep.error:
            emit.emit(CORRUPT_IMAGE, sample.image_path, f"decoding fails: {deep.error}")
            return
        mask = sample.deep.mask if sample.deep is not None else None
        if mask is None or not mask.ok or sample.mask_path is None:
            return
        if deep.orientation != mask.orientation:
            emit.emit(
                EXIF_ORIENTATION_MISMATCH, sample.image_path,
                f"image has EXIF orientation {deep.orientation} ({orientation_name(deep.orientation)}), its mask "
                + ("none" if mask.orientation == 1 else f"{mask.orientation} ({orientation_name(mask.orientation)})")
                + ": loaders that apply EXIF turn one and not the other",
                related=(sample.mask_path,),
            )
