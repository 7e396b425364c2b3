"""Deep decode of one image/mask pair: full decode, byte hash, perceptual hash, mask statistics.

Runs inside the scan's worker processes (``scan --deep``), one pair at a time. Never raises
for anything a file contains: a refused or failed decode is recorded in the result and turned
into a finding by the rules (DA305, DA306, DA406, ...).

Definitions the rules and docs/deep.md rely on:

* **Foreground**: a mask pixel whose value, after Pillow's ``convert("L")``, is >= 128
  (0.5 after the loaders' division by 255). ``fg_ratio`` = foreground pixels / all pixels.
* **mask_kind** (first match wins):

  - ``empty``: no foreground pixel at all (also a 0/1 label mask, whose largest value is 1);
  - ``full``: every pixel is foreground;
  - ``binary``: every pixel is exactly 0 or 255;
  - ``antialiased``: the pixels other than 0/255 number at most ``ANTIALIAS_PER_EDGE`` per
    outline edge (a thin band along the object's outline, as an anti-aliased renderer leaves);
  - ``grey``: more than ``GREY_SHARE`` of all pixels are neither 0 nor 255 (not a mask at
    all: a photo, a depth map, a trimap);
  - ``soft``: anything in between (matting-like alpha over hair, fur, glass).

* **phash**: a 64-bit DCT hash: the grey picture is box-filtered to 32x32, the 8x8 lowest
  frequencies of its 2-D DCT-II are compared with their median (DC left out of the median),
  bit ``63 - k`` set when coefficient ``k`` (row-major) is above it. None for a near-flat
  picture (32x32 thumbnail's standard deviation under ``quality.FLAT_HASH_STD``), whose bits
  are noise that matches every other near-flat picture's.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from . import pixels
from .pixels import array_of
from .probe import open_regular

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from .probe import FileInfo
    from .quality import ImageQuality, MaskFit

#: Intermediate (not 0/255) mask pixels allowed per outline edge for "antialiased".
ANTIALIAS_PER_EDGE = 3.0
#: Share of intermediate pixels above which a mask is "grey" rather than "soft".
GREY_SHARE = 0.5
#: Mask value at and above which a pixel is foreground.
FG_THRESHOLD = 128
MASK_KINDS: tuple[str, ...] = ("binary", "antialiased", "soft", "grey", "empty", "full")
EXIF_ORIENTATION_TAG = 0x0112
HASH_SIDE = 32


def default_max_pixels() -> int:
    """Pillow's decompression-bomb threshold (``Image.MAX_IMAGE_PIXELS``) at import time."""
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


@dataclass(frozen=True, slots=True)
class Decoded:
    """What decoding one file found. ``error``/``refused`` are set when no pixels were produced."""

    mode: str | None = None  # Pillow's mode, refined with the bit depth Pillow hides ("RGB;16")
    orientation: int = 1  # EXIF orientation tag, 1 when absent
    sha1: str | None = None
    error: str | None = None  # the decoder's message
    refused: str | None = None  # why decoding was not attempted (too many pixels)

    @property
    def ok(self) -> bool:
        return self.error is None and self.refused is None


@dataclass(frozen=True, slots=True)
class DeepInfo:
    """The deep facts of one pair, as the rules and the manifest columns need them."""

    image: Decoded | None
    mask: Decoded | None
    phash: int | None = None
    fg_ratio: float | None = None
    mask_kind: str | None = None
    mask_max: int | None = None  # largest mask value after conversion to L
    #: Image-quality measures and mask–image agreement (``dis_audit.quality``), for the DA6xx rules.
    quality: ImageQuality | None = None
    fit: MaskFit | None = None


# ----------------------------------------------------------------------------- hashing

@lru_cache(maxsize=1)
def _dct_rows() -> np.ndarray:
    """The first 8 rows of the orthonormal 32-point DCT-II matrix."""
    n = HASH_SIDE
    k = np.arange(8, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    mat = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    mat[0] /= np.sqrt(2.0)
    return mat


_BIT_WEIGHTS = np.array([1 << (63 - k) for k in range(64)], dtype=np.uint64)


def phash_array(grey: np.ndarray) -> int:
    """The 64-bit DCT hash of a 32x32 grey array (see the module docstring)."""
    d = _dct_rows()
    coeffs = (d @ grey.astype(np.float64) @ d.T).ravel()
    # The median of the 63 coefficients without DC: the middle one (np.median's value, without its overhead).
    median = np.partition(coeffs[1:], 31)[31]
    bits = coeffs > median
    return int(_BIT_WEIGHTS[bits].sum(dtype=np.uint64))


def phash_image(im: PILImage.Image) -> int:
    """The 64-bit perceptual hash of a decoded Pillow image, whatever its mode."""
    return phash_array(hash_thumbnail(im))


def hash_thumbnail(im: PILImage.Image) -> np.ndarray:
    """The 32x32 grey (float64) picture the perceptual hash is taken from."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Scale high-bit-depth pixels to 0..255 by their own range, so the hash sees the picture
        # rather than Pillow's clipping.
        arr = np.asarray(im, dtype=np.float64)
        top = float(arr.max()) or 1.0
        im = Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8))
    elif im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    # Box filter to 32x32; reducing_gap=2 lets Pillow shrink by an integer factor first (still a box
    # average overall), which halves the cost on a 1024x768 image.
    small = im.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX, reducing_gap=2.0)
    if small.mode != "L":
        small = small.convert("L")
    return np.asarray(small, dtype=np.float64)


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes."""
    return (int(a) ^ int(b)).bit_count()


# ----------------------------------------------------------------------------- masks

def mask_stats(grey: np.ndarray) -> tuple[float, str, int]:
    """(fg_ratio, mask_kind, largest value) of an 8-bit mask array (see the module docstring).

    The counts come from one pass in C where ``dis_audit._fastpixels`` is built (``pixels.mask_counts``), from
    numpy otherwise; they are the same integers.
    """
    n = grey.size
    if n == 0:
        return 0.0, "empty", 0
    edges: int | None = None
    if pixels.mask_counts is not None and grey.ndim == 2 and grey.dtype == np.uint8:
        n0, n255, nfg, top, edges = pixels.mask_counts(np.ascontiguousarray(grey), grey.shape[1])
    else:
        n0 = int(np.count_nonzero(grey == 0))
        n255 = int(np.count_nonzero(grey == 255))
        nfg = int(np.count_nonzero(grey >= FG_THRESHOLD))
        top = 255 if n255 else int(grey.max())
    other = n - n0 - n255
    if nfg == 0:
        kind = "empty"
    elif nfg == n:
        kind = "full"
    elif other == 0:
        kind = "binary"
    elif other > GREY_SHARE * n:
        kind = "grey"
    else:
        if edges is None:
            # Outline length: 4-neighbour pairs whose foreground state differs.
            fg = grey >= FG_THRESHOLD
            edges = int(np.count_nonzero(fg[:, 1:] != fg[:, :-1])) + int(np.count_nonzero(fg[1:, :] != fg[:-1, :]))
        kind = "antialiased" if other <= ANTIALIAS_PER_EDGE * max(edges, 1) else "soft"
    return nfg / n, kind, top


# ----------------------------------------------------------------------------- decoding

def png_crc_error(data: bytes) -> str | None:
    """The first PNG chunk whose CRC is wrong, in words, or None (also for data that is not a PNG).

    Pillow skips the CRC of IDAT chunks; libpng-based loaders (OpenCV, BiRefNet's cv2.imread)
    refuse the file, so a deep scan checks every chunk itself (crc32 runs at GB/s).
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    import zlib

    pos, size = 8, len(data)
    view = memoryview(data)  # no copy of each chunk for the crc
    while pos + 12 <= size:
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 8 + length
        if end + 4 > size:
            return None  # truncated: the decoder reports it in its own words
        kind = data[pos + 4 : pos + 8]
        if zlib.crc32(view[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
            name = kind.decode("latin-1", "replace")
            return f"corrupt PNG: CRC error in the {name} chunk at byte {pos} (libpng-based loaders refuse the file)"
        if kind == b"IEND":
            return None
        pos = end + 4
    return None


def _png_mode(data: bytes, mode: str) -> str:
    """Pillow opens 16-bit-per-channel colour PNGs as 8-bit modes; the IHDR tells the truth."""
    if len(data) >= 26 and data[12:16] == b"IHDR" and data[24] == 16 and mode in ("RGB", "RGBA", "LA"):
        return f"{mode};16"
    return mode


def _orientation(im: PILImage.Image) -> int:
    try:
        value = im.getexif().get(EXIF_ORIENTATION_TAG, 1)
        return int(value) if value else 1
    except Exception:  # a corrupt EXIF block must not stop the pixel checks
        return 1


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_file(
    path: str, header: FileInfo | None, max_pixels: int, *, want_sha1: bool
) -> tuple[Decoded, PILImage.Image | None]:
    """Decode ``path`` in full; return what was found and the loaded image (None on failure).

    A file whose header gives more than ``max_pixels`` pixels is refused before any pixel
    data is read, so a decompression bomb costs nothing.
    """
    from PIL import Image, ImageFile

    if header is not None and header.width and header.height and header.width * header.height > max_pixels:
        return Decoded(
            mode=header.mode,
            refused=f"{header.width}x{header.height} = {header.width * header.height:,} pixels, over the "
            f"limit of {max_pixels:,} (--max-pixels); not decoded",
        ), None
    try:
        with open(open_regular(path), "rb") as fh:  # a FIFO is refused, never waited on
            data = fh.read()
    except OSError as exc:
        return Decoded(error=f"cannot read: {exc.strerror or exc}"), None
    digest = hashlib.sha1(data).hexdigest() if want_sha1 else None
    crc_error = png_crc_error(data)
    if crc_error:
        return Decoded(sha1=digest, error=crc_error), None
    # Our own limit replaces Pillow's global one for this call; restored below so that a scan
    # run in the caller's process leaves Pillow as it found it.
    saved_limit, saved_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        try:
            # Naming the format the header probe found skips Pillow's trial of every plugin.
            formats = [header.format] if header is not None and header.format else None
            im = Image.open(io.BytesIO(data), formats=formats)
        except Exception as exc:
            return Decoded(sha1=digest, error=_message(exc)), None
        width, height = im.size
        if width * height > max_pixels:
            return Decoded(
                mode=im.mode, sha1=digest,
                refused=f"{width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
                "(--max-pixels); not decoded",
            ), None
        mode = _png_mode(data, im.mode) if im.format == "PNG" else im.mode
        try:
            im.load()
        except Exception as exc:
            return Decoded(mode=mode, orientation=_orientation(im), sha1=digest, error=_message(exc)), None
        # After load: a PNG may keep its EXIF after the pixel data, and reading it first would decode twice.
        return Decoded(mode=mode, orientation=_orientation(im), sha1=digest), im
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved_limit, saved_truncated


def _usable(info: FileInfo | None) -> bool:
    # Header problems (empty, unreadable) are already findings of their own; a full decode
    # would only repeat them.
    return info is not None and not info.error and bool(info.size)


def decode_pair(
    root: str,
    image_path: str,
    mask_path: str | None,
    image_info: FileInfo,
    mask_info: FileInfo | None,
    max_pixels: int,
) -> DeepInfo:
    """Decode one pair and compute its deep facts; paths are relative to ``root``.

    The picture is read in full once to reduce it (``maskfit.fit_picture``'s chain): to ``quality.SHARP_SIDE``
    for the blur measure, and from that to the grey copy (``maskfit.fit_picture``) that serves the perceptual
    hash and the mask–image agreement; the quality measures read sampled rows and columns; an RGB picture is
    converted to grey only where these read it. A near-flat
    picture gets no perceptual hash (``quality.hash_informative``): every such picture hashes alike,
    and a match on it says nothing.
    """
    from .maskfit import fit_picture_pixels, mask_fit, reduced_to
    from .quality import SHARP_SIDE, grey_of, hash_informative, image_quality
    from .sharpness import SHARP_STRIDE

    image = mask = None
    phash = fg_ratio = kind = top = None
    quality = fit = None
    grey = reduced = reduced_pixels = blur_picture = lines = None
    if _usable(image_info):
        image, im = decode_file(os.path.join(root, image_path), image_info, max_pixels, want_sha1=True)
        if im is not None:
            try:
                # An RGB picture is never converted to grey in full: the measures convert what they read.
                grey = im if im.mode == "RGB" else grey_of(im)
                # One reduction chain: the blur measure's picture, and from it the grey picture that
                # serves the hash thumbnail and the mask–image agreement (and, read in the same pass where the
                # C kernels do it, the blur measure's lines).
                blur_picture = reduced_to(grey, SHARP_SIDE)
                reduced, reduced_pixels, lines = fit_picture_pixels(blur_picture, SHARP_STRIDE)
                thumb = hash_thumbnail(reduced)
                phash = phash_array(thumb) if hash_informative(thumb) else None
            except Exception as exc:  # a mode Pillow cannot resize: report, do not crash
                image = Decoded(image.mode, image.orientation, image.sha1, error=f"cannot hash pixels: {_message(exc)}")
                grey = None
            else:
                try:
                    quality = image_quality(im, None if grey is im else grey, blur_picture, lines)
                except Exception:  # the picture decoded and hashed: no quality measure is no finding
                    quality = None
            im.close()
    if mask_path is not None and _usable(mask_info):
        mask, mim = decode_file(os.path.join(root, mask_path), mask_info, max_pixels, want_sha1=False)
        if mim is not None:
            try:
                mgrey = mim if mim.mode == "L" else mim.convert("L")
                mask_pixels = array_of(mgrey)
                fg_ratio, kind, top = mask_stats(mask_pixels)
            except Exception as exc:
                mask = Decoded(mask.mode, mask.orientation, None, error=f"cannot convert mask to L: {_message(exc)}")
            else:
                if grey is not None and kind in ("binary", "antialiased", "soft"):
                    try:
                        fit = mask_fit(grey, mgrey, reduced, mask_pixels, reduced_pixels)
                    except Exception:  # as above: a measure that fails is no finding about the files
                        fit = None
            mim.close()
    return DeepInfo(
        image=image, mask=mask, phash=phash, fg_ratio=fg_ratio, mask_kind=kind, mask_max=top, quality=quality, fit=fit,
    )
