"""Small JPEG previews of a sample for the HTML report: the image beside the image with its mask overlaid.

A preview must never stop the report: a missing, truncated, oversized or exotic file turns
into a grey placeholder panel plus a note saying why, and the report goes on. Pixels are
shown as a loader sees them (no EXIF rotation), so a mask that does not line up with its
image in training does not line up in the preview either.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

#: Default longest side of one preview panel, in pixels.
THUMB_SIZE = 128
#: Gap between the two panels of a preview.
_GAP = 4
#: Below this many previews a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 24
#: JPEG quality of previews: small files matter more than fidelity at 128 px.
JPEG_QUALITY = 72
#: Colour and opacity of the mask tint: a magenta that rarely occurs in photographs.
_TINT = np.array([255.0, 0.0, 150.0], dtype=np.float32)
_ALPHA = 0.55
_EDGE = np.array([255.0, 221.0, 0.0], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class ThumbJob:
    """One preview to make: file-system paths (``None`` when the sample has no such file)."""

    image: str | None
    mask: str | None
    size: int = THUMB_SIZE
    #: Files with more pixels than this are not decoded (decompression-bomb guard).
    max_pixels: int = 89_478_485
    #: Add a third panel: the mask moved to where it fits the image's edges best (DA608).
    best_fit: bool = False


@dataclass(frozen=True, slots=True)
class Thumb:
    """A finished preview: JPEG bytes (``None`` when neither file could be shown) and notes on what went wrong."""

    jpeg: bytes | None
    width: int
    height: int
    notes: tuple[str, ...] = ()


def _open_small(path: str, mode: str, box: int, max_pixels: int) -> tuple[PILImage | None, str | None, tuple[int, int] | None]:
    """Decode ``path`` reduced to fit ``box``; return (image or None, note or None, original size or None)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # The pixel limit below is ours; Pillow's own warning would only add noise on stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                size = im.size
                if size[0] * size[1] > max_pixels:
                    return None, f"{size[0]}×{size[1]} is over the {max_pixels:,} pixel limit, not decoded", size
                # JPEG decoders can scale by 1/2..1/8 while decoding: a 4k photo then costs
                # little more than its thumbnail. Ask for the final size (aspect kept), since
                # draft only scales down while both sides stay at least that big.
                scale = min(box / max(size[0], 1), box / max(size[1], 1), 1.0)
                im.draft("RGB" if mode == "RGB" else "L", (max(1, int(size[0] * scale)), max(1, int(size[1] * scale))))
                im.load()
                out = im.convert(mode)
            out.thumbnail((box, box), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return out, None, size
    except FileNotFoundError:
        return None, "file not found", None
    except Exception as exc:
        # Pillow quotes the full path in some messages; the page already names the file.
        reason = str(exc).replace(repr(path), "").replace(path, "").strip(" :") or type(exc).__name__
        return None, f"cannot decode: {reason[:160]}", None


def _placeholder(width: int, height: int) -> PILImage:
    """A light grey panel with a cross: 'nothing to show here'."""
    from PIL import Image, ImageDraw

    panel = Image.new("RGB", (width, height), (232, 232, 232))
    draw = ImageDraw.Draw(panel)
    draw.line([(0, 0), (width - 1, height - 1)], fill=(175, 175, 175), width=2)
    draw.line([(0, height - 1), (width - 1, 0)], fill=(175, 175, 175), width=2)
    return panel


def _overlay(image: PILImage, mask: PILImage) -> PILImage:
    """Tint ``image`` where ``mask`` is foreground; grey (soft) mask values tint partly, as a loader would weigh them."""
    from PIL import Image

    rgb = np.asarray(image, dtype=np.float32)
    values = np.asarray(mask, dtype=np.float32)
    alpha = values[..., None] * (_ALPHA / 255.0)
    mixed = rgb * (1.0 - alpha) + _TINT * alpha
    # A yellow outline keeps the object visible where the photo itself is magenta or red.
    inside = values > 127
    core = inside.copy()
    core[1:, :] &= inside[:-1, :]
    core[:-1, :] &= inside[1:, :]
    core[:, 1:] &= inside[:, :-1]
    core[:, :-1] &= inside[:, 1:]
    mixed[inside & ~core] = _EDGE
    return Image.fromarray(np.clip(mixed + 0.5, 0, 255).astype(np.uint8), "RGB")


def make_thumb(job: ThumbJob) -> Thumb:
    """Make one two-panel preview: [image | image with mask tint]. Never raises for bad files."""
    from PIL import Image

    notes: list[str] = []
    box = max(16, int(job.size))
    image: PILImage | None = None
    mask: PILImage | None = None
    image_size = mask_size = None
    if job.image is not None:
        image, note, image_size = _open_small(job.image, "RGB", box, job.max_pixels)
        if note:
            notes.append(f"image: {note}")
    else:
        notes.append("image: none")
    if job.mask is not None:
        mask, note, mask_size = _open_small(job.mask, "L", box, job.max_pixels)
        if note:
            notes.append(f"mask: {note}")
    else:
        notes.append("mask: none")
    if image is None and mask is None:
        return Thumb(None, 0, 0, tuple(notes))

    if image is not None:
        width, height = image.size
        left = image
        if mask is not None:
            if image_size and mask_size and image_size != mask_size:
                notes.append(
                    f"mask {mask_size[0]}×{mask_size[1]} ≠ image {image_size[0]}×{image_size[1]}; "
                    "stretched onto the image as a resizing loader would"
                )
            right = _overlay(image, mask.resize((width, height), Image.Resampling.BILINEAR))
        else:
            right = _placeholder(width, height)
    else:
        # No image to tint: show the mask itself, so an orphan or unreadable-image sample still shows something.
        assert mask is not None  # both None returned above
        width, height = mask.size
        left = _placeholder(width, height)
        right = mask.convert("RGB")

    panels = [left, right]
    if job.best_fit and image is not None and mask is not None and job.image and job.mask:
        moved, note = _best_fit_mask(job, mask.resize((width, height), Image.Resampling.BILINEAR))
        notes.append(note)
        if moved is not None:
            panels.append(_overlay(image, moved))
    sheet = Image.new("RGB", (len(panels) * width + (len(panels) - 1) * _GAP, height), (255, 255, 255))
    for k, panel in enumerate(panels):
        sheet.paste(panel, (k * (width + _GAP), 0))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return Thumb(buf.getvalue(), sheet.width, sheet.height, tuple(notes))


def _best_fit_mask(job: ThumbJob, small_mask: PILImage) -> tuple[PILImage | None, str]:
    """``small_mask`` moved (mirrored, shifted) to the placement where the full-size mask fits best, with a note."""
    from PIL import Image, ImageChops

    from ..quality import grey_of, mask_fit

    try:
        with Image.open(job.image or "") as im, Image.open(job.mask or "") as mk:
            if im.width * im.height > job.max_pixels or mk.width * mk.height > job.max_pixels:
                return None, "best fit: too many pixels to measure"
            im.load()
            mk.load()
            # As the scan measures it: an RGB picture is reduced first and converted to grey after.
            fit = mask_fit(im if im.mode == "RGB" else grey_of(im), mk.convert("L"))
    except Exception as exc:  # a preview never stops the report
        return None, f"best fit: cannot measure ({type(exc).__name__})"
    if fit is None:
        return None, "best fit: cannot be judged on this pair"
    moved = small_mask
    if fit.flip == "h":
        moved = moved.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif fit.flip == "v":
        moved = moved.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    dx, dy = round(fit.dx * moved.width), round(fit.dy * moved.height)
    # ImageChops.offset wraps around; the wrapped band is cleared so nothing appears from the far side.
    shifted = ImageChops.offset(moved, dx, dy)
    arr = np.asarray(shifted).copy()
    if dx > 0:
        arr[:, :dx] = 0
    elif dx < 0:
        arr[:, dx:] = 0
    if dy > 0:
        arr[:dy, :] = 0
    elif dy < 0:
        arr[dy:, :] = 0
    from ..rules.quality import describe_placement

    return Image.fromarray(arr), f"third panel: the mask {describe_placement(fit)}, where it fits best"


def make_thumbs(jobs: Sequence[ThumbJob], workers: int | None = None) -> list[Thumb]:
    """Make every preview, in a process pool when there are enough of them; results keep the jobs' order."""
    if not jobs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) // (PARALLEL_THRESHOLD // 2) or 1))
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        return [make_thumb(job) for job in jobs]
    # fork starts workers in milliseconds (PIL and numpy are already imported); spawn where fork is missing.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            return list(pool.map(make_thumb, jobs, chunksize=max(1, len(jobs) // (workers * 4))))
    except (OSError, BrokenProcessPool):
        # Sandboxes without process or semaphore support: slower, but the report still comes out.
        return [make_thumb(job) for job in jobs]
