"""relations_between: the relation head run on mentions the user brings."""
import pytest
from spacy.tokens import Span

from nerel_spacy.relations_between import relations_between
from nerel_spacy.spans import get_relations

from conftest import NESTED_DOCS, make_nested_examples
from pipeline_helpers import trf_nlp, v3_nlp, v3_trained_on_nested

TEXT = "Министр иностранных дел России Сергей Лавров прилетел в Москву."


@pytest.fixture(scope="module")
def briefly_trained():
    """A v3 pipeline after 60 steps (it predicts mentions), its threshold lowered for more triples."""
    nlp, _ = v3_trained_on_nested(60)
    nlp.get_pipe("nerel_joint").cfg["relation_threshold"] = 0.05
    return nlp


@pytest.fixture(scope="module")
def untrained():
    """An initialized v3 pipeline answering every pair and type (threshold 0)."""
    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.get_pipe("nerel_joint").cfg["relation_threshold"] = 0.0
    return nlp


@pytest.mark.slow
def test_on_the_span_heads_mentions_it_gives_the_pipelines_own_triples(briefly_trained):
    nlp = briefly_trained
    found = 0
    for text, _, _ in NESTED_DOCS:
        doc = nlp(text)
        own = get_relations(doc)
        given = relations_between(nlp, doc, list(doc.spans["nerel"]))
        assert [(r["head"], r["tail"], r["label"]) for r in given] == [(r["head"], r["tail"], r["label"]) for r in own]
        assert [r["score"] for r in given] == pytest.approx([r["score"] for r in own], abs=1e-5)
        # the same mentions as character offsets, from the text alone
        offsets = [(s.start_char, s.end_char, s.label_) for s in doc.spans["nerel"]]
        assert relations_between(nlp, text, offsets) == given
        found += len(own)
    assert found > 0


def test_labels_are_mapped_and_unknown_ones_named(untrained):
    nlp = untrained
    mentions = [(0, 30, "PROFESSION"), (31, 44, "PER")]
    with pytest.raises(ValueError, match=r"mention 1 \('Сергей Лавров'\): type 'PER' .*label_map.*PERSON"):
        relations_between(nlp, TEXT, mentions)
    mapped = relations_between(nlp, TEXT, mentions, label_map={"PER": "PERSON"})
    assert len(mapped) == 2 * len(nlp.get_pipe("nerel_joint").cats_labels)  # every pair and type
    assert mapped == relations_between(nlp, TEXT, [(0, 30, "PROFESSION"), (31, 44, "PERSON")])


def test_bad_mentions_and_pipelines_are_named(untrained):
    nlp = untrained
    with pytest.raises(ValueError, match=r"mention 0 \(100, 105, 'CITY'\) covers no token"):
        relations_between(nlp, TEXT, [(100, 105, "CITY"), (0, 7, "PROFESSION")])
    other = nlp.make_doc(TEXT)
    with pytest.raises(ValueError, match="span of another Doc"):
        relations_between(nlp, nlp.make_doc(TEXT), [other[0:1]])
    assert relations_between(nlp, TEXT, [(0, 7, "PROFESSION")]) == []  # one mention: no pairs
    with pytest.raises(ValueError, match="no 'relations' component"):
        relations_between(nlp, TEXT, [], component="relations")
    for bad in [(0, 7), {"start": 0, "end": 7, "label": "CITY"}, ("0", "7", "CITY")]:
        with pytest.raises(ValueError, match=r"mention 1 .* is neither a Span of the doc nor a \(start_char"):
            relations_between(nlp, TEXT, [(0, 7, "PROFESSION"), bad])
    with nlp.select_pipes(disable=["nerel_joint"]):
        with pytest.raises(ValueError, match="'nerel_joint' is disabled in this pipeline; enable it"):
            relations_between(nlp, TEXT, [(0, 7, "PROFESSION")])
    # characters inside a token stand for the whole token
    doc = nlp.make_doc(TEXT)
    spans = [Span(doc, 0, 1, label="PROFESSION"), Span(doc, 4, 6, label="PERSON")]
    widened = relations_between(nlp, doc, [(1, 5, "PROFESSION"), (33, 44, "PERSON")])
    assert len(widened) == 2 * len(nlp.get_pipe("nerel_joint").cats_labels)
    assert widened == relations_between(nlp, doc, spans)


@pytest.mark.slow
def test_an_overfit_pipeline_finds_the_relation_between_given_mentions():
    nlp, _ = v3_trained_on_nested(120)
    triples = relations_between(nlp, TEXT, [(0, 30, "PROFESSION"), (31, 44, "PER")], label_map={"PER": "PERSON"})
    assert [(r["head"], r["tail"], r["label"]) for r in triples] == [(1, 0, "WORKS_AS")]
    assert triples[0]["score"] >= nlp.get_pipe("nerel_joint").cfg["relation_threshold"]


def test_a_transformer_runs_before_the_relation_head(tiny_bert_dir):
    """The doc needs the transformer's output: relations_between runs it on a copy, and gets
    what the head gives on a doc that went through the whole pipeline."""
    from nerel_spacy.relation_decoding import mention_array

    nlp = trf_nlp(tiny_bert_dir)
    examples = make_nested_examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("nerel_joint")
    pipe.cfg["relation_threshold"] = 0.0
    bare = nlp.make_doc(TEXT)
    found = relations_between(nlp, bare, [(0, 30, "PROFESSION"), (31, 44, "PERSON")])
    assert not bare.has_extension("trf_data") or bare._.trf_data is None or not len(bare._.trf_data.all_outputs)
    rows = mention_array([(0, 4, pipe.entity_labels.index("PROFESSION")), (4, 6, pipe.entity_labels.index("PERSON"))])
    direct = pipe.predict_relations([nlp(TEXT)], [rows])[0]
    assert len(found) == len(direct) == 2 * len(pipe.cats_labels)
    assert [r["score"] for r in found] == pytest.approx([r.score for r in direct], abs=1e-6)
