"""Means over token ranges from prefix sums, and their gradient, against plain loops."""
import numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from thinc.api import NumpyOps

from nerel_spacy.models.ranges import prefix_sums, range_means, range_means_backward

from gradient_helpers import assert_input_gradients

ops = NumpyOps()


@st.composite
def rows_and_ranges(draw):
    n_rows = draw(st.integers(1, 12))
    width = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rows = numpy.random.default_rng(seed).normal(size=(n_rows, width)).astype("float32")
    bounds = st.tuples(st.integers(0, n_rows), st.integers(0, n_rows)).map(sorted)
    pairs = draw(st.lists(bounds, min_size=1, max_size=8))
    starts = numpy.asarray([s for s, _ in pairs], dtype="int32")
    ends = numpy.asarray([e for _, e in pairs], dtype="int32")
    return rows, starts, ends


def test_prefix_sums_by_hand():
    rows = numpy.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float32")
    numpy.testing.assert_array_equal(prefix_sums(ops, rows), [[0, 0], [1, 2], [4, 6], [9, 12]])


@settings(max_examples=60, deadline=None)
@given(rows_and_ranges())
def test_range_means_are_the_means_of_the_rows_and_zero_when_empty(case):
    rows, starts, ends = case
    means = range_means(prefix_sums(ops, rows), starts, ends)
    assert means.shape == (len(starts), rows.shape[1])
    for mean, start, end in zip(means, starts, ends):
        want = rows[start:end].mean(axis=0) if end > start else numpy.zeros(rows.shape[1])
        numpy.testing.assert_allclose(mean, want, rtol=1e-5, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(rows_and_ranges())
def test_the_backward_pass_spreads_each_gradient_evenly_over_its_range(case):
    rows, starts, ends = case
    d_means = numpy.random.default_rng(1).normal(size=(len(starts), rows.shape[1])).astype("float32")
    d_rows = range_means_backward(ops, d_means, starts, ends, len(rows))
    want = numpy.zeros_like(rows)
    for d, start, end in zip(d_means, starts, ends):
        if end > start:
            want[start:end] += d / (end - start)
    assert d_rows.shape == rows.shape
    numpy.testing.assert_allclose(d_rows, want, rtol=1e-5, atol=1e-5)


def test_the_backward_pass_matches_finite_differences():
    rng = numpy.random.default_rng(0)
    rows = rng.normal(size=(6, 3)).astype("float32")
    starts, ends = numpy.asarray([0, 2, 1, 4]), numpy.asarray([3, 6, 2, 4])
    d_means = rng.normal(size=(4, 3)).astype("float32")

    def objective(docs):
        return float((range_means(prefix_sums(ops, docs[0]), starts, ends) * d_means).sum())

    analytic = range_means_backward(ops, d_means, starts, ends, len(rows))
    assert_input_gradients(objective, [rows], [analytic])
