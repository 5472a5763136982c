"""Scoring: seqeval over BIO, multi-label cats with per-label thresholds, natasha mapping."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
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


def test_score_joint_takes_a_complete_threshold_mapping_and_a_fallback(nlp):
    eg = example(nlp, "Обама в Москве", [(0, 1, "PERSON")], [(0, 1, "PERSON")],
                 {"SPOUSE": 1.0, "WORKS_AS": 0.0}, {"SPOUSE": 0.7, "WORKS_AS": 0.6})
    complete = score_joint([eg], thresholds={"SPOUSE": 0.5, "WORKS_AS": 0.65})
    assert complete["cats_micro_f"] == 1.0  # cats_labels default to the mapping's labels
    assert set(complete["cats_f_per_type"]) == {"SPOUSE", "WORKS_AS"}
    fallback = score_joint([eg], cats_labels=["SPOUSE", "WORKS_AS"], thresholds={"SPOUSE": 0.5}, threshold=0.55)
    assert fallback["cats_micro_p"] == 0.5  # WORKS_AS at 0.6 passes the 0.55 fallback


# --- the library versions give the numbers the hand-written ones gave ----------------

def reference_prf(tp, fp, fn):
    """The formulas scoring.py used before it took spaCy's PRFScore."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0}


def test_multilabel_prf_is_bit_identical_to_the_closed_forms():
    rng = numpy.random.default_rng(0)
    labels = [f"L{i}" for i in range(8)]
    for _ in range(20):
        gold = rng.random((60, 8)) < rng.random(8)
        scores = rng.random((60, 8))
        thresholds = rng.random(8)
        result = multilabel_prf(gold, scores, thresholds, labels)
        predicted = scores >= thresholds
        counts = [((gold & predicted)[:, i].sum(), (~gold & predicted)[:, i].sum(), (gold & ~predicted)[:, i].sum())
                  for i in range(8)]
        micro = reference_prf(*(float(sum(c[k] for c in counts)) for k in range(3)))
        assert [result[f"cats_micro_{k}"] for k in "prf"] == [micro[k] for k in "prf"]
        for label, (tp, fp, fn) in zip(labels, counts):
            assert result["cats_f_per_type"][label] == reference_prf(float(tp), float(fp), float(fn))


def test_score_char_spans_is_bit_identical_to_hand_counting():
    rng = numpy.random.default_rng(1)
    for _ in range(20):
        gold, predicted = [], []
        for _ in range(5):
            gold.append({(s, s + int(rng.integers(1, 4)), str(rng.choice(["PER", "LOC", "ORG"])))
                         for s in rng.integers(0, 30, size=6)})
            predicted.append({(s, s + int(rng.integers(1, 4)), str(rng.choice(["PER", "LOC", "ORG"])))
                              for s in rng.integers(0, 30, size=6)})
        scores = score_char_spans(gold, predicted)
        labels = sorted({s[2] for doc in gold + predicted for s in doc})
        count = lambda spans, other, label: sum(  # noqa: E731
            len({s for s in a if s[2] == label} - b) for a, b in zip(spans, other))
        per_type = {label: reference_prf(sum(len({s for s in p & g if s[2] == label}) for p, g in zip(predicted, gold)),
                                         count(predicted, gold, label), count(gold, predicted, label))
                    for label in labels}
        assert scores["per_type"] == per_type
        tp = sum(len(p & g) for p, g in zip(predicted, gold))
        micro = reference_prf(tp, sum(len(p - g) for p, g in zip(predicted, gold)),
                              sum(len(g - p) for p, g in zip(predicted, gold)))
        assert {k: scores[k] for k in "prf"} == micro


def test_doc_bio_tags_match_the_tokens_entity_tags():
    """spaCy's doc_to_biluo_tags + biluo_to_iob give what token.ent_iob_ says, whitespace tokens included."""
    from nerel_spacy.brat import read_brat_folder
    from nerel_spacy.scoring import doc_bio_tags

    from brat_fixtures import PROBLEMS, TRAIN

    docs = [doc for folder in (TRAIN, PROBLEMS) for doc, _ in read_brat_folder(folder)]
    assert any(token.is_space for doc in docs for token in doc)
    for doc in docs:
        expected = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in doc]
        assert doc_bio_tags(doc) == expected


def test_seqeval_treats_unknown_gold_tags_as_outside(nlp):
    # A gold entity inside a predicted token: that token's gold tag is unknown (None).
    reference = Doc(nlp.vocab, words=["Нью", "-Йорк", "и", "Москва"], spaces=[False, True, True, False])
    predicted = Doc(nlp.vocab, words=["Нью-Йорк", "и", "Москва"], spaces=[True, True, False])
    reference.ents = [Span(reference, 1, 2, label="CITY"), Span(reference, 3, 4, label="CITY")]
    predicted.ents = [Span(predicted, 2, 3, label="CITY")]
    eg = Example(predicted, reference)
    assert eg.get_aligned_ner() == [None, "O", "U-CITY"]
    scores = score_seqeval([eg])
    assert scores["seqeval_p"] == 1.0 and scores["seqeval_r"] == 1.0
