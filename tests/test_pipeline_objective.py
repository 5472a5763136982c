"""The joint objective with a teacher: gold and teacher targets mixed by distill_weight."""
import numpy
import pytest

from conftest import make_nested_examples
from nerel_spacy.soft_targets import TEACHER_KEY
from nerel_spacy.models.joint import TOKENS
from nerel_spacy.pipeline.objective import TASK_LOSSES, token_vectors_loss
from nerel_spacy.distill.teacher import teacher_records
from pipeline_helpers import v3_trained_on_nested

TASKS = ("ner", "spans", "cats", "relations")


@pytest.fixture(scope="module")
def trained():
    return v3_trained_on_nested(20)


def task_gradients(component, examples, weight):
    component.cfg["distill_weight"] = weight
    try:
        outputs = component.model.predict([eg.predicted for eg in examples])
        _, d_outputs = component.get_loss(examples, outputs)
    finally:
        component.cfg["distill_weight"] = 0.0
    return {task: numpy.concatenate([numpy.asarray(x).ravel() for x in d_outputs[task]])
            if task != "cats" else numpy.asarray(d_outputs[task]).ravel() for task in TASKS if task in d_outputs}


def with_records(nlp, examples, token_vectors=False):
    for eg, record in zip(examples, teacher_records(nlp, [eg.reference for eg in examples], token_vectors)):
        eg.reference.user_data[TEACHER_KEY] = record
    return examples


def test_a_student_that_matches_its_teacher_gets_no_gradient_from_it(trained):
    nlp, examples = trained
    component = nlp.get_pipe("nerel_joint")
    hard = task_gradients(component, examples, 1.0)  # no records yet: gold only
    assert all(numpy.abs(grad).max() > 1e-3 for grad in hard.values())
    examples = with_records(nlp, make_nested_examples(nlp))
    soft = task_gradients(component, examples, 1.0)
    assert set(soft) >= {"ner", "spans", "cats"}
    for task, grad in soft.items():
        # float16 storage and the relation floor leave a little; the gold part is gone
        assert numpy.abs(grad).max() < 2e-3, task


def test_records_are_ignored_at_weight_zero_and_mixed_linearly_between(trained):
    nlp, examples = trained
    component = nlp.get_pipe("nerel_joint")
    hard = task_gradients(component, examples, 0.0)
    examples = with_records(nlp, make_nested_examples(nlp))
    assert all(numpy.array_equal(a, b) for a, b in zip(hard.values(), task_gradients(component, examples, 0.0).values()))
    half = task_gradients(component, examples, 0.5)
    full = task_gradients(component, examples, 1.0)
    for task in ("ner", "cats"):  # d = p - target is linear in the weight
        numpy.testing.assert_allclose(half[task], (hard[task] + full[task]) / 2, atol=1e-5)


def test_token_vectors_loss_reads_only_docs_with_stored_vectors_and_its_gradient_matches():
    from thinc.api import NumpyOps

    ops = NumpyOps()
    rng = numpy.random.default_rng(0)
    student = [rng.normal(size=(n, 4)).astype("float32") for n in (3, 5, 2)]
    teacher = [rng.normal(size=(n, 4)).astype("float32") for n in (3, 5, 2)]
    records = [{"token_vectors": teacher[0]}, None, {"token_vectors": teacher[2]}]
    loss, d = token_vectors_loss(ops, student, records)
    both = numpy.concatenate([student[0], student[2]]).astype("float64")
    target = numpy.concatenate([teacher[0], teacher[2]]).astype("float64")
    assert loss == pytest.approx(((both - target) ** 2).sum() / (target ** 2).sum())
    assert not d[1].any() and [x.shape for x in d] == [x.shape for x in student]
    numpy.testing.assert_allclose(numpy.concatenate([d[0], d[2]]), 2 * (both - target) / (target ** 2).sum(), rtol=1e-5)
    assert token_vectors_loss(ops, student, [None, {"tags": 1}, None]) == (0.0, None)


def test_the_teacher_pass_stores_its_token_vectors_and_a_student_is_pulled_towards_them(trained):
    nlp, _ = trained
    component = nlp.get_pipe("nerel_joint")
    examples = with_records(nlp, make_nested_examples(nlp), token_vectors=True)
    outputs = component.model.predict([eg.predicted for eg in examples])
    for eg, vectors in zip(examples, outputs[TOKENS]):
        numpy.testing.assert_allclose(eg.reference.user_data[TEACHER_KEY]["token_vectors"], vectors, rtol=1e-2, atol=1e-2)
    # The teacher itself is its own perfect student: nothing to learn from its vectors.
    component.cfg["distill_token_vectors_weight"] = 1.0
    try:
        _, d_outputs = component.get_loss(examples, outputs)
        assert d_outputs[TASK_LOSSES]["token_vectors"] < 1e-5
        # A perturbed student gets a gradient back towards the teacher, weighted.
        moved = dict(outputs)
        moved[TOKENS] = [x + 0.5 for x in outputs[TOKENS]]
        _, d_moved = component.get_loss(examples, moved)
        assert d_moved[TASK_LOSSES]["token_vectors"] > 0.01
        assert all((numpy.asarray(d) > 0).mean() > 0.95 for d in d_moved[TOKENS])
        component.cfg["distill_token_vectors_weight"] = 2.0
        _, d_double = component.get_loss(examples, moved)
        for a, b in zip(d_moved[TOKENS], d_double[TOKENS]):
            numpy.testing.assert_allclose(2 * numpy.asarray(a), b, rtol=1e-5)
    finally:
        component.cfg["distill_token_vectors_weight"] = 0.0
    # Off by default: no token-vector term, whatever the records hold.
    assert "token_vectors" not in component.get_loss(examples, outputs)[1][TASK_LOSSES]
