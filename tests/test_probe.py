import pytest
from PIL import Image

from dis_audit.probe import probe_file
from dis_audit.testing import image_array, write_image


@pytest.mark.parametrize(
    "ext, mode",
    [(".jpg", "RGB"), (".jpg", "L"), (".jpg", "CMYK"), (".png", "RGB"), (".png", "RGBA"), (".png", "L"),
     (".png", "1"), (".png", "P"), (".png", "LA"), (".png", "I;16"), (".bmp", "RGB"), (".bmp", "P"), (".bmp", "L"), (".bmp", "1"),
     (".gif", "P"), (".webp", "RGB"), (".webp", "RGBA"), (".tif", "RGB")],
)
def test_header_matches_pillow(tmp_path, ext, mode):
    path = tmp_path / f"x{ext}"
    write_image(path, image_array(37, 23), mode=mode)
    info = probe_file(str(path))
    with Image.open(path) as im:
        assert (info.format, info.width, info.height) == (im.format, im.width, im.height)
        assert info.mode == im.mode
    assert info.error is None
    assert info.size == path.stat().st_size


def test_progressive_jpeg_with_big_exif(tmp_path):
    path = tmp_path / "p.jpg"
    im = Image.fromarray(image_array(64, 40))
    exif = Image.Exif()
    exif[0x010E] = "x" * 30000  # pushes the frame header past the first read
    im.save(path, progressive=True, exif=exif)
    info = probe_file(str(path))
    assert (info.format, info.width, info.height, info.mode) == ("JPEG", 64, 40, "RGB")


def test_empty_truncated_and_garbage(tmp_path):
    empty = tmp_path / "e.jpg"
    empty.write_bytes(b"")
    assert probe_file(str(empty)).error == "empty file (0 bytes)"
    src = write_image(tmp_path / "t.jpg", image_array(16, 16))
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(src.read_bytes()[:20])
    assert "truncated" in probe_file(str(trunc)).error
    png = write_image(tmp_path / "t.png", image_array(16, 16))
    short = tmp_path / "short.png"
    short.write_bytes(png.read_bytes()[:15])
    assert probe_file(str(short)).error
    garbage = tmp_path / "g.png"
    garbage.write_bytes(b"hello world, not an image at all")
    assert "not a recognised image" in probe_file(str(garbage)).error
    assert probe_file(str(tmp_path / "missing.png")).error.startswith("cannot open")


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _frame(width: int, height: int, channels: int = 3) -> bytes:
    return _segment(0xC0, bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([channels])
                    + b"\x01\x11\x00" * channels)


SOI, EOI = b"\xff\xd8", b"\xff\xd9"
CUT = "truncated JPEG header (no frame header before end of file)"


@pytest.mark.parametrize(
    "body, expected",
    [
        # Fill bytes, a restart marker and TEM (no length), an APP segment holding a thumbnail's frame header.
        (b"\xff\xff" + b"\xff\xd0" + b"\xff\x01" + _segment(0xE1, _frame(8, 8)) + _frame(300, 200), ("RGB", 300, 200)),
        (_segment(0xE0, b"J" * 5000) + _frame(70, 9000, 1), ("L", 70, 9000)),  # frame header past the first read
        (_frame(5, 6, 2), ("2ch", 5, 6)),
        (_segment(0xE0, b"") + b"\xff\xe1\x00\x01", "corrupt JPEG header (segment length 1 at byte 6)"),
        (_segment(0xDA, b"\x00") + _frame(5, 6), "corrupt JPEG header (scan data before any frame header)"),
        (_segment(0xE0, b"ab") + b"\x00\xff" + _frame(5, 6), "corrupt JPEG header (expected a marker at byte 8)"),
        (_frame(0, 6), "JPEG frame header gives size 0x6"),
        (_segment(0xE0, b"J" * 5000) + EOI, "corrupt JPEG header (scan data before any frame header)"),
        (_segment(0xE0, b"J" * 5000), CUT),
    ],
    ids=["fill-rst-tem-thumbnail", "frame-past-first-read", "two-channels", "short-segment", "scan-first",
         "not-a-marker", "zero-size", "end-marker-first", "cut-before-frame"],
)
def test_jpeg_segment_walk(tmp_path, body, expected):
    """The JPEG header walk: markers without a length, fill bytes, a thumbnail's frame, each way to fail."""
    path = tmp_path / "x.jpg"
    path.write_bytes(SOI + body + (b"" if expected == CUT else EOI))  # the cut file ends inside its APP0
    info = probe_file(str(path))
    if isinstance(expected, str):
        assert info.error == expected
    else:
        assert info.error is None and (info.format, info.mode, info.width, info.height) == ("JPEG", *expected)
