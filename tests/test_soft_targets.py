"""The teacher's stored outputs: compact packing, exact unpacking, and mixing with gold."""
import numpy
import pytest
import spacy
from spacy.tokens import DocBin

from nerel_spacy.soft_targets import (
    TEACHER_KEY,
    TeacherMismatchError,
    mix_targets,
    pack_teacher_outputs,
    unpack_cats,
    unpack_relations,
    unpack_spans,
    unpack_tags,
    unpack_token_vectors,
)


def softmax_rows(rng, n, k, peak=None):
    logits = rng.normal(size=(n, k))
    if peak is not None:
        logits[:, peak] += 12.0  # confidently this class
    probs = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


@pytest.fixture
def outputs():
    rng = numpy.random.default_rng(0)
    spans = softmax_rows(rng, 20, 5, peak=0)
    spans[[3, 11]] = softmax_rows(rng, 2, 5)  # two uncertain candidates
    relations = numpy.zeros((6, 4))
    relations[1, 2], relations[4, 0], relations[5, 3] = 0.9, 0.2, 0.001
    return softmax_rows(rng, 7, 3), spans, rng.uniform(size=4), relations


def test_pack_keeps_only_the_informative_rows_and_round_trips_through_a_docbin(outputs):
    tags, spans, cats, relations = outputs
    record = pack_teacher_outputs(tags, spans, cats, relations)
    assert list(record["spans"]["rows"]) == [3, 11]
    assert len(record["relations"]["probs"]) == 2  # 0.001 is under the floor
    nlp = spacy.blank("ru")
    doc = nlp("a b c")
    doc.user_data[TEACHER_KEY] = record
    doc_bin = DocBin(store_user_data=True, docs=[doc])
    loaded = next(DocBin().from_bytes(doc_bin.to_bytes()).get_docs(nlp.vocab)).user_data[TEACHER_KEY]
    numpy.testing.assert_allclose(unpack_tags(loaded, 7, 3), tags, atol=1e-3)
    numpy.testing.assert_allclose(unpack_tags(loaded, 7, 3).sum(axis=1), 1.0)
    dense = unpack_spans(loaded, 20, 5)
    numpy.testing.assert_allclose(dense[[3, 11]], spans[[3, 11]], atol=1e-3)
    assert (dense[0] == [1, 0, 0, 0, 0]).all()  # a confident "none" row comes back one-hot
    numpy.testing.assert_allclose(unpack_cats(loaded, 4), cats, atol=1e-3)
    expected = numpy.where(relations >= 0.005, relations, 0.0)
    numpy.testing.assert_allclose(unpack_relations(loaded, 6, 4), expected, atol=1e-3)


def test_pack_without_span_or_relation_heads(outputs):
    tags, _, cats, _ = outputs
    record = pack_teacher_outputs(tags, None, cats, None)
    assert "spans" not in record and "relations" not in record
    assert unpack_token_vectors(record, 7, 16) is None  # stored only when asked for


def test_token_vectors_round_trip_as_float16_and_must_fit_the_student(outputs):
    vectors = numpy.random.default_rng(1).normal(size=(7, 16)).astype("float32")
    record = pack_teacher_outputs(*outputs, token_vectors=vectors)
    nlp = spacy.blank("ru")
    doc = nlp("a b c")
    doc.user_data[TEACHER_KEY] = record
    loaded = next(DocBin().from_bytes(DocBin(store_user_data=True, docs=[doc]).to_bytes()).get_docs(nlp.vocab))
    unpacked = unpack_token_vectors(loaded.user_data[TEACHER_KEY], 7, 16)
    assert unpacked.dtype == numpy.float32
    numpy.testing.assert_allclose(unpacked, vectors, rtol=1e-3, atol=1e-3)
    with pytest.raises(TeacherMismatchError, match="nerel-batch distill"):
        unpack_token_vectors(record, 7, 32)  # a student encoder of another width


@pytest.mark.parametrize("unpack,args", [
    (unpack_tags, (8, 3)), (unpack_spans, (20, 6)), (unpack_cats, (5,)), (unpack_relations, (7, 4)),
])
def test_outputs_that_do_not_fit_the_student_are_refused_with_the_fix(outputs, unpack, args):
    record = pack_teacher_outputs(*outputs)
    with pytest.raises(TeacherMismatchError, match="nerel-batch distill"):
        unpack(record, *args)


def test_mix_targets_weighs_known_gold_and_takes_the_teacher_where_gold_is_unknown():
    gold = numpy.array([[1.0, 0.0], [0.0, 1.0]])
    teacher = numpy.array([[0.6, 0.4], [0.3, 0.7]])
    targets, mask = mix_targets(gold, numpy.array([1.0, 0.0]), teacher, 0.25)
    numpy.testing.assert_allclose(targets, [[0.9, 0.1], [0.3, 0.7]])
    assert (mask == 1).all()
    # element-wise masks (cats, relation pairs) mix entry by entry
    targets, _ = mix_targets(gold, numpy.array([[1.0, 0.0], [1.0, 1.0]]), teacher, 1.0)
    numpy.testing.assert_allclose(targets, teacher)
    targets, _ = mix_targets(gold, numpy.ones((2, 2)), teacher, 0.0)
    numpy.testing.assert_allclose(targets, gold)
