"""Subject-marked relation passes: which passes, the marked words, the pieces, the triples."""
import numpy
import pytest

from nerel_spacy.relation_markers import (
    SubjectPass,
    mark_subject,
    mention_pieces,
    pass_pieces,
    pass_triples,
    sentence_ranges,
    subject_passes,
    type_words,
    word_pieces,
)

# "Министр иностранных дел России Сергей Лавров прилетел в Москву . Он рад ."
SENTENCE = [0] * 10 + [1] * 3
MENTIONS = numpy.asarray([(0, 4, 0), (3, 4, 1), (4, 6, 2), (8, 9, 3), (10, 11, 2)], dtype="int32")


def test_sentence_ranges():
    assert sentence_ranges(SENTENCE) == {0: (0, 10), 1: (10, 13)}


def test_one_pass_per_mention_of_a_sentence_with_two_or_more():
    passes = subject_passes(7, SENTENCE, MENTIONS, [(2, 0, 1), (2, 0, 0), (0, 1, 1), (2, 4, 0)], n_labels=2)
    # mention 4 is alone in sentence 1: no pass; the cross-sentence triple (2, 4) has none
    assert [(p.subject, p.objects) for p in passes] == [
        (0, (1, 2, 3)), (1, (0, 2, 3)), (2, (0, 1, 3)), (3, (0, 1, 2))
    ]
    assert all(p.doc == 7 and p.sentence == (0, 10) for p in passes)
    assert passes[2].targets.tolist() == [[1, 1], [0, 0], [0, 0]]  # two labels on one pair
    assert passes[0].targets.tolist() == [[0, 1], [0, 0], [0, 0]]
    assert not passes[1].targets.any() and not passes[3].targets.any()


def test_a_mention_across_sentences_is_in_none():
    mentions = numpy.asarray([(8, 11, 0), (0, 1, 0), (2, 3, 1)], dtype="int32")
    passes = subject_passes(0, SENTENCE, mentions, [], n_labels=1)
    assert {p.subject for p in passes} == {1, 2}


def test_type_words():
    assert type_words("STATE_OR_PROVINCE") == ["state", "or", "province"]
    assert type_words("PERSON") == ["person"]


def test_mark_subject_sets_off_the_subject_with_its_type():
    tokens = "Министр России Сергей Лавров прилетел .".split()
    marked = mark_subject(tokens, (2, 4), "PERSON")
    assert marked.words == ["Министр", "России", "@", "*", "person", "*", "Сергей", "Лавров", "@", "прилетел", "."]
    assert (marked.subject_open, marked.subject_close) == (2, 8)
    assert marked.token_word == [0, 1, 6, 7, 9, 10]


def test_mark_subject_at_the_sentence_edges_and_without_whitespace():
    tokens = ["Лавров", "\n", "прилетел"]
    first = mark_subject(tokens, (0, 1), "PERSON")
    assert first.words == ["@", "*", "person", "*", "Лавров", "@", "прилетел"]
    assert first.token_word == [4, -1, 6]
    last = mark_subject(tokens, (2, 3), "EVENT")
    assert last.words == ["Лавров", "@", "*", "event", "*", "прилетел", "@"]
    assert (last.subject_open, last.subject_close) == (1, 6)


def test_a_long_sentence_is_cut_around_the_subject():
    tokens = [f"w{i}" for i in range(100)]
    marked = mark_subject(tokens, (60, 62), "CITY", max_words=20)
    assert len(marked.words) == 20
    kept = [i for i, w in enumerate(marked.token_word) if w >= 0]
    assert len(kept) == 20 - 5 and kept == list(range(kept[0], kept[0] + 15))
    assert kept[0] <= 60 and 61 <= kept[-1]
    assert marked.words[marked.subject_open + 4] == "w60" and marked.words[marked.subject_close] == "@"


def test_word_pieces_and_mention_pieces():
    # [CLS] w0 w0 w1 w2 w2 w2 [SEP]; word 3 has no pieces
    first, last = word_pieces([None, 0, 0, 1, 2, 2, 2, None], 4)
    assert first.tolist() == [1, 3, 4, -1] and last.tolist() == [2, 3, 6, -1]
    marked = mark_subject(["a", "b", "c", "d"], (0, 1), "PERSON")  # words: @ * person * a @ b c d
    first, last = word_pieces([None, 0, 1, 2, 3, 4, 4, 5, 6, 6, 7, None], 9)
    assert mention_pieces(marked, first, last, 1, 3) == (8, 10)  # "b c": first of b, last of c
    assert mention_pieces(marked, first, last, 0, 1) == (5, 6)
    assert mention_pieces(marked, first, last, 3, 4) is None  # "d" (word 8) was cut off


def test_pass_pieces_finds_markers_and_objects():
    one = SubjectPass(0, (0, 4), 0, (1, 2), numpy.zeros((2, 1), dtype="float32"))
    mentions = numpy.asarray([(0, 1, 0), (1, 3, 1), (3, 4, 1)], dtype="int32")
    marked = mark_subject(["a", "b", "c", "d"], (0, 1), "PERSON")
    found = pass_pieces(marked, [None, 0, 1, 2, 3, 4, 4, 5, 6, 6, 7, None], mentions, one)
    assert found.subject == (1, 7)
    assert found.objects == [0] and found.object_pieces == [(8, 10)]  # "d" was cut: object 1 dropped
    assert pass_pieces(marked, [None, 0, 1, 2, 3, 4, None], mentions, one) is None  # closing marker cut


def test_pass_triples_over_a_threshold():
    one = SubjectPass(0, (0, 9), 4, (1, 2, 3), numpy.zeros((3, 2), dtype="float32"))
    probabilities = numpy.asarray([[0.9, 0.1], [0.5, 0.6]], dtype="float32")
    assert pass_triples(one, [0, 2], probabilities, 0.5) == [
        (4, 1, 0, pytest.approx(0.9)), (4, 3, 0, pytest.approx(0.5)), (4, 3, 1, pytest.approx(0.6))
    ]
