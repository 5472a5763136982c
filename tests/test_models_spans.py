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
    # Every weight from the seeded rng: initialize draws W from the process-wide random state,
    # which the tests before this one move, and some draws put a ReLU kink within EPS.
    W = model.get_param("W")
    model.set_param("W", rng.normal(size=W.shape).astype("float32") * 0.3)
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


def reference_representation(model, docs):
    """The representation by a plain gather of every candidate (the module doc's formula)."""
    W, b, widths = model.get_param("W"), model.get_param("b"), model.get_param("widths")
    n_hidden = model.get_dim("nH")
    outputs = []
    for X in docs:
        starts, ends = enumerate_candidates(len(X), model.attrs["max_width"])
        projected = model.ops.gemm(X, W, trans2=True)
        prefix = numpy.concatenate([numpy.zeros((1, n_hidden), "float32"), numpy.cumsum(projected[:, 2 * n_hidden :], axis=0)])
        mean = (prefix[ends] - prefix[starts]) / (ends - starts)[:, None].astype("float32")
        hidden = projected[starts, :n_hidden] + projected[ends - 1, n_hidden : 2 * n_hidden] + mean + widths[ends - starts - 1] + b
        outputs.append(hidden * (hidden > 0))
    return outputs


@pytest.mark.parametrize("max_width", [1, 3, 4, 7])
def test_the_width_by_width_fill_equals_the_gather_to_the_bit(max_width):
    model = build_span_representation(max_width=max_width, hidden_width=6)
    rng = numpy.random.default_rng(max_width)
    docs = [rng.normal(size=(n, 5)).astype("float32") for n in (1, 2, 3, 4, 6, 9, 20)]
    model.initialize(X=docs)
    model.set_param("b", rng.normal(size=6).astype("float32") * 0.3)
    model.set_param("widths", rng.normal(size=(max_width, 6)).astype("float32") * 0.3)
    expected = reference_representation(model, docs)
    for predicted in (model.predict(docs), model.begin_update(docs)[0]):
        assert len(predicted) == len(expected) == len(docs)
        for got, want in zip(predicted, expected):
            assert got.shape == want.shape
            numpy.testing.assert_array_equal(got, want)
