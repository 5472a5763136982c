"""The span head: shapes, candidate order, and gradients against finite differences."""
import numpy
import pytest

from nerel_spacy.models.spans import build_span_representation, build_span_scorer
from nerel_spacy.span_decoding import enumerate_candidates, n_candidates

from gradient_helpers import assert_input_gradients, assert_param_gradients


@pytest.fixture
def representation():
    model = build_span_representation(max_width=4, hidden_width=5)
    rng = numpy.random.default_rng(0)
    docs = [rng.normal(size=(n, 3)).astype("float32") for n in (1, 6, 3)]
    model.initialize(X=docs)
    model.set_param("b", rng.normal(size=5).astype("float32") * 0.3)
    model.set_param("widths", rng.normal(size=(4, 5)).astype("float32") * 0.3)
    return model, docs


def test_one_row_per_candidate(representation):
    model, docs = representation
    outputs = model.predict(docs)
    assert [o.shape for o in outputs] == [(n_candidates(len(d), 4), 5) for d in docs]


def test_a_candidate_sees_its_start_end_inside_mean_and_width(representation):
    model, docs = representation
    X = docs[1]
    W, b, widths = model.get_param("W"), model.get_param("b"), model.get_param("widths")
    starts, ends = enumerate_candidates(len(X), 4)
    row = 7
    s, e = int(starts[row]), int(ends[row])
    projected = X @ W.T
    expected = projected[s, :5] + projected[e - 1, 5:10] + projected[s:e, 10:].mean(axis=0)
    expected = numpy.maximum(expected + widths[e - s - 1] + b, 0)
    numpy.testing.assert_allclose(model.predict(docs)[1][row], expected, rtol=1e-5, atol=1e-6)


def test_gradients_match_finite_differences(representation):
    model, docs = representation
    rng = numpy.random.default_rng(1)
    outputs, backprop = model.begin_update(docs)
    d_outputs = [rng.normal(size=o.shape).astype("float32") for o in outputs]
    d_docs = [d.copy() for d in backprop(d_outputs)]

    def objective(xs):
        return sum(float((o.astype("float64") * d).sum()) for o, d in zip(model.predict(xs), d_outputs))

    assert_input_gradients(objective, docs, d_docs)
    assert_param_gradients(model, ("W", "b", "widths"), lambda: objective(docs))


def test_scorer_outputs_classes_and_rejects_a_bad_width():
    model = build_span_scorer(max_width=3, hidden_width=8, nO=4)
    docs = [numpy.ones((5, 6), dtype="float32")]
    model.initialize(X=docs)
    assert model.predict(docs)[0].shape == (n_candidates(5, 3), 4)
    assert model.attrs["max_width"] == 3
    with pytest.raises(ValueError, match="max_width"):
        build_span_scorer(max_width=0)
