"""The joint objective with a teacher: gold and teacher targets mixed by distill_weight."""
import numpy
import pytest

from conftest import make_nested_examples
from nerel_spacy.distill.soft_targets import TEACHER_KEY
from nerel_spacy.distill.teacher import teacher_records
from test_pipeline_relations import v3_trained_on_nested

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


def with_records(nlp, examples):
    for eg, record in zip(examples, teacher_records(nlp, [eg.reference for eg in examples])):
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
