"""nerel.numpy_blas_ops.v2 (and v1): numpy's BLAS for thinc's CPU layers, with the same predictions."""
import numpy
import pytest
import spacy
from thinc.api import Linear, NumpyOps, Relu, chain, get_current_ops, set_current_ops

from nerel_spacy.ops import create_numpy_blas_ops, use_numpy_blas, use_numpy_blas_in, use_numpy_blas_on

from conftest import make_nested_examples
from pipeline_helpers import cnn_nlp, train


@pytest.fixture
def restore_ops():
    before = get_current_ops()
    yield
    set_current_ops(before)


def test_callback_switches_cpu_ops_to_numpy_blas(restore_ops):
    set_current_ops(NumpyOps())
    cls = spacy.blank("ru").__class__
    assert create_numpy_blas_ops()(cls) is cls
    ops = get_current_ops()
    assert type(ops) is NumpyOps and ops.use_blis is False
    assert use_numpy_blas() is True  # idempotent


def test_a_lone_model_is_switched_and_the_process_is_not(restore_ops):
    set_current_ops(NumpyOps())
    model = chain(Relu(4, 3), Linear(2, 4))
    X = numpy.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    model.initialize(X=X)
    before = model.predict(X)
    assert use_numpy_blas_on(model) == len(list(model.walk()))
    assert {node.ops.use_blis for node in model.walk()} == {False}
    assert get_current_ops().use_blis is True
    numpy.testing.assert_allclose(model.predict(X), before, rtol=1e-5, atol=1e-6)
    assert use_numpy_blas_on([model]) == 0  # idempotent


def _blis_flags(nlp):
    return {node.ops.use_blis for _, pipe in nlp.components for node in pipe.model.walk()}


@pytest.mark.slow
def test_v2_switches_this_pipelines_models_only(tmp_path, restore_ops):
    set_current_ops(NumpyOps())
    nlp = cnn_nlp()
    train(nlp, make_nested_examples(nlp), 2)
    nlp.to_disk(tmp_path / "model")
    fast = spacy.load(tmp_path / "model",
                      config={"nlp": {"after_pipeline_creation": {"@callbacks": "nerel.numpy_blas_ops.v2"}}})
    assert _blis_flags(fast) == {False}
    assert get_current_ops().use_blis is True  # the process keeps its kernels ...
    assert _blis_flags(spacy.load(tmp_path / "model")) == {True}  # ... and so does the next pipeline
    assert use_numpy_blas_in(fast) == 0  # idempotent


@pytest.mark.slow
def test_same_predictions_with_numpy_blas(tmp_path, restore_ops):
    set_current_ops(NumpyOps())
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 30)
    nlp.to_disk(tmp_path / "model")
    texts = [eg.reference.text for eg in examples]
    blis = spacy.load(tmp_path / "model")
    assert blis.get_pipe("nerel_joint").model.ops.use_blis is True
    with_blis = list(blis.pipe(texts))
    numpy_blas = spacy.load(
        tmp_path / "model", config={"nlp": {"after_pipeline_creation": {"@callbacks": "nerel.numpy_blas_ops.v2"}}}
    )
    assert numpy_blas.get_pipe("nerel_joint").model.ops.use_blis is False
    for a, b in zip(with_blis, numpy_blas.pipe(texts)):
        assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
        assert [(s.start, s.end, s.label_) for s in a.spans["nerel"]] == [
            (s.start, s.end, s.label_) for s in b.spans["nerel"]
        ]
        numpy.testing.assert_allclose(list(a.cats.values()), list(b.cats.values()), atol=1e-5)
