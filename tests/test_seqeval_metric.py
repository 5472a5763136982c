"""``seqeval_metric``: the seqeval package's entity-level micro P/R/F, without seqeval at run time."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerel_spacy.seqeval_metric import entities, entity_prf

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC", "I-ORG"]


def test_hand_computed_example():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "O"]]  # a stray I- starts a chunk, as in conlleval
    assert entities(gold) == [("PER", 0, 1), ("LOC", 3, 3), ("ORG", 5, 5)]
    precision, recall, f1 = entity_prf(gold, predicted)
    assert (precision, recall) == (2 / 3, 2 / 3) and f1 == pytest.approx(2 / 3)
    assert entity_prf([["O"]], [["O"]]) == (0.0, 0.0, 0.0)


def test_sequences_of_other_lengths_are_refused():
    with pytest.raises(ValueError, match="same lengths"):
        entity_prf([["O", "O"]], [["O"]])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=4).flatmap(
    lambda lengths: st.tuples(*[st.tuples(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n),
                                          st.lists(st.sampled_from(LABELS), min_size=n, max_size=n))
                                for n in lengths])))
def test_same_numbers_as_the_seqeval_package(pairs):
    seqeval = pytest.importorskip("seqeval.metrics", reason="the cross-check needs seqeval (the test extra)")
    from seqeval.metrics.sequence_labeling import get_entities
    gold = [list(g) for g, _ in pairs]
    predicted = [list(p) for _, p in pairs]
    assert entities(gold) == get_entities(gold)
    expected = (seqeval.precision_score(gold, predicted, zero_division=0),
                seqeval.recall_score(gold, predicted, zero_division=0),
                seqeval.f1_score(gold, predicted, zero_division=0))
    assert entity_prf(gold, predicted) == pytest.approx(expected)
