"""Every --class-from source, the resolver's vocabulary rules, and map/regex errors."""

from __future__ import annotations

import pytest
from corpus_paths import CORPORA

from dis_audit.classes_from import (
    ClassResolver,
    ClassSourceError,
    SampleRef,
    parse_class_from,
    parse_cod10k,
)
from dis_audit.paths import UnsafePathError, check_relative_path
from dis_audit.vocab import Vocabulary, builtin_dis5k

VOCAB = Vocabulary(("Airplane", "Bag", "BicycleFrame", "Cat", "Dog"), source="test")


def ref(stem: str, image: str | None = None, mask: str | None = None, dataset: str = "DS", folder: str = "") -> SampleRef:
    return SampleRef(stem, image or f"{dataset}/im/{stem}.jpg", mask, dataset, folder)


def resolve(specs, r: SampleRef, vocab: Vocabulary = VOCAB, extend: bool = False):
    return ClassResolver(parse_class_from(specs), vocab, extend).resolve(r)


def test_name_source_only_vocabulary_classes():
    assert resolve([], ref("1#G#0#Bag#x")).class_name == "Bag"
    assert resolve([], ref("1#G#0#Bag#x")).source == "name"
    assert not resolve([], ref("1#G#0#bag#x")).ok  # near miss: only fuzzy may fix it
    assert not resolve([], ref("IMG_0001")).ok
    # four fields: BiRefNet fails on it, but the class field is there to read
    assert resolve([], ref("1#G#0#Cat")).class_name == "Cat"


def test_fuzzy_source():
    res = resolve(["fuzzy"], ref("1#G#0#airplane#x"))
    assert (res.class_name, res.source) == ("Airplane", "fuzzy")
    assert resolve(["fuzzy"], ref("1#G#0#Bicycle Frame#x")).class_name == "BicycleFrame"
    assert not resolve(["fuzzy"], ref("1#G#0#Zebra#x")).ok


def test_map_source_keys_by_stem_path_and_glob(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("key,class\nIMG_1,Cat\nDS/im/IMG_2.jpg,Dog\nDS/im/IMG_3,Bag\nDS/gt/IMG_4.png,Airplane\nDS/im/dog_*,Dog\n")
    spec = [f"map:{m}"]
    assert resolve(spec, ref("IMG_1")).class_name == "Cat"
    assert resolve(spec, ref("IMG_2")).class_name == "Dog"
    assert resolve(spec, ref("IMG_3")).class_name == "Bag"
    assert resolve(spec, ref("IMG_4", mask="DS/gt/IMG_4.png")).class_name == "Airplane"
    assert resolve(spec, ref("dog_17")).class_name == "Dog"
    assert resolve(spec, ref("IMG_9")).class_name is None


def test_map_refuses_paths_leaving_root(tmp_path):
    for key in ("../x.jpg", "/etc/passwd", "a/../../b", "a\\..\\b", "C:evil", "a/./b"):
        m = tmp_path / "m.csv"
        m.write_text(f"key,class\n{key},Cat\n")
        with pytest.raises(UnsafePathError):
            parse_class_from([f"map:{m}"])
    m.write_bytes(b"key,class\nx\x00y,Cat\n")
    with pytest.raises(UnsafePathError):
        parse_class_from([f"map:{m}"])


def test_map_errors(tmp_path):
    with pytest.raises(ClassSourceError, match="not found"):
        parse_class_from([f"map:{tmp_path / 'none.csv'}"])
    bad = tmp_path / "bad.csv"
    bad.write_text("key,class\nIMG_1\n")
    with pytest.raises(ClassSourceError, match="expected 'key,class'"):
        parse_class_from([f"map:{bad}"])
    clash = tmp_path / "clash.csv"
    clash.write_text("IMG_1,Cat\nIMG_1,Dog\n")
    with pytest.raises(ClassSourceError, match="maps to"):
        parse_class_from([f"map:{clash}"])


def test_regex_source_with_group():
    spec = [r"regex:^(?P<group>[a-z]+)_(?P<class>[A-Z][a-z]+)_\d+$"]
    res = resolve(spec, ref("pets_Cat_001"))
    assert (res.class_name, res.group) == ("Cat", "pets")
    assert resolve(spec, ref("pets_cat_001")).class_name is None
    with pytest.raises(ClassSourceError, match="named group"):
        parse_class_from([r"regex:(\w+)"])
    with pytest.raises(ClassSourceError, match="not a valid"):
        parse_class_from([r"regex:(?P<class>"])


def test_folder_and_dataset_sources():
    assert resolve(["folder"], ref("x", "DS/im/Cat/x.jpg", folder="Cat")).class_name == "Cat"
    assert resolve(["folder"], ref("x")).class_name is None  # directly in the image folder: no class folder
    assert resolve(["dataset"], ref("x", dataset="Dog")).class_name == "Dog"


def test_first_match_wins_and_name_position(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("1#G#0#Bag#x,Cat\n")
    assert resolve([f"map:{m}"], ref("1#G#0#Bag#x")).class_name == "Bag"  # name is implicitly first
    assert resolve([f"map:{m}", "name"], ref("1#G#0#Bag#x")).class_name == "Cat"
    with pytest.raises(ClassSourceError, match="unknown --class-from"):
        parse_class_from(["bogus"])


def test_outside_vocabulary_refused_unless_extend():
    res = resolve(["dataset"], ref("x", dataset="Zebra"))
    assert res.refused and "extend-vocab" in res.reason
    resolver = ClassResolver(parse_class_from(["dataset"]), VOCAB, extend_vocab=True)
    assert resolver.resolve(ref("x", dataset="Zebra")).ok
    assert resolver.final_vocabulary().names == (*VOCAB.names, "Zebra")  # appended, ids stable
    # same class up to case/punctuation: the vocabulary's spelling
    assert resolve(["dataset"], ref("x", dataset="bicycle_frame")).class_name == "BicycleFrame"
    # a misspelling is a typo, never a new class, even with --extend-vocab
    near = ClassResolver(parse_class_from(["dataset"]), VOCAB, extend_vocab=True).resolve(ref("x", dataset="Airplanes"))
    assert near.refused and "did you mean 'Airplane'" in near.reason


def test_unsafe_class_names_refused(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("IMG_1,Ca#t\n")
    assert resolve([f"map:{m}"], ref("IMG_1"), extend=True).refused


def test_check_relative_path_accepts_plain_paths():
    assert check_relative_path("DS/im/a b#c.jpg") == "DS/im/a b#c.jpg"


def test_cod10k_parser_cases():
    assert parse_cod10k("COD10K-CAM-1-Aquatic-1-BatFish-2") == ("BatFish", "Aquatic", 1)
    assert parse_cod10k("COD10K-NonCAM-3-Flying-1515") == ("Flying", "Flying", 3)
    assert parse_cod10k("COD10K-NonCAM-5-Background-5-Vegetation-4854") == ("Vegetation", "Background", 5)
    assert parse_cod10k("COD10K-CAM-3-Flying-1515") is None  # CAM names always carry a sub-class
    assert parse_cod10k("IMG_0001") is None


@pytest.mark.skipif(not (CORPORA / "cod10k_names.txt").is_file(), reason="shared corpora not present")
def test_cod10k_corpus_every_name_gets_its_sub_class():
    names = [line.strip() for line in (CORPORA / "cod10k_names.txt").read_text().splitlines() if line.strip()]
    assert len(names) == 298
    resolver = ClassResolver(parse_class_from(["cod10k"]), Vocabulary((), source="empty"), extend_vocab=True)
    for name in names:
        stem = name.rsplit(".", 1)[0] if name.endswith((".jpg", ".png")) else name
        parts = stem.split("-")
        res = resolver.resolve(ref(stem))
        assert res.ok, name
        expected = parts[5] if len(parts) == 7 else parts[3]  # NonCAM with 5 fields: the super-class
        assert res.class_name == expected, name
        assert res.group == parts[3] and res.group_index == int(parts[2])
    final = resolver.final_vocabulary()
    assert {"BatFish", "Pipefish", "Octopus", "Amphibian", "Flying", "Vegetation"} <= set(final.names)


def test_dis5k_vocabulary_sources_work_with_builtin():
    assert resolve(["fuzzy"], ref("2#Aircraft#5#airplane#1"), builtin_dis5k()).class_name == "Airplane"
