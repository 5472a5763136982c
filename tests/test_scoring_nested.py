"""Nested-mention scores, checked against counts worked out by hand."""
import pytest
import spacy
from spacy.tokens import Span
from spacy.training import Example

from conftest import mention_example
from nerel_spacy.scoring_nested import inner_mentions, score_nested


def test_inner_mentions():
    mentions = {(0, 30, "PROFESSION"), (24, 30, "COUNTRY"), (31, 44, "PERSON")}
    assert inner_mentions(mentions) == {(24, 30, "COUNTRY")}
    # the same extent with two labels is not nested in itself
    assert inner_mentions({(0, 5, "A"), (0, 5, "B")}) == set()


def test_scores_by_hand():
    gold = [(0, 4, "PROFESSION"), (3, 4, "COUNTRY"), (4, 6, "PERSON"), (8, 9, "CITY")]
    # right: outer PROFESSION, PERSON; wrong label on the inner COUNTRY; CITY missed;
    # a spurious inner mention (1, 3) inside the predicted PROFESSION.
    predicted = [(0, 4, "PROFESSION"), (3, 4, "CITY"), (4, 6, "PERSON"), (1, 3, "ORGANIZATION")]
    scores = score_nested([mention_example(gold, predicted)])
    # tp 2, fp 2, fn 2
    assert scores["spans_nerel_p"] == pytest.approx(0.5)
    assert scores["spans_nerel_r"] == pytest.approx(0.5)
    # outer: gold outer = PROFESSION, PERSON, CITY -> tp 2, fn 1; no outer fp
    assert scores["spans_nerel_outer_p"] == pytest.approx(1.0)
    assert scores["spans_nerel_outer_r"] == pytest.approx(2 / 3)
    # inner: gold COUNTRY missed (fn 1); predicted inner CITY and ORGANIZATION spurious (fp 2)
    assert scores["spans_nerel_inner_p"] == 0.0 and scores["spans_nerel_inner_r"] == 0.0
    per_type = scores["spans_nerel_per_type"]
    assert per_type["PERSON"]["f"] == 1.0 and per_type["CITY"]["r"] == 0.0


def test_no_group_counts_as_no_mentions():
    nlp = spacy.blank("ru")
    ref, pred = nlp.make_doc("Москва"), nlp.make_doc("Москва")
    ref.spans["nerel"] = [Span(ref, 0, 1, label="CITY")]
    scores = score_nested([Example(pred, ref)])
    assert scores["spans_nerel_r"] == 0.0 and scores["spans_nerel_f"] == 0.0
