"""One fixture per rule code: a tree with the defect, and a near miss without it.

``FIXTURES[code].build(root, defect)`` writes a small dataset tree under ``root``. With ``defect``
True the tree holds the defect the rule describes and the function returns the path (relative to
``root``) the finding must name; with ``defect`` False it writes the closest clean tree (same files,
defect repaired) and returns None. tests/test_rules.py runs every code of the registry through
this table, so a rule without a fixture fails the tests.

Built from the project's own builders: ``dis_audit.testing`` for header-level trees and
``examples/deep_defects.py`` (photo-like pairs, bomb headers) for what only ``scan --deep`` sees.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from deep_trees import deep_defects, quality_defects
from PIL import Image

from dis_audit.testing import image_array, make_pair, write_image

GOOD = "1#Accessories#1#Bag#26345192014_f722d1ef0b_o"
TR = "DIS-TR"

Build = Callable[[Path, bool], "str | None"]


@dataclass(frozen=True)
class Case:
    """How to build a rule's fixture, and how to scan it."""

    build: Build
    deep: bool = False
    scan_options: dict[str, Any] = field(default_factory=dict)


def _stem_case(bad: str, good: str = GOOD) -> Build:
    """A naming rule: one image named ``bad`` (or ``good`` for the near miss)."""
    def build(root: Path, defect: bool) -> str | None:
        make_pair(root, TR, bad if defect else good)
        return f"{TR}/im/{bad}.jpg" if defect else None
    return build


def _undecodable(root: Path, defect: bool) -> str | None:
    image, _ = make_pair(root, TR, GOOD)
    if defect:
        with open(bytes(image.parent) + b"/caf\xe9.jpg", "wb") as fh:
            fh.write(image.read_bytes())
        return f"{TR}/im/caf\\xe9.jpg"
    return None


def _normalization_twin(root: Path, defect: bool) -> str | None:
    """'Café' typed twice: NFC in one name, NFD in the other (the near miss: both NFC)."""
    import unicodedata

    make_pair(root, TR, "1#Accessories#1#Caf\u00e9#1_o")
    cafe = unicodedata.normalize("NFD" if defect else "NFC", "Caf\u00e9")
    make_pair(root, TR, f"1#Accessories#1#{cafe}#2_o")
    return f"{TR}/im/1#Accessories#1#{cafe}#2_o.jpg" if defect else None


def _missing_mask(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, mask_ext=None if defect else ".png")
    return f"{TR}/im/{GOOD}.jpg" if defect else None


def _orphan_mask(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD)
    image, _ = make_pair(root, TR, "1#Accessories#1#Bag#2_o")
    if defect:
        image.unlink()
        return f"{TR}/gt/1#Accessories#1#Bag#2_o.png"
    return None


def _image_extension(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, image_ext=".jpeg" if defect else ".jpg")
    return f"{TR}/im/{GOOD}.jpeg" if defect else None


def _mask_extension(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, mask_ext=".tif" if defect else ".png")
    return f"{TR}/gt/{GOOD}.tif" if defect else None


def _ambiguous_stem(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD)
    make_pair(root, TR, GOOD if defect else "1#Accessories#1#Bag#2_o", image_ext=".png", mask_ext=None)
    return f"{TR}/im/{GOOD}.jpg" if defect else None


def _unreadable_path(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD)
    if defect:
        (root / TR / "im" / "loop").symlink_to(root / TR / "im")
        return f"{TR}/im/loop"
    return None


def _nested(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, ("sub/" if defect else "") + GOOD)
    return f"{TR}/im/sub/{GOOD}.jpg" if defect else None


def _unreadable_image(root: Path, defect: bool) -> str | None:
    image, _ = make_pair(root, TR, GOOD)
    if defect:
        image.write_bytes(image.read_bytes()[:30])
        return f"{TR}/im/{GOOD}.jpg"
    return None


def _empty_image(root: Path, defect: bool) -> str | None:
    image, _ = make_pair(root, TR, GOOD)
    if defect:
        image.write_bytes(b"")
        return f"{TR}/im/{GOOD}.jpg"
    return None


def _image_extension_mismatch(root: Path, defect: bool) -> str | None:
    image, _ = make_pair(root, TR, GOOD)
    if defect:  # PNG content behind the .jpg name
        write_image(image.with_suffix(".png"), image_array(32, 24, GOOD)).rename(image)
        return f"{TR}/im/{GOOD}.jpg"
    return None


def _image_mode(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, image_ext=".png")
    write_image(root / TR / "im" / f"{GOOD}.png", image_array(32, 24, GOOD), mode="RGBA" if defect else "RGB")
    return f"{TR}/im/{GOOD}.png" if defect else None


def _photo(root: Path, dataset: str = TR, stem: str = GOOD, seed: int = 1, **kwargs: Any) -> tuple[Path, Path]:
    return deep_defects.pair(root, dataset, stem, seed, **kwargs)


def _image_bomb(root: Path, defect: bool) -> str | None:
    image, _ = _photo(root)
    if defect:
        image.unlink()
        image.with_suffix(".png").write_bytes(deep_defects.bomb_png(40000, 40000))
        return f"{TR}/im/{GOOD}.png"
    return None


def _corrupt_png_stream(path: Path) -> None:
    """Zero 40 bytes of a PNG's compressed data; the file still ends with IEND (the header scan passes)."""
    data = path.read_bytes()
    start = data.index(b"IDAT") + 8
    path.write_bytes(data[:start] + bytes(40) + data[start + 40 :])


def _header_bomb(root: Path, defect: bool) -> str | None:
    image, _ = _photo(root)
    image.unlink()
    # 40000² is over OpenCV's 2**30 pixels; the near miss, 20000x10000, is under it.
    image.with_suffix(".png").write_bytes(deep_defects.bomb_png(*((40000, 40000) if defect else (20000, 10000))))
    return f"{TR}/im/{GOOD}.png" if defect else None


def _corrupt_image(root: Path, defect: bool) -> str | None:
    image, _ = _photo(root)
    png = image.with_suffix(".png")
    Image.open(image).save(png)
    image.unlink()
    if defect:  # the header and the end marker survive, the pixel data does not
        _corrupt_png_stream(png)
        return f"{TR}/im/{GOOD}.png"
    return None


def _truncated_image(root: Path, defect: bool) -> str | None:
    image, _ = _photo(root)
    if defect:  # the pixel data stops at 60 %: no end-of-image marker
        data = image.read_bytes()
        image.write_bytes(data[: int(len(data) * 0.6)])
        return f"{TR}/im/{GOOD}.jpg"
    return None


def _folder_case(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, image_dir="Im" if defect else "im")
    return f"{TR}/Im/{GOOD}.jpg" if defect else None


def _exif_orientation(root: Path, defect: bool) -> str | None:
    image, _ = _photo(root)
    exif = Image.Exif()
    exif[0x0112] = 6 if defect else 1
    Image.open(image).save(image, format="JPEG", quality=90, exif=exif)
    return f"{TR}/im/{GOOD}.jpg" if defect else None


def _mask_bytes(change: Callable[[Path], None], *, deep: bool = False) -> Build:
    """A mask rule: one pair whose mask file ``change`` spoils."""
    def build(root: Path, defect: bool) -> str | None:
        _, mask = _photo(root) if deep else make_pair(root, TR, GOOD)
        if defect:
            change(mask)
            return f"{TR}/gt/{GOOD}.png"
        return None
    return build


def _mask_size(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, mask_size=(20, 20) if defect else None)
    return f"{TR}/gt/{GOOD}.png" if defect else None


def _mask_mode(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, mask_mode="RGB" if defect else "L")
    return f"{TR}/gt/{GOOD}.png" if defect else None


def _lossy_mask(root: Path, defect: bool) -> str | None:
    make_pair(root, TR, GOOD, mask_ext=".jpg" if defect else ".png")
    return f"{TR}/gt/{GOOD}.jpg" if defect else None


def _truncate_png_stream(mask: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (48, 64), dtype=np.uint8)).save(buf, "PNG")
    mask.write_bytes(buf.getvalue()[:200])


def _noisy_png_mask(mask: Path) -> None:
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (48, 64), dtype=np.uint8)).save(mask, "PNG")
    _corrupt_png_stream(mask)


def _soft_mask(root: Path, defect: bool) -> str | None:
    for k in range(5):
        _photo(root, stem=f"1#Accessories#1#Bag#{k}_o", seed=10 + k)
    _, mask = _photo(root, seed=20)
    if defect:  # a matting-like alpha mask among binary ones
        y, x = np.mgrid[0:48, 0:64].astype(np.float32)
        d = np.sqrt(((x - 32) / 24) ** 2 + ((y - 24) / 18) ** 2)
        deep_defects.save(mask, (np.clip((1.1 - d) / 0.3, 0, 1) * 255).astype(np.uint8))
        return f"{TR}/gt/{GOOD}.png"
    return None


def _area_outlier(root: Path, defect: bool) -> str | None:
    for k in range(5):
        _photo(root, stem=f"16#Tool#90#Ladder#{k}_o", seed=30 + k, area=0.1 + 0.01 * k)
    _photo(root, stem="16#Tool#90#Ladder#9_o", seed=39, area=0.8 if defect else 0.12)
    return f"{TR}/gt/16#Tool#90#Ladder#9_o.png" if defect else None


def _mask_extension_mismatch(root: Path, defect: bool) -> str | None:
    _, mask = make_pair(root, TR, GOOD)
    if defect:  # JPEG content behind the .png name
        data = mask.read_bytes()
        Image.open(io.BytesIO(data)).save(mask, format="JPEG")
        return f"{TR}/gt/{GOOD}.png"
    return None


def _copy_pair(image: Path, mask: Path, root: Path, dataset: str, stem: str) -> None:
    for source, folder in ((image, "im"), (mask, "gt")):
        target = root / dataset / folder / f"{stem}{source.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _exact_duplicate(root: Path, defect: bool) -> str | None:
    image, mask = _photo(root, seed=1)
    if defect:
        _copy_pair(image, mask, root, TR, "1#Accessories#1#Bag#2_o")
    else:
        _photo(root, stem="1#Accessories#1#Bag#2_o", seed=2)
    return f"{TR}/im/{GOOD}.jpg" if defect else None


def _near_duplicate(root: Path, defect: bool) -> str | None:
    image, mask = _photo(root, seed=3, size=(96, 72))
    source = image if defect else _photo(root / "elsewhere", seed=4, size=(96, 72))[0]
    near = Image.open(source).resize((72, 54), Image.Resampling.LANCZOS)  # re-encoded and resized
    deep_defects.save(root / TR / "im" / "1#Accessories#1#Bag#2_o.jpg", near, quality=55)
    deep_defects.save(root / TR / "gt" / "1#Accessories#1#Bag#2_o.png",
                      Image.open(mask).resize((72, 54), Image.Resampling.NEAREST))
    shutil.rmtree(root / "elsewhere", ignore_errors=True)
    return f"{TR}/im/{GOOD}.jpg" if defect else None


def _cross_dataset_copy(first: str, second: str, clean_second: str) -> Build:
    """The same photo in ``first`` and ``second``; the near miss puts the copy in ``clean_second``."""
    def build(root: Path, defect: bool) -> str | None:
        image, mask = _photo(root, dataset=first, seed=5)
        _copy_pair(image, mask, root, second if defect else clean_second, "1#Accessories#1#Bag#2_o")
        return f"{first}/im/{GOOD}.jpg" if defect else None
    return build


def _spoil_with(array: np.ndarray) -> Callable[[Path], None]:
    return lambda mask: deep_defects.save(mask, array)


def _quality(kind: str, style: str = "photo", seed: int = 7) -> Build:
    """A DA6xx rule: one generated scene (examples/quality_defects.py), with ``kind`` planted or clean."""
    def build(root: Path, defect: bool) -> str | None:
        image, mask = quality_defects.scene(style, seed, (384, 288))
        if defect:
            other = quality_defects.scene(style, seed + 1000, (384, 288))[1] if kind == "swapped" else None
            image, mask = quality_defects.plant(kind, image, mask, seed, other)
        quality_defects.write_pair(root, TR, GOOD, image, mask)
        where = "gt" if kind in quality_defects.MASK_KINDS else "im"
        return f"{TR}/{where}/{GOOD}.{'png' if where == 'gt' else 'jpg'}" if defect else None
    return build


FIXTURES: dict[str, Case] = {
    # DA1 naming
    "DA101": Case(_stem_case("IMG_0001")),
    "DA102": Case(_stem_case("1#Accessories#1#Bag")),
    "DA103": Case(_stem_case("1#Reptile#1#Snake#1_o", "1#Accessories#1#Bag#1_o")),
    "DA104": Case(_stem_case("1#Accessories#1#Bag#a#b")),
    "DA105": Case(_stem_case("x#Accessories#y#Bag#1_o", "1#Accessories#1#Bag#1_o")),
    "DA106": Case(_undecodable),
    "DA107": Case(_normalization_twin, scan_options={"classes": "infer"}),
    # DA2 pairing
    "DA201": Case(_missing_mask),
    "DA202": Case(_orphan_mask),
    "DA203": Case(_image_extension),
    "DA204": Case(_mask_extension),
    "DA205": Case(_ambiguous_stem),
    "DA206": Case(_unreadable_path),
    "DA207": Case(_nested),
    "DA208": Case(_folder_case),
    # DA3 images
    "DA301": Case(_unreadable_image),
    "DA302": Case(_empty_image),
    "DA303": Case(_image_extension_mismatch),
    "DA304": Case(_image_mode),
    "DA305": Case(_image_bomb, deep=True),
    "DA306": Case(_corrupt_image, deep=True),
    "DA307": Case(_exif_orientation, deep=True),
    "DA308": Case(_mask_bytes(_truncate_png_stream)),
    "DA309": Case(_truncated_image),
    "DA310": Case(_header_bomb),
    # DA4 masks
    "DA401": Case(_mask_bytes(lambda mask: mask.write_bytes(b"\x89PNG\r\n\x1a\n"))),
    "DA402": Case(_mask_bytes(lambda mask: mask.write_bytes(b""))),
    "DA403": Case(_mask_size),
    "DA404": Case(_mask_mode),
    "DA405": Case(_lossy_mask),
    "DA406": Case(_mask_bytes(_noisy_png_mask, deep=True), deep=True),
    "DA407": Case(_mask_bytes(_spoil_with(np.zeros((48, 64), np.uint8)), deep=True), deep=True),
    "DA408": Case(_mask_bytes(_spoil_with(np.full((48, 64), 255, np.uint8)), deep=True), deep=True),
    "DA409": Case(_soft_mask, deep=True),
    "DA410": Case(_mask_bytes(_spoil_with(deep_defects.photo_array(64, 48, 999)[..., 0]), deep=True), deep=True),
    "DA411": Case(_area_outlier, deep=True),
    "DA412": Case(_mask_extension_mismatch),
    "DA413": Case(_mask_bytes(lambda mask: mask.write_bytes(deep_defects.bomb_png(40000, 40000)), deep=True),
                  deep=True),
    # DA5 duplicates
    "DA501": Case(_exact_duplicate, deep=True),
    "DA502": Case(_near_duplicate, deep=True),
    # The near misses move the copy to a dataset without a role / into the same evaluation set.
    "DA503": Case(_cross_dataset_copy("DIS-TE1", TR, "extra"), deep=True),
    "DA504": Case(_cross_dataset_copy("DIS-TE1", "DIS-VD", "DIS-TE1"), deep=True),
    # DA6 quality (generated scenes with the defect planted; the near miss is the clean scene)
    "DA601": Case(_quality("dark"), deep=True),
    "DA602": Case(_quality("overexposed"), deep=True),
    "DA603": Case(_quality("flat"), deep=True),
    "DA604": Case(_quality("blurry", "thin"), deep=True),
    "DA605": Case(_quality("aspect"), deep=True),
    "DA606": Case(_quality("greyrgb"), deep=True),
    "DA607": Case(_quality("tiny"), deep=True),
    "DA608": Case(_quality("shifted"), deep=True),
    "DA609": Case(_quality("swapped"), deep=True),
}
