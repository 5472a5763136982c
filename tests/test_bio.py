"""BIO encoding and constrained decoding: decoded spans are always valid."""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerel_spacy.bio import (
    bio_to_spans,
    constrained_viterbi,
    constrained_viterbi_batch,
    make_bio_labels,
    spans_to_bio,
    tag_ids_to_spans,
    transition_constraints,
)

LABELS = make_bio_labels(["PERSON", "CITY", "DATE"])


def is_valid(tags):
    previous = "O"
    for tag in tags:
        if tag.startswith("I-"):
            if previous == "O" or previous[2:] != tag[2:]:
                return False
        previous = tag
    return True


def test_labels_are_stable_and_complete():
    assert LABELS == ["O", "B-CITY", "I-CITY", "B-DATE", "I-DATE", "B-PERSON", "I-PERSON"]


def test_round_trip_spans_tags():
    spans = [(0, 2, "PERSON"), (3, 4, "CITY"), (4, 6, "CITY")]
    tags = spans_to_bio(7, spans)
    assert tags == ["B-PERSON", "I-PERSON", "O", "B-CITY", "B-CITY", "I-CITY", "O"]
    assert bio_to_spans(tags) == spans


def test_overlapping_spans_are_refused():
    with pytest.raises(ValueError):
        spans_to_bio(4, [(0, 2, "PERSON"), (1, 3, "CITY")])


def test_lenient_decoding_of_invalid_tags():
    assert bio_to_spans(["I-CITY", "I-DATE", "I-DATE", "O", "I-CITY"]) == [
        (0, 1, "CITY"), (1, 3, "DATE"), (4, 5, "CITY"),
    ]


def test_viterbi_picks_best_valid_path_not_greedy():
    allowed, start = transition_constraints(LABELS)
    index = {t: i for i, t in enumerate(LABELS)}
    scores = numpy.full((2, len(LABELS)), -10.0)
    # Greedy would say O, I-CITY (invalid); the best valid path is B-CITY, I-CITY.
    scores[0, index["O"]] = -0.1
    scores[0, index["B-CITY"]] = -0.3
    scores[1, index["I-CITY"]] = -0.05
    path = [LABELS[i] for i in constrained_viterbi(scores, allowed, start)]
    assert path == ["B-CITY", "I-CITY"]


def test_viterbi_on_empty_doc():
    allowed, start = transition_constraints(LABELS)
    assert constrained_viterbi(numpy.zeros((0, len(LABELS))), allowed, start) == []


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**31 - 1))
def test_viterbi_never_yields_invalid_sequences(n_tokens, seed):
    rng = numpy.random.default_rng(seed)
    scores = rng.normal(scale=5.0, size=(n_tokens, len(LABELS)))
    allowed, start = transition_constraints(LABELS)
    tags = [LABELS[i] for i in constrained_viterbi(scores, allowed, start)]
    assert is_valid(tags)
    spans = bio_to_spans(tags)
    assert spans_to_bio(n_tokens, spans) == tags


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(LABELS), max_size=30))
def test_lenient_decoding_never_yields_overlaps(tags):
    spans = bio_to_spans(tags)
    covered = [i for s, e, _ in spans for i in range(s, e)]
    assert len(covered) == len(set(covered))
    assert all(0 <= s < e <= len(tags) for s, e, _ in spans)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=25), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=2**31 - 1),
    st.booleans(),
)
@pytest.mark.parametrize("labels", [LABELS, ["O", "B-CITY", "B-DATE", "I-DATE", "I-CITY", "B-PERSON", "I-PERSON"]])
def test_batched_viterbi_returns_the_per_doc_paths_ties_included(labels, lengths, seed, integer_scores):
    """Integer scores make ties common: the batch must break them as the per-doc search does.

    The second label order is not make_bio_labels', so it takes the general path.
    """
    rng = numpy.random.default_rng(seed)
    allowed, start = transition_constraints(labels)
    if integer_scores:
        docs = [rng.integers(-3, 1, size=(n, len(labels))).astype("float64") for n in lengths]
    else:
        docs = [rng.normal(scale=5.0, size=(n, len(labels))) for n in lengths]
    expected = [constrained_viterbi(doc, allowed, start) for doc in docs]
    assert constrained_viterbi_batch(docs, allowed, start) == expected


def test_batched_viterbi_on_no_docs_and_empty_docs():
    allowed, start = transition_constraints(LABELS)
    assert constrained_viterbi_batch([], allowed, start) == []
    empty = numpy.zeros((0, len(LABELS)))
    assert constrained_viterbi_batch([empty, empty], allowed, start) == [[], []]


def test_batched_viterbi_with_an_unreachable_tag():
    """A tag no tag may precede (nor start) is never chosen, as in the per-doc search."""
    allowed, start = transition_constraints(LABELS)
    allowed = allowed.copy()
    allowed[:, 2] = False
    rng = numpy.random.default_rng(0)
    docs = [rng.normal(size=(n, len(LABELS))) for n in (5, 1, 9)]
    for doc in docs:
        doc[:, 2] = 10.0
    expected = [constrained_viterbi(doc, allowed, start) for doc in docs]
    result = constrained_viterbi_batch(docs, allowed, start)
    assert result == expected
    assert all(2 not in path for path in result)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LABELS + ["X"]), max_size=40))
def test_spans_from_tag_ids_are_those_of_the_tags(tags):
    """Any sequence, invalid ones and a tag without a prefix included."""
    labels = LABELS + ["X"]
    path = [labels.index(tag) for tag in tags]
    assert tag_ids_to_spans(path, labels) == bio_to_spans(tags)
