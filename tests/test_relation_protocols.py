"""The extraction and classification protocols, on hand-computed pair probabilities."""
import numpy
import pytest

from nerel_spacy.relation_protocols import (
    NA,
    DocPairs,
    Instance,
    classification_instances,
    classification_scores,
    classify,
    extraction_scores,
)
from nerel_spacy.relation_decoding import one_inside_the_other as is_nested


def hand_doc():
    """Pairs (0,1) related twice, (0,2) related and mistyped, (1,0) unrelated, (2,3) across
    sentences; the gold (1,3) is in one sentence but no candidate (beyond the window).
    Mention 1 lies inside mention 0."""
    return DocPairs(
        heads=numpy.asarray([0, 1, 0, 2]),
        tails=numpy.asarray([1, 0, 2, 3]),
        probs=numpy.asarray([[0.9, 0.2, 0.1], [0.1, 0.1, 0.6], [0.1, 0.4, 0.35], [0.9, 0.0, 0.0]]),
        in_sentence=numpy.asarray([True, True, True, False]),
        gold={(0, 1, 0), (0, 1, 1), (0, 2, 2), (1, 3, 0)},
        mentions=numpy.asarray([[0, 3, 0], [1, 2, 1], [5, 6, 0], [40, 41, 2]]),
    )


def test_extraction_is_multi_label_over_in_sentence_pairs():
    # predicted at 0.3: (0,1,0) right, (1,0,2) wrong, (0,2,1) wrong, (0,2,2) right; the pair
    # across sentences is not asked; (0,1,1) and the window's (1,3,0) are missed
    scores = extraction_scores([hand_doc()], 0.3)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 2, 2)
    assert scores["p"] == scores["r"] == scores["f"] == pytest.approx(0.5)
    assert extraction_scores([hand_doc()], 0.95)["tp"] == 0
    # no two mentions of a pair's side are nested in hand_doc: the rule changes nothing
    assert extraction_scores([hand_doc()], 0.3, nested_arguments="best") == scores
    # mention 2 now contains mention 1: (0,1,·) and (0,2,·) compete type by type. At 0.3 no type
    # is predicted for both; at 0.05 every type is, and the lower of each goes: (0,2,0) and
    # (0,1,2), both false, and (0,1,1), the gold one (0.2 against 0.4)
    nest = hand_doc()._replace(mentions=numpy.asarray([[0, 3, 0], [1, 2, 1], [1, 3, 0], [40, 41, 2]]))
    assert extraction_scores([nest], 0.3, nested_arguments="best") == extraction_scores([nest], 0.3)
    every, best = extraction_scores([nest], 0.05), extraction_scores([nest], 0.05, nested_arguments="best")
    assert (best["tp"], best["fp"]) == (every["tp"] - 1, every["fp"] - 2)


def test_instances_are_gold_triples_then_unrelated_in_sentence_pairs():
    instances = classification_instances([hand_doc()], None)
    assert instances == [
        Instance(0, 0, 1, 0), Instance(0, 0, 1, 1), Instance(0, 0, 2, 2), Instance(0, 1, 3, 0), Instance(0, 1, 0, NA),
    ]
    assert classification_instances([hand_doc()], 0.0) == instances[:4]


def test_classification_answers_the_best_type_or_na():
    doc = hand_doc()
    instances = classification_instances([doc], None)
    # (0,1) → 0 twice (one of its two gold types right); (0,2) → 1; (1,3) no candidate; (1,0) → 2
    assert classify([doc], instances, 0.3) == [0, 0, 1, NA, 2]
    assert classify([doc], instances, 0.95) == [NA] * 5
    scores = classification_scores(instances, classify([doc], instances, 0.3))
    assert scores["p"] == pytest.approx(1 / 4) and scores["r"] == pytest.approx(1 / 4)
    assert (scores["instances"], scores["na_instances"]) == (5, 1)
    # without NA instances the unrelated pair's wrong answer is gone: P 1/3, R 1/4
    positives = instances[:4]
    scores = classification_scores(positives, classify([doc], positives, 0.3))
    assert scores["p"] == pytest.approx(1 / 3) and scores["r"] == pytest.approx(1 / 4)
    assert scores["f"] == pytest.approx(2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))
    assert classification_scores(instances, [NA] * 5)["f"] == 0.0
    with pytest.raises(ValueError, match="5 instances but 4 answers"):
        classification_scores(instances, [NA] * 4)


def test_negatives_are_sampled_per_gold_triple_with_a_seed():
    n = 20  # 20 mentions in one sentence: 380 ordered pairs, 4 of them related
    heads, tails = numpy.nonzero(~numpy.eye(n, dtype=bool))
    gold = {(0, 1, 0), (2, 3, 1), (4, 5, 0), (6, 7, 2)}
    mentions = numpy.asarray([(i, i + 1, 0) for i in range(n)])
    doc = DocPairs(heads, tails, numpy.zeros((len(heads), 3)), numpy.ones(len(heads), dtype=bool), gold, mentions)
    half = classification_instances([doc], 0.5, seed=3)
    assert len(half) == 4 + 2 and all(i.label == NA for i in half[4:])
    assert half == classification_instances([doc], 0.5, seed=3)
    assert {i.label for i in classification_instances([doc], 2.0)[4:]} == {NA}
    assert len(classification_instances([doc], 2.0)) == 4 + 8
    assert len(classification_instances([doc], 1000.0)) == len(classification_instances([doc], None)) == 380
    draws = {tuple(classification_instances([doc], 1.0, seed=s)[4:]) for s in range(5)}
    assert len(draws) > 1


def test_nested_pairs_only():
    mentions = hand_doc().mentions
    assert is_nested(mentions, 0, 1) and is_nested(mentions, 1, 0) and not is_nested(mentions, 0, 2)
    assert is_nested(numpy.asarray([[2, 4, 0], [2, 4, 1]]), 0, 1)  # the same tokens, two types
    # asked: (0,1) → type 0 right, (1,0) → type 2 wrong; gold (0,1,1) missed
    scores = extraction_scores([hand_doc()], 0.3, nested_only=True)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 1)
    instances = classification_instances([hand_doc()], None, nested_only=True)
    assert instances == [Instance(0, 0, 1, 0), Instance(0, 0, 1, 1), Instance(0, 1, 0, NA)]
    scores = classification_scores(instances, classify([hand_doc()], instances, 0.3))
    assert scores["p"] == pytest.approx(1 / 3) and scores["r"] == pytest.approx(1 / 2)


def test_best_of_a_nest_is_chosen_among_every_pair_before_the_scored_ones_are_kept():
    """As the pipeline decodes: a variant outside the scored pairs can still win its nest.
    A = (0, 4), B = (1, 2) inside A, C = (1, 6) around B, crossing A; (A, C) outscores (A, B),
    so (A, B) goes, although only the nested pair (A, B) is scored."""
    from nerel_spacy.relation_decoding import DecodedRelation, best_of_nested_variants

    mentions = numpy.asarray([[0, 4, 0], [1, 2, 1], [1, 6, 1]])
    doc = DocPairs(numpy.asarray([0, 0]), numpy.asarray([1, 2]), numpy.asarray([[0.8], [0.9]]),
                   numpy.asarray([True, True]), {(0, 1, 0)}, mentions)
    kept = best_of_nested_variants([DecodedRelation(0, 1, 0, 0.8), DecodedRelation(0, 2, 0, 0.9)], mentions)
    assert [(r.head, r.tail) for r in kept] == [(0, 2)]
    scores = extraction_scores([doc], 0.5, nested_only=True, nested_arguments="best")
    assert (scores["tp"], scores["fp"], scores["fn"]) == (0, 0, 1)
    assert extraction_scores([doc], 0.5, nested_only=True)["tp"] == 1
