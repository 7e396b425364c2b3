"""Generate the bundled example dataset, ``examples/dis-mini``, deterministically.

    python examples/make_example.py [OUT_DIR]

Real DIS5K file names with tiny generated pixels, in BiRefNet's layout
(``<dataset>/im`` + ``<dataset>/gt``), with realistic defects planted so that
``dis-audit scan examples/dis-mini`` has something to report: naming, pairing and header
defects here, and (from ``deep_defects.py``) those only ``scan --deep`` sees: corrupt pixel
data, a decompression bomb, EXIF rotation, mask quality, duplicates and train/test leakage.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dis_audit.testing import image_array, make_pair, write_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deep_defects import plant as plant_deep_defects

CLEAN = {
    "DIS-TR": [
        "1#Accessories#1#Bag#26345192014_f722d1ef0b_o", "1#Accessories#3#Eyeglasses#109390527_bfc9cf0dd7_o",
        "2#Aircraft#5#Airplane#2278719553_e3d9ee4f98_o", "2#Aircraft#6#Balloon#3296553994_f1a7f4b7d3_o",
        "3#Aquatic#8#Lobster#4690153262_a3e3b1c4a1_o", "3#Aquatic#13#Seahorse#5047891234_c0ffee1234_o",
        "4#Architecture#15#Bridge#48270132_a1b2c3d4e5_o", "4#Architecture#20#Pavilion#IMG_20180712_101112",
        "5#Electrical#28#Cable#11223344_0a1b2c3d4e_o", "6#Electronics#32#Headset#99887766_aabbccddee_o",
        "7#Entertainment#40#Kite#5566778899_1234567890_o", "8#Furniture#45#Chair#13579246_abcdefabcd_o",
        "9#Insect#52#Butterfly#24681357_0011223344_o", "9#Insect#52#Butterfly#97531864_5566778899_o",
        "9#Insect#53#Dragonfly#86420975_99aabbccdd_o", "10#Kitchenware#57#WireWhisk#12121212_eeff001122_o",
        "11#Machine#62#Crane#34343434_3344556677_o", "12#Music Instrument#68#Harp#56565656_8899aabbcc_o",
        "12#Music Instrument#70#Violin#78787878_ddeeff0011_o", "13#Non-motor Vehicle#74#Bicycle#90909090_2233445566_o",
        "14#Plant#80#Tree#10101010_7788990011_o", "15#Sports#85#Racket#20202020_aabbccdd00_o",
        "16#Tool#90#Ladder#30303030_1122334455_o", "17#Vehicle#95#Tractor#40404040_6677889900_o",
    ],
    "DIS-VD": [
        "1#Accessories#1#Bag#51515151_abcdef0123_o", "2#Aircraft#5#Airplane#52525252_0123abcdef_o",
        "8#Furniture#45#Chair#53535353_fedcba9876_o", "14#Plant#80#Tree#54545454_9876fedcba_o",
        "16#Tool#90#Ladder#IMG_20190101_120000",
    ],
    "DIS-TE1": [
        "9#Insect#52#Butterfly#61616161_aaaaaaaaaa_o", "12#Music Instrument#70#Violin#62626262_bbbbbbbbbb_o",
        "13#Non-motor Vehicle#74#Bicycle#63636363_cccccccccc_o",
    ],
}


def build(out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    for dataset, stems in CLEAN.items():
        for stem in stems:
            make_pair(out, dataset, stem, size=(48, 36))
    tr = "DIS-TR"
    # DA103: a class BiRefNet's list lacks (a DIS5K test-set class), and a wrongly cased one.
    make_pair(out, "DIS-TE1", "22#Reptile#220#Snake#71717171_1212121212_o", size=(48, 36))
    make_pair(out, tr, "2#Aircraft#5#airplane#81818181_3434343434_o", size=(48, 36))
    # DA101: a camera name with no class at all.
    make_pair(out, tr, "IMG_0001", size=(48, 36))
    # DA203: a lowercase .jpeg image BiRefNet silently skips.
    make_pair(out, tr, "8#Furniture#46#Bed#82828282_5656565656_o", size=(48, 36), image_ext=".jpeg")
    # DA201: an image whose mask is missing; DA202: a mask whose image was renamed away.
    make_pair(out, tr, "16#Tool#91#Scissor#83838383_7878787878_o", size=(48, 36), mask_ext=None)
    make_pair(out, tr, "16#Tool#92#Knife#84848484_9090909090_o", size=(48, 36))
    (out / tr / "im" / "16#Tool#92#Knife#84848484_9090909090_o.jpg").unlink()
    # DA403: the mask was exported at another size; DA404: an RGB mask; DA405: a JPEG mask.
    make_pair(out, tr, "17#Vehicle#96#Truck#85858585_abababab12_o", size=(48, 36), mask_size=(36, 48))
    make_pair(out, tr, "17#Vehicle#97#Yacht#86868686_cdcdcdcd34_o", size=(48, 36), mask_mode="RGB")
    make_pair(out, tr, "15#Sports#86#Golf#87878787_efefefef56_o", size=(48, 36), mask_ext=".jpg")
    # DA301: a truncated image (a download cut off after 20 bytes).
    image, _ = make_pair(out, tr, "5#Electrical#29#Fan#88888888_0101010101_o", size=(48, 36))
    image.write_bytes(image.read_bytes()[:20])
    # Clutter that is counted and skipped, not a sample.
    (out / tr / "im" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (out / tr / "gt" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (out / "DIS-VD" / "im" / "notes.txt").write_text("exported 2024-05-01\n")
    write_image(out / "DIS-VD" / "im" / "ignored.tmp", image_array(8, 8))  # not an image extension
    plant_deep_defects(out)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "dis-mini"
    print(f"wrote {build(target)}")
