"""What one file is, from its header: format, mode, width, height, size, mtime.

The common formats (JPEG, PNG, GIF, BMP, WebP) are read by small parsers over the first
bytes of the file, since Pillow's ``Image.open`` costs several times more per file and a
scan reads every header. Anything else falls back to Pillow, imported only then.

Where the optional C extension ``dis_audit._fastprobe`` is built (``setup.py``), it answers for
complete, well-formed JPEG and PNG files, nearly every file of a real dataset, and hands every
other file to the Python code here: the results are the same either way (tests/test_fastprobe.py).
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import threading
from array import array
from collections.abc import Sequence
from typing import NamedTuple, cast

HEAD_BYTES = 4096
#: Bytes read from the end of a JPEG or PNG to find its end marker (one extra small read).
TAIL_BYTES = 64
#: ``FileInfo.truncated`` of a (small) JPEG that ends before its scan data starts: no decoder
#: returns an image for it.
JPEG_CUT_BEFORE_SCAN = "the JPEG ends before its scan data (no start-of-scan marker): nothing to decode"
# JPEG markers that start a frame and so carry the image size (SOF0..SOF15 minus DHT/JPG/DAC).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
_BMP_MODES = {1: "1", 4: "P", 8: "P", 16: "RGB", 24: "RGB", 32: "RGB"}
#: O_NONBLOCK: opening a FIFO named .jpg must not wait for a writer (the scan would hang).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


class FileInfo(NamedTuple):
    """Header facts of one file; ``error`` is set (and size fields may be None) when unreadable."""

    size: int | None
    mtime_ns: int | None
    format: str | None
    mode: str | None
    width: int | None
    height: int | None
    error: str | None = None
    #: Set when the file's tail shows it was cut short (a PNG without IEND, a JPEG without its
    #: end-of-image marker): what is missing, for the finding's message.
    truncated: str | None = None


class HeaderError(Exception):
    pass


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, for a finding."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a plain file"


def open_regular(path: str) -> int:
    """A read-only descriptor of ``path`` if it is a regular file; OSError otherwise (never blocks on a FIFO)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file ({file_kind(st.st_mode)})", path)
    return fd


#: A marker's 0xFF, its code and (for markers with a segment) the segment length, in one read.
_JPEG_MARKER = struct.Struct(">BBH")
#: A frame header's height, width and channel count (after its marker, length and precision).
_JPEG_FRAME = struct.Struct(">HHB")
#: Markers without a length: SOI, TEM and the restart markers RST0..RST7.
_JPEG_STANDALONE = frozenset({0xD8, 0x01, *range(0xD0, 0xD8)})


def _jpeg(fd: int, head: bytes) -> tuple[str, int, int]:
    # Walk the segments: a plain byte search would also hit the SOF of an EXIF thumbnail.
    pos = 2
    buf = head
    base = 0  # file offset of buf[0]
    end = len(buf)
    marker_at = _JPEG_MARKER.unpack_from
    while True:
        i = pos - base
        if i + 10 > end:
            buf = os.pread(fd, 65536 + 16, pos)
            base, i, end = pos, 0, len(buf)
            if end < 4:
                raise HeaderError("truncated JPEG header (no frame header before end of file)")
        ff, marker, length = marker_at(buf, i)
        if ff != 0xFF:
            raise HeaderError(f"corrupt JPEG header (expected a marker at byte {pos})")
        if marker in _JPEG_SOF:
            if end - i < 10:
                raise HeaderError("truncated JPEG frame header")
            height, width, channels = _JPEG_FRAME.unpack_from(buf, i + 5)
            if width == 0 or height == 0:
                raise HeaderError(f"JPEG frame header gives size {width}x{height}")
            return _JPEG_MODES.get(channels, f"{channels}ch"), width, height
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in _JPEG_STANDALONE:
            pos += 2
        elif marker == 0xD9 or marker == 0xDA:
            raise HeaderError("corrupt JPEG header (scan data before any frame header)")
        elif length < 2:
            raise HeaderError(f"corrupt JPEG header (segment length {length} at byte {pos})")
        else:
            pos += 2 + length


def _png(head: bytes) -> tuple[str, int, int]:
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise HeaderError("truncated or corrupt PNG header (no IHDR chunk)")
    width, height, depth, color = struct.unpack_from(">IIBB", head, 16)
    if width == 0 or height == 0:
        raise HeaderError(f"PNG header gives size {width}x{height}")
    mode = _PNG_MODES.get(color)
    if mode is None:
        raise HeaderError(f"PNG header has unknown colour type {color}")
    if color == 0 and depth == 1:
        mode = "1"
    elif color == 0 and depth == 16:
        mode = "I;16"
    return mode, width, height


def _gif(head: bytes) -> tuple[str, int, int]:
    if len(head) < 10:
        raise HeaderError("truncated GIF header")
    width, height = struct.unpack_from("<HH", head, 6)
    return "P", width, height


def _bmp(head: bytes) -> tuple[str, int, int]:
    if len(head) < 26:
        raise HeaderError("truncated BMP header")
    (dib,) = struct.unpack_from("<I", head, 14)
    if dib == 12:
        width, height = struct.unpack_from("<HH", head, 18)
        bpp = struct.unpack_from("<H", head, 24)[0]
    elif dib >= 40 and len(head) >= 30:
        width, height = struct.unpack_from("<ii", head, 18)
        bpp = struct.unpack_from("<H", head, 28)[0]
    else:
        raise HeaderError(f"unsupported BMP header (DIB size {dib})")
    height = abs(height)
    if width <= 0 or height == 0:
        raise HeaderError(f"BMP header gives size {width}x{height}")
    mode = _BMP_MODES.get(bpp, "RGB")
    if bpp in (1, 8) and dib >= 40 and _bmp_palette_is_grey(head, dib, bpp):
        mode = "1" if bpp == 1 else "L"  # Pillow reads a grey palette as a plain grey image
    return mode, width, height


def _bmp_palette_is_grey(head: bytes, dib: int, bpp: int) -> bool:
    (used,) = struct.unpack_from("<I", head, 46)
    count = used or (1 << bpp)
    start = 14 + dib
    palette = head[start : start + 4 * count]
    if len(palette) < 4 * count:
        return False
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 4))


def _webp(head: bytes) -> tuple[str, int, int]:
    if len(head) < 30:
        raise HeaderError("truncated WebP header")
    chunk = head[12:16]
    if chunk == b"VP8X":
        flags = head[20]
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
        return ("RGBA" if flags & 0x10 else "RGB"), width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        width = (bits & 0x3FFF) + 1
        height = ((bits >> 14) & 0x3FFF) + 1
        return ("RGBA" if (bits >> 28) & 1 else "RGB"), width, height
    if chunk == b"VP8 ":
        width, height = struct.unpack_from("<HH", head, 26)
        return "RGB", width & 0x3FFF, height & 0x3FFF
    raise HeaderError(f"unknown WebP chunk {chunk!r}")


def _pillow(path: str) -> tuple[str, str, int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.format or "unknown", im.mode, im.size[0], im.size[1]
    except UnidentifiedImageError:
        raise HeaderError("not a recognised image format") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise HeaderError(f"unreadable image header: {exc}") from None


#: The largest width or height a manifest column (int32) holds; PNG allows no more either.
MAX_DIMENSION = 2**31 - 1


def sniff(fd: int, head: bytes, path: str) -> tuple[str, str, int, int]:
    """(format, mode, width, height) from the first bytes; raises HeaderError.

    A size over ``MAX_DIMENSION`` is a header error (a finding), never a value that breaks the manifest.
    """
    # startswith, not slices: no new bytes object per test (this runs for every file of a scan).
    if head.startswith(b"\xff\xd8\xff"):
        fmt = "JPEG"
        mode, width, height = _jpeg(fd, head)
    elif head.startswith(_PNG_SIGNATURE):
        fmt = "PNG"
        mode, width, height = _png(head)
    elif head.startswith((b"GIF87a", b"GIF89a")):
        fmt = "GIF"
        mode, width, height = _gif(head)
    elif head.startswith(b"BM"):
        fmt = "BMP"
        mode, width, height = _bmp(head)
    elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        fmt = "WEBP"
        mode, width, height = _webp(head)
    else:
        fmt, mode, width, height = _pillow(path)
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise HeaderError(f"{fmt} header gives size {width}x{height}, beyond the {MAX_DIMENSION} a dimension may have")
    return fmt, mode, width, height


def _truncation(fd: int, fmt: str, head: bytes, size: int) -> str | None:
    """What is missing at the end of a JPEG or PNG, or None when its end marker is there.

    The marker is searched in the last ``TAIL_BYTES`` so that padding after it (common after a
    JPEG's EOI) does not count as damage. FF D9 cannot occur inside JPEG scan data (an FF there
    is always stuffed or a restart marker), so finding it means the file ends where it should.
    """
    if fmt not in ("JPEG", "PNG"):
        return None
    tail = head[-TAIL_BYTES:] if size <= len(head) else os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES))
    if fmt == "PNG":
        if b"IEND" in tail:
            return None
        return "the PNG has no IEND chunk at its end: the file is cut short (truncated pixel data)"
    if b"\xff\xd9" in tail:
        return None
    if size <= len(head) and b"\xff\xda" not in head:
        return JPEG_CUT_BEFORE_SCAN
    return "the JPEG has no end-of-image marker (FF D9) at its end: the file is cut short in its scan data"


try:
    from ._fastprobe import probe as _fast_probe
    from ._fastprobe import probe_many as _fast_probe_many
    from ._fastprobe import stat_many as _fast_stat_many
except ImportError:  # not built (no compiler at install time): the Python code does it all
    _fast_probe = None  # type: ignore[assignment]
    _fast_probe_many = None  # type: ignore[assignment]
    _fast_stat_many = None  # type: ignore[assignment]

#: ``stat_many``'s (size, mtime_ns) for a path that is None, and for one that cannot be stat'ed.
STAT_NO_PATH = -1
STAT_FAILED = -2


def stat_many(prefix: str, paths: Sequence[str | None], threads: int = 1) -> array:
    """(size, mtime_ns) of ``prefix + path`` for every path, flat in one int64 array (2 values a path).

    A path that is None gives ``STAT_NO_PATH`` twice, one that cannot be stat'ed (missing, a
    broken link, an impossible name) ``STAT_FAILED`` twice; links are followed, as ``os.stat`` does.
    With the C extension the calls run without the GIL, in ``threads`` threads on parts of the list.
    """
    if _fast_stat_many is not None:
        fast = _fast_stat_many
        n = len(paths)
        parts = max(1, min(threads, n // 1000))  # a thread pays off only on a long list
        step = -(-n // parts) if n else 0
        found: list[bytes | None] = [None] * parts
        if parts == 1:
            found[0] = fast(prefix, paths)
        else:
            def run(k: int) -> None:
                found[k] = fast(prefix, paths[k * step : (k + 1) * step])

            workers = [threading.Thread(target=run, args=(k,)) for k in range(parts)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        if all(part is not None for part in found):
            out = array("q")
            for part in found:
                out.frombytes(cast(bytes, part))
            return out
    return _stat_many_python(prefix, paths)


def _stat_many_python(prefix: str, paths: Sequence[str | None]) -> array:
    out = array("q")
    append = out.append
    for path in paths:
        if path is None:
            append(STAT_NO_PATH)
            append(STAT_NO_PATH)
            continue
        try:
            st = os.stat(prefix + path)
            size, mtime = st.st_size, st.st_mtime_ns
            if not -(2**63) <= mtime < 2**63:
                raise OverflowError(mtime)
        except (OSError, ValueError, OverflowError):  # ValueError: a NUL or unencodable character in the name
            size = mtime = STAT_FAILED
        append(size)
        append(mtime)
    return out


def probe_file(path: str) -> FileInfo:
    """Header facts of the file at ``path``. Never raises: problems land in ``error``."""
    if _fast_probe is not None:
        found = _fast_probe(path)
        if found is not None:
            return FileInfo(*found)
    return probe_file_python(path)


def probe_files(prefix: str, paths: Sequence[str | None]) -> list[FileInfo | None]:
    """``probe_file(prefix + path)`` for every path, None for a path that is None.

    The same as one ``probe_file`` call a path; with the C extension the common files of the
    whole list are read in one call (no Python call a file), the others by the Python code.
    """
    if _fast_probe_many is None:
        return [None if path is None else probe_file_python(prefix + path) for path in paths]
    found: list[FileInfo | None] = _fast_probe_many(prefix, paths, FileInfo)
    for k in [k for k, info in enumerate(found) if info is None]:
        path = paths[k]
        if path is not None:
            found[k] = probe_file_python(prefix + path)
    return found


def probe_file_python(path: str) -> FileInfo:
    """``probe_file`` without the C extension: the reference for every file, and the only path for unusual ones."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        reason = "broken symbolic link" if os.path.islink(path) else (exc.strerror or str(exc))
        if exc.errno == errno.ENAMETOOLONG:
            reason = "path longer than the system allows (PATH_MAX)"
        return FileInfo(None, None, None, None, None, None, f"cannot open: {reason}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return FileInfo(None, None, None, None, None, None, f"not a regular file ({file_kind(st.st_mode)})")
        if st.st_size == 0:
            return FileInfo(0, st.st_mtime_ns, None, None, None, None, "empty file (0 bytes)")
        head = os.read(fd, HEAD_BYTES)
        try:
            fmt, mode, width, height = sniff(fd, head, path)
        except HeaderError as exc:
            return FileInfo(st.st_size, st.st_mtime_ns, None, None, None, None, str(exc))
        return FileInfo(
            st.st_size, st.st_mtime_ns, fmt, mode, width, height, None, _truncation(fd, fmt, head, st.st_size)
        )
    except OSError as exc:
        return FileInfo(None, None, None, None, None, None, f"cannot read: {exc.strerror or exc}")
    finally:
        os.close(fd)
