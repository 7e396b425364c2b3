from hypothesis import given, settings
from hypothesis import strategies as st

from dis_audit.naming import (
    birefnet_class_field,
    format_name,
    parse_name,
    sanitize_field,
    split_path,
    split_stem,
)


def test_parse_dis5k_name_with_space_in_group():
    name = parse_name("12#Music Instrument#70#Violin#78787878_ddeeff0011_o")
    assert name.conforms
    assert name.group == "Music Instrument"
    assert name.class_field == "Violin"
    assert name.original_id == "78787878_ddeeff0011_o"


def test_four_fields_has_no_class_because_birefnet_reads_the_extension():
    name = parse_name("1#Accessories#1#Bag")
    assert name.class_field is None
    assert birefnet_class_field("1#Accessories#1#Bag.png") == "Bag.png"


def test_extra_fields_keep_class_and_join_original_id():
    name = parse_name("1#A#2#Bag#x#y")
    assert name.class_field == "Bag"
    assert name.original_id == "x#y"


def test_split_stem_like_birefnet():
    assert split_stem("a.b.jpg") == ("a.b", ".jpg")
    assert split_stem(".DS_Store") == (".DS_Store", "")
    assert split_stem("noext") == ("noext", "")


def test_format_name_sanitizes_fields():
    assert format_name(1, "Tool", 90, "Ladder", "a#b/c\\d\x01") == "1#Tool#90#Ladder#a_b_c_d_"
    assert sanitize_field("  ") == "unnamed"


@settings(max_examples=400)
@given(st.text())
def test_parser_never_raises_and_agrees_with_birefnet(stem):
    name = parse_name(stem)
    assert SEP_JOIN(name.fields) == stem
    try:
        birefnet = birefnet_class_field(stem.replace("/", "_") + ".png")
    except IndexError:
        assert name.class_field is None
        return
    if name.class_field is not None:
        assert name.class_field == birefnet
    else:  # fewer than five fields: BiRefNet's field carries the extension
        assert birefnet.endswith(".png")


def SEP_JOIN(fields):
    return "#".join(fields)


@given(st.lists(st.sampled_from(["a", ".", "/", "b.c", "#", "é", ".jpg", ""]), max_size=8).map("".join))
def test_split_path_is_split_stem_of_the_file_name(path):
    assert split_path(path) == split_stem(path.rsplit("/", 1)[-1])
