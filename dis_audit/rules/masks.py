"""DA4xx: mask files are readable, single-channel, lossless and the size of their image."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_module
from ..findings import Emitter, LabelEffect, Rule, Severity
from .base import CheckFamily, Sample
from .images import extension_format_mismatch

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from ..options import ScanOptions
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")

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

CORRUPT_MASK = Rule(
    "DA406", "corrupt-mask", Severity.ERROR,
    "The mask header is readable but the full decode fails (truncated or corrupt pixel data).",
    "The loader raises mid-epoch when it reaches the sample and training stops.",
    "Re-export the mask from the annotation tool.",
    LabelEffect.POLICY,
)
EMPTY_MASK = Rule(
    "DA407", "empty-mask", Severity.WARNING,
    "The mask has no foreground: no pixel reaches 128 after conversion to L (all black, or a 0/1 label mask).",
    "The sample teaches 'there is no object here' although the image shows one; a mask saved with values 0/1 "
    "looks black and trains as empty once the loader divides by 255.",
    "Re-export the mask with 255 for the object (multiply 0/1 masks by 255), or drop the sample.",
)
FULL_MASK = Rule(
    "DA408", "full-mask", Severity.WARNING,
    "Every pixel of the mask is foreground (>= 128).",
    "Almost always an export error (inverted or unfilled mask); the sample teaches that everything is the "
    "object.",
    "Re-export the mask; invert it if object and background are swapped.",
)
SOFT_MASK = Rule(
    "DA409", "soft-mask", Severity.WARNING,
    "A soft (matting-like) mask in a dataset whose masks are otherwise binary or anti-aliased.",
    "Binary-segmentation losses and metrics assume 0/255 targets; one matting mask among binary ones is "
    "usually a mix-up of sources, and its grey band counts as error in every evaluation.",
    "Binarise it at 128 (or re-export it binary), or move it to a matting dataset.",
)
GREY_MASK = Rule(
    "DA410", "grey-mask", Severity.WARNING,
    "Most of the mask's pixels are neither 0 nor 255: it looks like a photo, depth map or trimap, not a mask.",
    "The loader trains on it as a soft target; the model learns grey where it should learn the object.",
    "Check that the right file sits in the mask folder; re-export the mask as 0/255.",
)
FG_AREA_OUTLIER = Rule(
    "DA411", "fg-area-outlier", Severity.INFO,
    "The mask's foreground area is far from the mean of its class (more than 3 standard deviations of the "
    "class's other masks).",
    "A mask that covers far more or less than the rest of its class is often the wrong file, an inverted mask, "
    "or an object labelled with another class.",
    "Open the image and the mask side by side; fix or drop the pair if the mask does not fit.",
)
MASK_EXTENSION_MISMATCH = Rule(
    "DA412", "mask-extension-mismatch", Severity.WARNING,
    "The mask file's content is another format than its extension says (a JPEG named .png, ...). "
    "Reported as DA303 extension-mismatch before; --select/--ignore DA303 still apply to it.",
    "Tools that trust the extension fail or pick the wrong decoder; a .png name on JPEG content promises a "
    "lossless mask that is not one (DA405 reports the compression).",
    "Re-save the mask as a real PNG (lossless), or rename it to its real extension.",
    aliases=("DA303",),
)
MASK_TOO_MANY_PIXELS = Rule(
    "DA413", "mask-too-many-pixels", Severity.ERROR,
    "The mask header gives more pixels than --max-pixels (default: Pillow's decompression-bomb limit); "
    "`scan --deep` does not decode it. Reported as DA305 too-many-pixels before; --select/--ignore DA305 "
    "still apply to it.",
    "Pillow refuses such files (DecompressionBombError above twice its limit) or a loader spends gigabytes "
    "of memory on one mask; a tiny file with a huge header is a decompression bomb.",
    "Re-export the mask at its image's size, delete it if it is a bomb, or raise --max-pixels if the pair is "
    "genuinely that large.",
    aliases=("DA305",),
)

#: Share of a dataset's masks that must be binary or anti-aliased for a soft one to stand out (DA409).
BINARY_DATASET_SHARE = 0.8
#: DA411: a class needs this many masks with foreground for its mean to mean anything.
OUTLIER_MIN_CLASS = 5
#: DA411: distance from the class mean, in standard deviations of the class's other masks.
OUTLIER_SIGMAS = 3.0
#: DA411: the standard deviation never counts as less than this (share of the image), so a class of
#: near-identical masks does not flag small differences.
OUTLIER_MIN_STD = 0.02


class MaskChecks(CheckFamily):
    prefix = "DA4"
    title = "masks"
    rules = (
        UNREADABLE_MASK, EMPTY_MASK_FILE, SIZE_MISMATCH, MASK_NOT_GRAYSCALE, LOSSY_MASK, CORRUPT_MASK, EMPTY_MASK,
        FULL_MASK, SOFT_MASK, GREY_MASK, FG_AREA_OUTLIER, MASK_EXTENSION_MISMATCH, MASK_TOO_MANY_PIXELS,
    )
    cross_file = ("DA409", "DA411")

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
        mismatch = extension_format_mismatch(sample.mask_ext, mask.format)
        if mismatch:
            emit.emit(MASK_EXTENSION_MISMATCH, path, mismatch, related=(sample.image_path,))
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
        if sample.deep is not None:
            self._check_decoded(sample, emit)

    def _check_decoded(self, sample: Sample, emit: Emitter) -> None:
        deep = sample.deep
        path = sample.mask_path
        if deep is None or deep.mask is None or path is None:
            return
        decoded = deep.mask
        related = (sample.image_path,)
        if decoded.refused:
            emit.emit(MASK_TOO_MANY_PIXELS, path, f"mask is {decoded.refused}", related=related)
            return
        if sample.mask is not None and sample.mask.truncated:
            return  # DA308/DA309 already say what the loader does with it
        if decoded.error:
            emit.emit(CORRUPT_MASK, path, f"decoding fails: {decoded.error}", related=related)
            return
        if deep.mask_kind == "empty":
            detail = "all pixels are 0" if not deep.mask_max else (
                f"largest value is {deep.mask_max}" + (" (a 0/1 label mask?)" if deep.mask_max == 1 else "")
            )
            emit.emit(EMPTY_MASK, path, f"mask has no foreground pixel (>= 128): {detail}", related=related)
        elif deep.mask_kind == "full":
            emit.emit(FULL_MASK, path, "every mask pixel is foreground (>= 128)", related=related)
        elif deep.mask_kind == "grey":
            emit.emit(GREY_MASK, path, "more than half of the mask's pixels are neither 0 nor 255", related=related)

    def check_manifest(self, table: pa.Table, emit: Emitter, options: ScanOptions) -> None:
        if "mask_kind" not in table.column_names or table.column("mask_kind").null_count == table.num_rows:
            return
        cols = table.select(["image_path", "mask_path", "dataset", "class_name", "mask_kind", "fg_ratio"]).to_pydict()
        self._soft_in_binary_dataset(cols, emit)
        self._area_outliers(cols, emit)

    @staticmethod
    def _soft_in_binary_dataset(cols: dict[str, list], emit: Emitter) -> None:
        hard: dict[str, int] = {}
        shaped: dict[str, int] = {}  # masks with an object that is neither empty nor full
        for ds, kind in zip(cols["dataset"], cols["mask_kind"]):
            if kind in ("binary", "antialiased", "soft", "grey"):
                shaped[ds] = shaped.get(ds, 0) + 1
                if kind in ("binary", "antialiased"):
                    hard[ds] = hard.get(ds, 0) + 1
        for image, mask, ds, kind in zip(cols["image_path"], cols["mask_path"], cols["dataset"], cols["mask_kind"]):
            if kind != "soft" or mask is None:
                continue
            n_hard, n = hard.get(ds, 0), shaped.get(ds, 0)
            if n and n_hard / n >= BINARY_DATASET_SHARE:
                emit.dataset = ds
                emit.emit(
                    SOFT_MASK, mask,
                    f"soft (matting-like) mask; {n_hard} of {n} masks in {ds} are binary or anti-aliased",
                    related=(image,),
                )

    @staticmethod
    def _area_outliers(cols: dict[str, list], emit: Emitter) -> None:
        # Leave-one-out mean and deviation per class, vectorised: a single wild mask cannot
        # inflate the deviation it is measured against, so small classes still show it.
        rows = [
            i for i, (cls, kind, fg) in enumerate(zip(cols["class_name"], cols["mask_kind"], cols["fg_ratio"]))
            if cls is not None and fg is not None and kind not in (None, "empty", "full")
        ]
        if not rows:
            return
        names = sorted({cols["class_name"][i] for i in rows})
        index = {name: k for k, name in enumerate(names)}
        cls = np.array([index[cols["class_name"][i]] for i in rows])
        x = np.array([cols["fg_ratio"][i] for i in rows], dtype=np.float64)
        count = np.bincount(cls, minlength=len(names)).astype(np.float64)
        total = np.bincount(cls, weights=x, minlength=len(names))
        squares = np.bincount(cls, weights=x * x, minlength=len(names))
        n_other = count[cls] - 1
        ok = count[cls] >= OUTLIER_MIN_CLASS
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_other = (total[cls] - x) / n_other
            var_other = np.maximum((squares[cls] - x * x) / n_other - mean_other**2, 0.0)
        std_other = np.maximum(np.sqrt(var_other), OUTLIER_MIN_STD)
        far = ok & (np.abs(x - mean_other) > OUTLIER_SIGMAS * std_other)
        for j in np.flatnonzero(far):
            i = rows[j]
            emit.dataset = cols["dataset"][i]
            emit.emit(
                FG_AREA_OUTLIER, cols["mask_path"][i] or cols["image_path"][i],
                f"foreground covers {x[j]:.1%} of the mask; the other {int(n_other[j])} "
                f"{cols['class_name'][i]} masks cover {mean_other[j]:.1%} ± {np.sqrt(var_other[j]):.1%}",
                related=(cols["image_path"][i],),
            )
