"""The teacher pass: soft outputs aligned with the student's rows, and teacher-labelled texts."""
import pytest

from conftest import NESTED_DOCS
from nerel_spacy.distill.soft_targets import TEACHER_KEY, unpack_relations, unpack_spans, unpack_tags
from nerel_spacy.distill.teacher import TEACHER_SOURCE, label_texts, teacher_records, with_teacher_outputs
from nerel_spacy.relation_decoding import enumerate_pairs
from nerel_spacy.span_decoding import n_candidates
from test_pipeline_relations import v3_trained_on_nested


@pytest.fixture(scope="module")
def teacher():
    return v3_trained_on_nested(30)


def test_records_line_up_with_the_rows_the_student_is_trained_on(teacher):
    nlp, examples = teacher
    component = nlp.get_pipe("nerel_joint")
    records = teacher_records(nlp, [eg.reference for eg in examples])
    gold = component._gold_relations(examples)
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
    for text, doc in zip(texts, label_texts(nlp, texts)):
        predicted = nlp(text)
        assert doc.text == text and doc.user_data[TEACHER_SOURCE]
        assert [(s.start, s.end, s.label_) for s in doc.spans["nerel"]] == \
            [(s.start, s.end, s.label_) for s in predicted.spans["nerel"]]
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in predicted.ents]
        assert set(doc.cats.values()) <= {0.0, 1.0}
        assert doc._.relations == [{k: r[k] for k in ("head", "tail", "label")} for r in predicted._.relations]
        assert doc._.trf_data is None if doc.has_extension("trf_data") else True
