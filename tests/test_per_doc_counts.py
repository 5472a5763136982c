"""Per-document counts sum to the micro scores of the scorers they mirror."""
import numpy
import pytest
import spacy
from spacy.training import Example

from nerel_spacy.cross_fitting import micro_f
from nerel_spacy.per_doc_counts import (
    cats_counts, check_against_scores, entity_counts, gold_mention_counts, mention_counts, relation_counts, set_counts,
)
from nerel_spacy.scoring_nested import score_nested
from nerel_spacy.scoring_relations import score_relations

from test_scoring_relations import FixedRelations, annotated, examples  # noqa: F401  (fixture)


def test_set_counts():
    assert set_counts({1, 2, 3}, {2, 3, 4, 5}) == (2, 2, 1)


def _doc(nlp, text, ents=(), mentions=()):
    doc = nlp.make_doc(text)
    doc.ents = [doc.char_span(s, e, label=label) for s, e, label in ents]
    doc.spans["nerel"] = [doc.char_span(s, e, label=label) for s, e, label in mentions]
    return doc


def test_entity_counts_are_per_document_and_sum_to_spacys_ents_f():
    nlp = spacy.blank("ru")
    text = "Банк России и Газпром"  # Банк 0-4, России 5-11, Газпром 14-21
    rows = [
        # the first right, the second with the wrong type: 1 tp, 1 fp, 1 fn
        Example(_doc(nlp, text, [(0, 11, "ORG"), (14, 21, "ORG")]), _doc(nlp, text, [(0, 11, "ORG"), (14, 21, "PER")])),
        # nothing predicted: 2 fn
        Example(_doc(nlp, text), _doc(nlp, text, [(0, 4, "ORG"), (14, 21, "ORG")])),
    ]
    counts = entity_counts(rows)
    assert counts.tolist() == [[1, 1, 1], [0, 0, 2]]
    assert micro_f(counts) == pytest.approx(spacy.scorer.Scorer.score_spans(rows, "ents")["ents_f"])


def test_mention_counts_keep_nested_mentions_and_sum_to_the_nested_score():
    nlp = spacy.blank("ru")
    text = "Банк России и Газпром"
    gold = [(0, 11, "ORGANIZATION"), (5, 11, "COUNTRY"), (14, 21, "ORGANIZATION")]
    rows = [
        # the outer and the inner mention right, Газпром given the wrong type
        Example(_doc(nlp, text, mentions=[(0, 11, "ORGANIZATION"), (5, 11, "COUNTRY"), (14, 21, "COUNTRY")]),
                _doc(nlp, text, mentions=gold)),
        # only the inner mention
        Example(_doc(nlp, text, mentions=[(5, 11, "COUNTRY")]), _doc(nlp, text, mentions=gold)),
    ]
    counts = mention_counts(rows)
    assert counts.tolist() == [[2, 1, 1], [1, 0, 2]]
    assert micro_f(counts) == pytest.approx(score_nested(rows)["spans_nerel_f"])


def test_relation_counts_are_per_document_and_sum_to_the_micro_score(examples):  # noqa: F811
    counts = relation_counts(examples)
    # doc 1: 2 right, 1 wrong tail; doc 2: the tail's type is wrong, so 1 fp and 2 fn
    assert counts.tolist() == [[2, 1, 0], [0, 1, 2]]
    assert micro_f(counts) == pytest.approx(score_relations(examples)["relations_f"])


def test_cats_counts_use_each_labels_threshold():
    nlp = spacy.blank("ru")
    labels = ["WORKPLACE", "LOCATED_IN"]
    rows = []
    for gold_cats, predicted_cats in (
        ({"WORKPLACE": 1.0, "LOCATED_IN": 0.0}, {"WORKPLACE": 0.6, "LOCATED_IN": 0.35}),
        ({"WORKPLACE": 1.0, "LOCATED_IN": 1.0}, {"WORKPLACE": 0.4, "LOCATED_IN": 0.2}),
    ):
        predicted, gold = nlp.make_doc("x"), nlp.make_doc("x")
        gold.cats, predicted.cats = gold_cats, predicted_cats
        rows.append(Example(predicted, gold))
    # WORKPLACE at 0.5, LOCATED_IN at 0.3: doc 1 gets one right and one spurious type,
    # doc 2 misses both.
    counts = cats_counts(rows, labels, {"WORKPLACE": 0.5, "LOCATED_IN": 0.3})
    assert counts.tolist() == [[1, 1, 0], [0, 0, 2]]


def test_gold_mention_counts_split_all_pairs_from_in_sentence_pairs():
    nlp = spacy.blank("ru")
    text = "Газпром открыл офис . Офис в Петербурге ."
    gold = annotated(
        nlp, text, [(0, 1, "ORGANIZATION"), (6, 7, "CITY"), (4, 5, "FACILITY")],
        [(0, 1, "LOCATED_IN"), (2, 1, "LOCATED_IN")],
    )
    counts = gold_mention_counts([Example(nlp.make_doc(text), gold)], FixedRelations())
    # FixedRelations predicts (2, 1) (right) and (1, 2) (wrong); (0, 1) crosses sentences.
    assert counts["all"].tolist() == [[1, 1, 1]]
    assert counts["insent"].tolist() == [[1, 1, 0]]
    assert isinstance(counts["all"], numpy.ndarray)


def test_check_against_scores_raises_when_counts_and_scores_disagree():
    counts = {"ents": numpy.array([[2, 1, 1]]), "spans_nerel": numpy.array([[1, 0, 0]])}
    check_against_scores(counts, {"ents_f": 4 / 6, "spans_nerel_f": 1.0})
    with pytest.raises(AssertionError, match="spans_nerel"):
        check_against_scores(counts, {"ents_f": 4 / 6, "spans_nerel_f": 0.5})
