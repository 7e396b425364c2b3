import pytest
from corpus_paths import corpus

from dis_audit.vocab import Vocabulary, VocabularyError, builtin_dis5k, infer_vocabulary, load_vocabulary_file


def test_builtin_matches_birefnet_order():
    # Against BiRefNet's own list (the corpus), not the shipped copy the other tests use.
    birefnet_classes = corpus("birefnet_dis5k_classes.txt").read_text(encoding="utf-8").split()
    vocab = builtin_dis5k()
    assert list(vocab.names) == birefnet_classes
    assert len(vocab) == 219
    assert vocab.id_of("Airplane") == 0 and vocab.id_of("Yacht") == 218
    assert vocab.id_of("Snake") == -1


@pytest.mark.parametrize(
    "typo, expected",
    [("airplane", "Airplane"), ("Bicycle Frame", "BicycleFrame"), ("Bag ", "Bag"), ("wire_whisk", "WireWhisk"),
     ("Butterflly", "Butterfly")],
)
def test_near_miss_suggestions(typo, expected):
    assert builtin_dis5k().suggest(typo) == expected


def test_no_suggestion_for_a_new_class():
    vocab = builtin_dis5k()
    assert vocab.suggest("Snake") is None
    assert vocab.suggest("Mop") is None


def test_extended_appends_at_end_and_keeps_ids():
    vocab = builtin_dis5k()
    bigger = vocab.extended(["Snake", "Mop", "Airplane"])
    assert bigger.names[:219] == vocab.names
    assert bigger.names[219:] == ("Mop", "Snake")
    assert bigger.id_of("Airplane") == 0


def test_duplicate_names_refused():
    with pytest.raises(VocabularyError, match="twice"):
        Vocabulary(("A", "B", "A"))


def test_vocabulary_file(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# my classes\nCat\n\nDog\n")
    assert load_vocabulary_file(path).names == ("Cat", "Dog")
    with pytest.raises(VocabularyError, match="not found"):
        load_vocabulary_file(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(VocabularyError, match="no classes"):
        load_vocabulary_file(tmp_path / "empty.txt")


def test_infer_is_sorted_unique():
    assert infer_vocabulary(["b", "a", None, "b"]).names == ("a", "b")
