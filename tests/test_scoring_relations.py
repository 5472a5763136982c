"""Relation scores against hand-counted true and false positives and negatives."""
import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Span
from spacy.training import Example
from spacy.util import registry

from nerel_spacy.relation_decoding import DecodedRelation
from nerel_spacy.scoring_relations import (
    relation_triples,
    score_relations,
    score_relations_with_gold_mentions,
)


def annotated(nlp, text, mentions, relations):
    doc = nlp.make_doc(text)
    doc.spans["nerel"] = [Span(doc, s, e, label=label) for s, e, label in mentions]
    doc._.relations = [{"head": h, "tail": t, "label": label} for h, t, label in relations]
    return doc


@pytest.fixture
def examples():
    nlp = spacy.blank("ru")
    text = "Сергей Лавров возглавляет МИД России ."
    gold = annotated(
        nlp, text, [(0, 2, "PERSON"), (3, 5, "ORGANIZATION"), (4, 5, "COUNTRY")],
        [(0, 1, "WORKPLACE"), (1, 2, "LOCATED_IN")],
    )
    # The same mentions in another order, plus a wrong one: two right triples, one with a wrong tail.
    predicted = annotated(
        nlp, text, [(4, 5, "COUNTRY"), (0, 2, "PERSON"), (3, 5, "ORGANIZATION"), (3, 4, "ORGANIZATION")],
        [(1, 2, "WORKPLACE"), (2, 0, "LOCATED_IN"), (1, 3, "WORKPLACE")],
    )
    text = "Газпром в Москве ."
    gold_2 = annotated(nlp, text, [(0, 1, "ORGANIZATION"), (2, 3, "CITY")], [(0, 1, "LOCATED_IN"), (0, 1, "HEADQUARTERED_IN")])
    # Right spans and relation, but the tail's entity type is wrong: not a match.
    predicted_2 = annotated(nlp, text, [(0, 1, "ORGANIZATION"), (2, 3, "COUNTRY")], [(0, 1, "LOCATED_IN")])
    return [Example(predicted, gold), Example(predicted_2, gold_2)]


def test_end_to_end_strict_micro_and_per_type(examples):
    # tp 2 (WORKPLACE, LOCATED_IN in doc 1), fp 2 (wrong tail, wrong type), fn 2 (doc 2's gold)
    scores = score_relations(examples)
    assert (scores["relations_p"], scores["relations_r"], scores["relations_f"]) == pytest.approx((0.5, 0.5, 0.5))
    per_type = scores["relations_per_type"]
    assert per_type["WORKPLACE"] == pytest.approx({"p": 0.5, "r": 1.0, "f": 2 / 3})
    assert per_type["LOCATED_IN"] == pytest.approx({"p": 0.5, "r": 0.5, "f": 0.5})
    assert per_type["HEADQUARTERED_IN"] == pytest.approx({"p": 0.0, "r": 0.0, "f": 0.0})


def test_triples_use_char_offsets_and_skip_bad_indices(examples):
    doc = examples[0].reference
    assert ((0, 13, "PERSON"), (26, 36, "ORGANIZATION"), "WORKPLACE") in relation_triples(doc)
    doc._.relations = [{"head": 0, "tail": 9, "label": "WORKPLACE"}]
    assert relation_triples(doc) == set()


def test_v3_scorer_adds_relations_to_the_nested_and_flat_scores(examples):
    scorer = registry.scorers.get("nerel.joint_scorer.v3")(spans_key="nerel")
    scores = scorer(examples, cats_labels=[], thresholds={}, threshold=0.5)
    assert scores["relations_f"] == pytest.approx(0.5)
    assert {"spans_nerel_f", "spans_nerel_inner_f", "ents_f", "seqeval_f"} <= set(scores)


class FixedRelations:
    """Stands in for nerel_joint: returns set triples over whatever mentions it is given."""

    entity_labels = ("CITY", "FACILITY", "ORGANIZATION")
    cats_labels = ("LOCATED_IN",)
    cfg = {"spans_key": "nerel"}

    def __call__(self, doc):
        return doc

    def predict_relations(self, docs, mentions):
        assert [m.tolist() for m in mentions] == [[[0, 1, 2], [6, 7, 0], [4, 5, 1]]]
        return [[DecodedRelation(2, 1, 0, 0.9), DecodedRelation(1, 2, 0, 0.8)]]


@Language.factory("test_fixed_relations")
def make_fixed_relations(nlp, name):
    return FixedRelations()


def test_gold_mention_scores_all_pairs_and_in_sentence_pairs():
    nlp = spacy.blank("ru")
    nlp.add_pipe("test_fixed_relations", name="nerel_joint")
    text = "Газпром открыл офис . Офис в Петербурге ."
    # gold: Газпром → Петербурге across sentences, Офис → Петербурге inside the second one
    gold = annotated(
        nlp, text, [(0, 1, "ORGANIZATION"), (6, 7, "CITY"), (4, 5, "FACILITY")],
        [(0, 1, "LOCATED_IN"), (2, 1, "LOCATED_IN")],
    )
    scores = score_relations_with_gold_mentions(nlp, [Example(nlp.make_doc(text), gold)])
    # all pairs: tp (2, 1), fp (1, 2), fn (0, 1); in-sentence: tp (2, 1), fp (1, 2)
    assert (scores["relations_gold_p"], scores["relations_gold_r"]) == pytest.approx((0.5, 0.5))
    assert (scores["relations_gold_insent_p"], scores["relations_gold_insent_r"]) == pytest.approx((0.5, 1.0))
    assert scores["relations_gold_insent_f"] == pytest.approx(2 / 3)
    assert scores["relations_gold_per_type"]["LOCATED_IN"]["f"] == pytest.approx(0.5)
    assert numpy.isfinite(scores["relations_gold_f"])


def test_gold_mention_pairs_reproduce_the_in_sentence_scores():
    """The protocols' extraction score, from every pair's probabilities, equals the scorer's
    ``relations_gold_insent_*`` at the component's threshold (a briefly trained v3 pipeline,
    so some pairs sit on either side of it)."""
    from nerel_spacy.relation_protocols import extraction_scores
    from nerel_spacy.scoring_relations import gold_mention_pairs
    from pipeline_helpers import v3_trained_on_nested

    nlp, examples = v3_trained_on_nested(25)
    bare = [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in examples]
    pairs = gold_mention_pairs(nlp, bare)
    n_labels = len(nlp.get_pipe("nerel_joint").cats_labels)
    assert len(pairs) == len(examples) and all(p.probs.shape == (len(p.heads), n_labels) for p in pairs)
    assert sum(len(p.gold) for p in pairs) == 2  # of the three gold triples, one crosses sentences
    threshold = nlp.get_pipe("nerel_joint").cfg["relation_threshold"]
    probs = numpy.concatenate([p.probs.ravel() for p in pairs])
    assert (probs >= threshold).any() and (probs < threshold).any()
    # an empty doc among them gets no pairs, and the others the same probabilities
    mixed = nlp.get_pipe("nerel_joint").pair_probabilities(
        [nlp.make_doc(""), bare[0].predicted], [numpy.zeros((0, 3), dtype="int32"), pairs[0].mentions]
    )
    assert len(mixed) == 2 and [len(a) for a in mixed[0]] == [0, 0, 0]
    assert numpy.allclose(mixed[1][2], pairs[0].probs, atol=1e-6)
    expected = score_relations_with_gold_mentions(nlp, bare)
    found = extraction_scores(pairs, threshold)
    for key in ("p", "r", "f"):
        assert found[key] == pytest.approx(expected[f"relations_gold_insent_{key}"])
