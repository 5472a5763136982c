"""The teacher pass: soft outputs aligned with the student's rows, and teacher-labelled texts."""
import numpy
import pytest

from conftest import NESTED_DOCS, make_examples
from nerel_spacy.soft_targets import (
    TEACHER_KEY, unpack_relations, unpack_spans, unpack_tags, unpack_token_vectors,
)
from nerel_spacy.distill.teacher import TEACHER_SOURCE, label_texts, teacher_records, with_teacher_outputs
from nerel_spacy.models import joint as joint_model
from nerel_spacy.relation_decoding import enumerate_pairs
from nerel_spacy.span_decoding import n_candidates
from pipeline_helpers import cnn_nlp, train
from pipeline_helpers import v3_trained_on_nested


@pytest.fixture(scope="module")
def teacher():
    return v3_trained_on_nested(30)


def test_records_line_up_with_the_rows_the_student_is_trained_on(teacher):
    nlp, examples = teacher
    component = nlp.get_pipe("nerel_joint")
    records = teacher_records(nlp, [eg.reference for eg in examples])
    gold = component._gold_relations(examples)
    assert len(records) == len(gold) == len(examples)
    for eg, record, doc_gold in zip(examples, records, gold):
        n = len(eg.predicted)
        tags = unpack_tags(record, n, len(component.tag_labels))
        predicted = nlp(eg.reference.text)
        best = [component.tag_labels[i] for i in tags.argmax(axis=1)]
        assert [t.split("-")[0] for t in best] == [t.ent_iob_ if t.ent_iob_ != "" else "O" for t in predicted]
        unpack_spans(record, n_candidates(n, component.max_width), 1 + len(component.entity_labels))
        heads, _ = enumerate_pairs(doc_gold.mentions, component.relation_head.attrs["max_distance"])
        relations = unpack_relations(record, len(heads), len(component.cats_labels))
        assert relations.shape == (len(heads), len(component.cats_labels))


def test_docs_get_their_record_in_user_data_in_order(teacher):
    nlp, examples = teacher
    refs = [eg.reference for eg in examples]
    seen = []
    out = list(with_teacher_outputs(nlp, refs, batch_size=2, on_batch=seen.append))
    assert out == refs and seen == [2, 1]
    assert all(TEACHER_KEY in doc.user_data for doc in out)


def test_unlabeled_texts_become_docs_with_the_teachers_annotations(teacher):
    nlp, _ = teacher
    texts = [text for text, _, _ in NESTED_DOCS]
    labelled = list(label_texts(nlp, texts))
    assert [doc.text for doc in labelled] == texts
    for text, doc in zip(texts, labelled):
        predicted = nlp(text)
        assert doc.text == text and doc.user_data[TEACHER_SOURCE]
        assert [(s.start, s.end, s.label_) for s in doc.spans["nerel"]] == \
            [(s.start, s.end, s.label_) for s in predicted.spans["nerel"]]
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in predicted.ents]
        assert set(doc.cats.values()) <= {0.0, 1.0}
        assert doc._.relations == [{k: r[k] for k in ("head", "tail", "label")} for r in predicted._.relations]


def test_token_vectors_are_stored_and_the_teacher_is_left_as_it_was():
    """A teacher whose outputs don't carry its token vectors gives them for the pass only."""
    nlp = cnn_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, 2)
    model = nlp.get_pipe("nerel_joint").model
    assert "expose_tokens" not in model.attrs
    records = teacher_records(nlp, [eg.reference for eg in examples], token_vectors=True)
    assert "expose_tokens" not in model.attrs
    expected = model.predict([nlp.make_doc(eg.reference.text) for eg in examples])
    assert joint_model.TOKENS not in expected
    with joint_model.tokens_exposed(model):
        vectors = model.predict([nlp.make_doc(eg.reference.text) for eg in examples])[joint_model.TOKENS]
    assert len(records) == len(vectors) == len(examples)
    for eg, record, want in zip(examples, records, vectors):
        stored = unpack_token_vectors(record, len(eg.predicted), want.shape[1])
        assert numpy.allclose(stored, want, atol=1e-2)  # stored as float16
    assert "token_vectors" not in teacher_records(nlp, [examples[0].reference])[0]


def test_tokens_exposed_restores_an_earlier_setting():
    nlp = cnn_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    model = nlp.get_pipe("nerel_joint").model
    model.attrs["expose_tokens"] = False
    with pytest.raises(RuntimeError), joint_model.tokens_exposed(model):
        assert model.attrs["expose_tokens"] is True
        raise RuntimeError
    assert model.attrs["expose_tokens"] is False
