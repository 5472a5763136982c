"""Scoring: seqeval over BIO, multi-label cats with per-label thresholds, natasha mapping."""
import numpy
import pytest
import spacy
from spacy.tokens import Span
from spacy.training import Example

from nerel_spacy.scoring import (
    NATASHA_MAPPING,
    multilabel_prf,
    score_char_spans,
    score_joint,
    score_natasha_mapping,
    score_seqeval,
)


@pytest.fixture
def nlp():
    return spacy.blank("ru")


def example(nlp, text, gold_ents, pred_ents, gold_cats=None, pred_cats=None, nested=()):
    predicted, reference = nlp.make_doc(text), nlp.make_doc(text)
    reference.ents = [Span(reference, s, e, label=l) for s, e, l in gold_ents]
    reference.spans["nerel"] = list(reference.ents) + [Span(reference, s, e, label=l) for s, e, l in nested]
    predicted.ents = [Span(predicted, s, e, label=l) for s, e, l in pred_ents]
    reference.cats = gold_cats or {}
    predicted.cats = pred_cats or {}
    return Example(predicted, reference)


def test_seqeval_counts_whole_entities(nlp):
    eg = example(nlp, "Барак Обама посетил Москву и Киев", [(0, 2, "PERSON"), (3, 4, "CITY"), (5, 6, "CITY")],
                 [(0, 1, "PERSON"), (3, 4, "CITY"), (5, 6, "COUNTRY")])
    scores = score_seqeval([eg])
    # one of three predicted is right, one of three gold is found
    assert scores["seqeval_p"] == pytest.approx(1 / 3)
    assert scores["seqeval_r"] == pytest.approx(1 / 3)


def test_multilabel_prf_with_per_label_thresholds():
    gold = numpy.array([[1, 0], [1, 1], [0, 0]])
    scores = numpy.array([[0.6, 0.4], [0.3, 0.95], [0.7, 0.1]])
    result = multilabel_prf(gold, scores, numpy.array([0.5, 0.9]), ["A", "B"])
    # A: predicted docs 0 and 2 (tp 1, fp 1, fn 1); B: predicted doc 1 (tp 1)
    assert result["cats_micro_p"] == pytest.approx(2 / 3)
    assert result["cats_micro_r"] == pytest.approx(2 / 3)
    assert result["cats_f_per_type"]["B"]["f"] == 1.0
    assert result["cats_macro_f"] == pytest.approx((0.5 + 1.0) / 2)
    lowered = multilabel_prf(gold, scores, numpy.array([0.25, 0.9]), ["A", "B"])
    assert lowered["cats_f_per_type"]["A"]["r"] == 1.0


def test_labels_never_seen_are_left_out_of_the_macro_mean():
    result = multilabel_prf(numpy.array([[1, 0]]), numpy.array([[0.9, 0.1]]), numpy.array([0.5, 0.5]), ["A", "B"])
    assert result["cats_macro_f"] == 1.0


def test_score_joint_has_every_reported_key(nlp):
    eg = example(nlp, "Обама в Москве", [(0, 1, "PERSON"), (2, 3, "CITY")], [(0, 1, "PERSON")],
                 {"SPOUSE": 1.0, "WORKS_AS": 0.0}, {"SPOUSE": 0.7, "WORKS_AS": 0.6})
    scores = score_joint([eg], cats_labels=["SPOUSE", "WORKS_AS"], thresholds={"WORKS_AS": 0.65})
    for key in ("ents_p", "ents_r", "ents_f", "ents_per_type", "seqeval_f", "cats_micro_p",
                "cats_micro_r", "cats_micro_f", "cats_macro_f", "cats_f_per_type"):
        assert key in scores
    assert scores["cats_micro_f"] == 1.0  # WORKS_AS at 0.6 is below its own 0.65 threshold
    assert scores["ents_r"] == 0.5


def test_natasha_mapping_scores_against_nested_gold_too(nlp):
    text = "Мэр Москвы Сергей Собянин"
    eg = example(nlp, text, [(0, 2, "PROFESSION"), (2, 4, "PERSON")], [(1, 2, "CITY"), (2, 4, "PERSON")],
                 nested=[(1, 2, "CITY")])
    scores = score_natasha_mapping([eg])
    assert scores["f"] == 1.0
    assert set(scores["per_type"]) == {"LOC", "PER"}
    assert NATASHA_MAPPING["STATE_OR_PROVINCE"] == "LOC"


def test_score_char_spans_micro():
    gold = [{(0, 5, "PER"), (10, 15, "LOC")}]
    predicted = [{(0, 5, "PER"), (10, 14, "LOC"), (20, 25, "ORG")}]
    scores = score_char_spans(gold, predicted)
    assert scores["p"] == pytest.approx(1 / 3) and scores["r"] == pytest.approx(1 / 2)
