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
