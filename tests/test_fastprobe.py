"""The optional C header reader (``dis_audit._fastprobe``) gives the Python probe's results, or none.

``probe_file`` asks the C reader first and keeps its answer only where it gives one; so the contract
is: wherever ``_fastprobe.probe`` answers, its FileInfo equals ``probe_file_python``'s, field for
field, and it answers for the common files (or the speed-up would be gone without a failing test).
Skipped where the extension is not built, unless DIS_AUDIT_REQUIRE_FASTPROBE is set (CI sets it).
"""

from __future__ import annotations

import io
import os
import random
import socket
from pathlib import Path

import pytest
from c_extensions import optional_extension
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dis_audit import probe
from dis_audit.testing import image_array, mask_array, write_image

_fastprobe, pytestmark = optional_extension("_fastprobe")


def both(path: Path | str) -> tuple[probe.FileInfo | None, probe.FileInfo]:
    """(the C reader's FileInfo or None, the Python code's FileInfo) for ``path``."""
    found = _fastprobe.probe(str(path))
    return (probe.FileInfo(*found) if found is not None else None), probe.probe_file_python(str(path))


def agrees(path: Path | str) -> bool:
    """Assert the C answer (if any) equals the Python one, and ``probe_file`` too; True when C answered."""
    fast, slow = both(path)
    if fast is not None:
        assert fast == slow, path
        assert [type(v) for v in fast] == [type(v) for v in slow]
    assert probe.probe_file(str(path)) == slow
    return fast is not None


def encoded(mode: str, fmt: str, width: int = 37, height: int = 23, **kw) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(image_array(width, height))  # noise: a large size gives a large file
    if mode == "I;16":
        im = im.convert("I").convert("I;16")
    elif im.mode != mode:
        im = im.convert(mode)
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_constants_match_the_python_probe():
    assert (_fastprobe.HEAD_BYTES, _fastprobe.TAIL_BYTES) == (probe.HEAD_BYTES, probe.TAIL_BYTES)


@pytest.mark.parametrize(
    "mode, fmt, kw",
    [("RGB", "JPEG", {}), ("L", "JPEG", {}), ("CMYK", "JPEG", {}), ("RGB", "JPEG", {"progressive": True}),
     ("RGB", "PNG", {}), ("RGBA", "PNG", {}), ("L", "PNG", {}), ("1", "PNG", {}), ("P", "PNG", {}),
     ("LA", "PNG", {}), ("I;16", "PNG", {})],
)
def test_common_files_are_answered_in_c_with_the_python_result(tmp_path, mode, fmt, kw):
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(encoded(mode, fmt, **kw))
    assert agrees(path)  # answered in C: the fast path is in use
    # Over HEAD_BYTES: the end marker comes from a second read at the end.
    big = tmp_path / f"big.{fmt.lower()}"
    big.write_bytes(encoded(mode, fmt, 300, 200, **kw))
    assert big.stat().st_size > probe.HEAD_BYTES
    assert agrees(big)


def test_padding_after_the_end_marker(tmp_path):
    data = encoded("RGB", "JPEG")
    for pad in (1, 30, probe.TAIL_BYTES - 2, probe.TAIL_BYTES - 1, probe.TAIL_BYTES, 5000):
        path = tmp_path / f"pad{pad}.jpg"
        path.write_bytes(data + b"\0" * pad)
        agrees(path)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _frame(width: int, height: int, channels: int = 3) -> bytes:
    return _segment(0xC0, bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([channels])
                    + b"\x01\x11\x00" * channels)


EOI = b"\xff\xd9"
SOI = b"\xff\xd8"


@pytest.mark.parametrize(
    "name, data",
    [
        ("plain", SOI + _frame(10, 20) + EOI),
        ("grey", SOI + _frame(10, 20, 1) + EOI),
        ("two channels", SOI + _frame(10, 20, 2) + EOI),
        ("five channels", SOI + _frame(10, 20, 5) + EOI),
        ("zero width", SOI + _frame(0, 20) + EOI),
        ("zero height", SOI + _frame(10, 0) + EOI),
        ("fill bytes", SOI + b"\xff\xff\xff" + _frame(10, 20) + EOI),
        ("restart markers", SOI + b"\xff\xd0\xff\xd7\xff\x01" + _frame(10, 20) + EOI),
        ("app segment", SOI + _segment(0xE1, b"Exif\0\0" + b"x" * 100) + _frame(10, 20) + EOI),
        ("thumbnail-like SOF in APP1", SOI + _segment(0xE1, _frame(3, 3)) + _frame(10, 20) + EOI),
        ("frame past the head", SOI + _segment(0xE1, b"x" * 5000) + _frame(10, 20) + EOI),
        ("frame straddles the head", SOI + _segment(0xE1, b"x" * (probe.HEAD_BYTES - 10)) + _frame(10, 20) + EOI),
        ("scan before frame", SOI + b"\xff\xda\x00\x02" + _frame(10, 20) + EOI),
        ("EOI before frame", SOI + EOI + _frame(10, 20) + EOI),
        ("short segment length", SOI + b"\xff\xe0\x00\x01" + _frame(10, 20) + EOI),
        ("not a marker", SOI + b"\x00\x00\x00\x00" + _frame(10, 20) + EOI),
        ("no end marker", SOI + _frame(10, 20) + b"\xff\xda\x00\x02" + b"\x11" * 50),
        ("no end marker, big", SOI + _frame(10, 20) + b"\xff\xda\x00\x02" + b"\x11" * 9000),
        ("cut in the header", SOI + _frame(10, 20)[:6]),
        ("only the signature", b"\xff\xd8\xff"),
        ("frame header at the very end", SOI + _frame(10, 20)),
        ("frame header, 10 bytes left", SOI + _frame(10, 20)[:10]),
        ("lowest SOF", SOI + _segment(0xCF, bytes([8]) + (20).to_bytes(2, "big") + (10).to_bytes(2, "big") + b"\x03")
         + EOI),
        ("DHT is no SOF", SOI + _segment(0xC4, b"\0" * 20) + _frame(10, 20) + EOI),
        ("largest size", SOI + _frame(65535, 65535) + EOI),
    ],
)
def test_hand_made_jpegs(tmp_path, name, data):
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    agrees(path)


def _png(width: int, height: int, depth: int = 8, color: int = 2, tail: bytes = b"\0\0\0\0IEND\xaeB`\x82") -> bytes:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([depth, color, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0\0\0\0" + tail


@pytest.mark.parametrize(
    "name, data",
    [
        ("plain", _png(10, 20)),
        *[(f"colour {c} depth {d}", _png(10, 20, d, c)) for c in (0, 2, 3, 4, 5, 6, 7) for d in (1, 2, 8, 16)],
        ("zero width", _png(0, 20)),
        ("zero height", _png(10, 0)),
        ("largest allowed", _png(2**31 - 1, 5)),
        ("over int32 width", _png(2**31, 5)),
        ("over int32 height", _png(5, 2**32 - 1)),
        ("no IEND", _png(10, 20, tail=b"\0" * 40)),
        ("no IEND, big", _png(10, 20, tail=b"\0" * 9000)),
        ("IEND far from the end", _png(10, 20, tail=b"IEND" + b"\0" * 5000)),
        ("not IHDR", _png(10, 20).replace(b"IHDR", b"IHDX")),
        ("cut in IHDR", _png(10, 20)[:25]),
        ("signature only", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_hand_made_pngs(tmp_path, name, data):
    path = tmp_path / "x.png"
    path.write_bytes(data)
    agrees(path)


def test_files_the_c_reader_leaves_to_python(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "garbage.png").write_bytes(b"hello, not an image")
    (tmp_path / "folder.jpg").mkdir()
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    good = tmp_path / "good.jpg"
    good.write_bytes(encoded("RGB", "JPEG"))
    (tmp_path / "link.jpg").symlink_to(good)
    for fmt in ("GIF", "BMP", "WEBP", "TIFF"):
        (tmp_path / f"x.{fmt.lower()}").write_bytes(encoded("RGB", fmt))
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "sock.png"))
        for name in ("empty.jpg", "garbage.png", "folder.jpg", "fifo.jpg", "broken.jpg", "missing.jpg",
                     "x.gif", "x.bmp", "x.webp", "x.tiff", "sock.png"):
            assert not agrees(tmp_path / name), name
        assert agrees(tmp_path / "link.jpg")  # a link to a good file reads through, as in Python
    finally:
        sock.close()
    too_long = str(tmp_path / ("a" * 5000 + ".jpg"))
    assert _fastprobe.probe(too_long) is None
    assert probe.probe_file(too_long) == probe.probe_file_python(too_long)
    assert _fastprobe.probe("bad\0name.jpg") is None
    surrogate = tmp_path / os.fsdecode(b"caf\xe9.jpg")
    surrogate.write_bytes(encoded("RGB", "JPEG"))
    assert agrees(surrogate)


def test_truncated_real_files_at_every_length(tmp_path):
    """Every cut of a real JPEG and PNG (a sample of lengths over a large file): C agrees or abstains."""
    for fmt in ("JPEG", "PNG"):
        data = encoded("RGB", fmt, 120, 90)
        lengths = sorted({*range(0, 80), *range(len(data) - 80, len(data) + 1), *random.Random(0).sample(
            range(len(data)), 60)})
        path = tmp_path / f"cut.{fmt.lower()}"
        answered = 0
        for n in lengths:
            path.write_bytes(data[:n])
            answered += agrees(path)
        assert answered >= 1  # the whole file at least


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b""]),
    body=st.binary(max_size=200),
    tail=st.sampled_from([b"", b"\xff\xd9", b"IEND", b"\xff\xd9\0\0", b"IEND\xaeB`\x82"]),
)
def test_random_bytes(tmp_path, prefix, body, tail):
    path = tmp_path / "r.bin"
    path.write_bytes(prefix + body + tail)
    agrees(path)


def test_scan_is_the_same_with_and_without_the_c_reader(tmp_path, monkeypatch):
    """A whole scan of a tree with good and damaged files: the same table and findings either way."""
    from dis_audit import scan

    root = tmp_path / "DS"
    for i, (im_mode, mask_mode) in enumerate([("RGB", "L"), ("L", "L"), ("RGBA", "RGB"), ("CMYK", "1")]):
        write_image(root / "im" / f"1#G#1#Bag#{i}.jpg" if im_mode != "RGBA" else root / "im" / f"1#G#1#Bag#{i}.png",
                    image_array(30, 20), mode=im_mode)
        write_image(root / "gt" / f"1#G#1#Bag#{i}.png", mask_array(30, 20), mode=mask_mode)
    good = (root / "im" / "1#G#1#Bag#0.jpg").read_bytes()
    (root / "im" / "1#G#1#Bag#9.jpg").write_bytes(good[: len(good) // 2])
    (root / "gt" / "1#G#1#Bag#9.png").write_bytes(b"")
    with_c = scan(root, workers=1)
    monkeypatch.setattr(probe, "_fast_probe", None)
    without = scan(root, workers=1)
    assert with_c.table.equals(without.table)
    assert with_c.findings == without.findings


@pytest.mark.parametrize("in_c", [True, False])
def test_probe_files_equals_probe_file_per_path(tmp_path, monkeypatch, in_c):
    """The batch form (the scan's) gives each path's ``probe_file``, good, odd and missing files alike."""
    if not in_c:
        monkeypatch.setattr(probe, "_fast_probe_many", None)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "garbage.png").write_bytes(b"hello, not an image")
    (tmp_path / "folder.jpg").mkdir()
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "cut.png").write_bytes(encoded("RGB", "PNG", 120, 90)[:-30])
    for mode, fmt in (("RGB", "JPEG"), ("L", "PNG"), ("RGB", "GIF"), ("RGBA", "PNG"), ("CMYK", "JPEG")):
        (tmp_path / f"{mode}.{fmt.lower()}").write_bytes(encoded(mode, fmt))
    names: list[str | None] = sorted(p.name for p in tmp_path.iterdir())
    names += [None, "missing.jpg", "a" * 9000 + ".jpg", None]
    prefix = f"{tmp_path}/"
    found = probe.probe_files(prefix, names)
    assert found == [None if n is None else probe.probe_file_python(prefix + n) for n in names]
    for impossible in ("bad\0.jpg", "\ud800.jpg"):  # os.open refuses such a name: so do both forms
        with pytest.raises(ValueError):
            probe.probe_file(prefix + impossible)
        with pytest.raises(ValueError):
            probe.probe_files(prefix, ["RGB.jpeg", impossible])
    assert all(type(info) is probe.FileInfo for info in found if info is not None)
    assert probe.probe_files(prefix, []) == []
