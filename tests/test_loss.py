"""The loss maths, each gradient checked against central finite differences."""
import numpy
import pytest
from thinc.api import NumpyOps

from nerel_spacy.models.loss import (
    fixed_weighted_loss,
    relative_squared_error,
    sigma_from_log_variance,
    sigmoid_binary_cross_entropy,
    soft_cross_entropy,
    softmax_cross_entropy,
    uncertainty_weighted_loss,
)

EPS = 1e-5
OPS = NumpyOps()


def numeric_gradient(f, x):
    grad = numpy.zeros_like(x, dtype="float64")
    for index in numpy.ndindex(*x.shape):
        plus, minus = x.astype("float64").copy(), x.astype("float64").copy()
        plus[index] += EPS
        minus[index] -= EPS
        grad[index] = (f(plus) - f(minus)) / (2 * EPS)
    return grad


@pytest.fixture
def rng():
    return numpy.random.default_rng(0)


def test_softmax_cross_entropy_gradient_matches_finite_differences(rng):
    logits = rng.normal(size=(7, 5))
    gold = rng.integers(0, 5, size=7)
    mask = numpy.array([1, 1, 0, 1, 1, 0, 1], dtype="float64")
    _, d_logits = softmax_cross_entropy(OPS, logits, gold, mask)
    expected = numeric_gradient(lambda x: softmax_cross_entropy(OPS, x, gold, mask)[0], logits)
    numpy.testing.assert_allclose(d_logits, expected, atol=1e-6)
    assert numpy.all(d_logits[mask == 0] == 0)


def test_softmax_cross_entropy_value():
    logits = numpy.log(numpy.array([[0.25, 0.75], [0.5, 0.5]]))
    loss, _ = softmax_cross_entropy(OPS, logits, numpy.array([1, 0]))
    assert loss == pytest.approx(-(numpy.log(0.75) + numpy.log(0.5)) / 2)


def test_softmax_cross_entropy_all_masked_is_zero():
    loss, grad = softmax_cross_entropy(OPS, numpy.ones((3, 4)), numpy.zeros(3), numpy.zeros(3))
    assert loss == 0.0 and not grad.any()


def test_soft_cross_entropy_gradient_matches_finite_differences(rng):
    logits = rng.normal(size=(6, 4))
    targets = rng.dirichlet(numpy.ones(4), size=6)
    mask = numpy.array([1, 0, 1, 1, 1, 0], dtype="float64")
    _, d_logits = soft_cross_entropy(OPS, logits, targets, mask)
    expected = numeric_gradient(lambda x: soft_cross_entropy(OPS, x, targets, mask)[0], logits)
    numpy.testing.assert_allclose(d_logits, expected, atol=1e-6)
    assert numpy.all(d_logits[mask == 0] == 0)


def test_soft_cross_entropy_with_one_hot_targets_is_the_hard_loss(rng):
    logits = rng.normal(size=(5, 3))
    gold = numpy.array([0, 2, 1, 1, 0])
    hard, d_hard = softmax_cross_entropy(OPS, logits, gold)
    soft, d_soft = soft_cross_entropy(OPS, logits, numpy.eye(3)[gold])
    assert soft == pytest.approx(hard)
    numpy.testing.assert_allclose(d_soft, d_hard, atol=1e-7)


def test_soft_cross_entropy_is_smallest_at_the_target():
    targets = numpy.array([[0.7, 0.2, 0.1]])
    at_target, grad = soft_cross_entropy(OPS, numpy.log(targets), targets)
    elsewhere, _ = soft_cross_entropy(OPS, numpy.log(numpy.array([[0.5, 0.3, 0.2]])), targets)
    assert at_target < elsewhere
    numpy.testing.assert_allclose(grad, 0.0, atol=1e-7)


def test_binary_cross_entropy_gradient_matches_finite_differences(rng):
    logits = rng.normal(scale=3.0, size=(4, 6))
    targets = (rng.random((4, 6)) > 0.5).astype("float64")
    mask = (rng.random((4, 6)) > 0.2).astype("float64")
    _, d_logits = sigmoid_binary_cross_entropy(OPS, logits, targets, mask)
    expected = numeric_gradient(
        lambda x: sigmoid_binary_cross_entropy(OPS, x, targets, mask)[0], logits
    )
    numpy.testing.assert_allclose(d_logits, expected, atol=1e-6)


def test_per_row_binary_cross_entropy_sums_labels_and_averages_rows(rng):
    logits = rng.normal(scale=3.0, size=(5, 7))
    targets = (rng.random((5, 7)) > 0.7).astype("float64")
    mask = numpy.ones((5, 7))
    mask[2] = 0.0  # a row with nothing counted does not count as a row
    loss, d_logits = sigmoid_binary_cross_entropy(OPS, logits, targets, mask, per_row=True)
    mean_loss, _ = sigmoid_binary_cross_entropy(OPS, logits, targets, mask)
    assert loss == pytest.approx(mean_loss * 7)  # 28 entries in 4 rows of 7
    expected = numeric_gradient(
        lambda x: sigmoid_binary_cross_entropy(OPS, x, targets, mask, per_row=True)[0], logits
    )
    numpy.testing.assert_allclose(d_logits, expected, atol=1e-6)


def test_binary_cross_entropy_is_stable_for_large_logits():
    loss, grad = sigmoid_binary_cross_entropy(OPS, 
        numpy.array([[1000.0, -1000.0]]), numpy.array([[0.0, 1.0]])
    )
    assert numpy.isfinite(loss) and loss == pytest.approx(1000.0)
    assert numpy.all(numpy.isfinite(grad))


def test_uncertainty_weighted_loss_value_and_gradients(rng):
    losses = numpy.array([2.3, 0.4])
    log_vars = numpy.array([0.3, -0.7])
    total, d_losses, d_log_vars = uncertainty_weighted_loss(OPS, losses, log_vars)
    assert total == pytest.approx(float((numpy.exp(-log_vars) * losses + log_vars).sum()))
    numpy.testing.assert_allclose(
        d_losses, numeric_gradient(lambda x: uncertainty_weighted_loss(OPS, x, log_vars)[0], losses),
        rtol=1e-5,
    )
    numpy.testing.assert_allclose(
        d_log_vars, numeric_gradient(lambda s: uncertainty_weighted_loss(OPS, losses, s)[0], log_vars),
        rtol=1e-5,
    )


def test_uncertainty_weighting_optimum_is_log_of_the_loss():
    """At the stationary point exp(-s)·L = 1, i.e. σ² = L: the noisier task gets the smaller weight."""
    losses = numpy.array([4.0, 0.25])
    _, _, d_log_vars = uncertainty_weighted_loss(OPS, losses, numpy.log(losses))
    numpy.testing.assert_allclose(d_log_vars, 0.0, atol=1e-6)
    weights, _, _ = uncertainty_weighted_loss(OPS, losses, numpy.log(losses))[1], None, None
    assert weights[0] < weights[1]


def test_chain_rule_through_a_head_matches_finite_differences(rng):
    """The component multiplies each head's gradient by exp(-s_i): check the composition."""
    tag_logits = rng.normal(size=(5, 3))
    gold = rng.integers(0, 3, size=5)
    cat_logits = rng.normal(size=(2, 4))
    targets = (rng.random((2, 4)) > 0.5).astype("float64")
    log_vars = numpy.array([0.5, -0.2])

    def total(tags, cats):
        l1 = softmax_cross_entropy(OPS, tags, gold)[0]
        l2 = sigmoid_binary_cross_entropy(OPS, cats, targets)[0]
        return uncertainty_weighted_loss(OPS, [l1, l2], log_vars)[0]

    l1, d1 = softmax_cross_entropy(OPS, tag_logits, gold)
    l2, d2 = sigmoid_binary_cross_entropy(OPS, cat_logits, targets)
    _, factors, _ = uncertainty_weighted_loss(OPS, [l1, l2], log_vars)
    numpy.testing.assert_allclose(
        d1 * factors[0], numeric_gradient(lambda x: total(x, cat_logits), tag_logits), atol=1e-6
    )
    numpy.testing.assert_allclose(
        d2 * factors[1], numeric_gradient(lambda x: total(tag_logits, x), cat_logits), atol=1e-6
    )


def test_fixed_weighted_loss():
    total, d_losses = fixed_weighted_loss(OPS, [2.0, 3.0], [1.0, 0.5])
    assert total == pytest.approx(3.5)
    numpy.testing.assert_allclose(d_losses, [1.0, 0.5])


def test_sigma_from_log_variance():
    numpy.testing.assert_allclose(sigma_from_log_variance(OPS, numpy.log([4.0, 1.0])), [2.0, 1.0])


def test_relative_squared_error_is_a_fraction_of_the_targets_norm_and_its_gradient_matches(rng):
    target = rng.normal(size=(6, 4))
    assert relative_squared_error(OPS, target, target)[0] == 0.0
    assert relative_squared_error(OPS, numpy.zeros_like(target), target)[0] == pytest.approx(1.0)
    assert relative_squared_error(OPS, 3 * target, target)[0] == pytest.approx(4.0)
    predicted = rng.normal(size=(6, 4))
    _, d_predicted = relative_squared_error(OPS, predicted, target)
    expected = numeric_gradient(lambda x: relative_squared_error(OPS, x, target)[0], predicted)
    numpy.testing.assert_allclose(d_predicted, expected, atol=1e-6)
    assert d_predicted.dtype == numpy.float32


def test_relative_squared_error_of_nothing_or_a_zero_target_is_zero():
    assert relative_squared_error(OPS, numpy.zeros((0, 4)), numpy.zeros((0, 4)))[0] == 0.0
    loss, d = relative_squared_error(OPS, numpy.ones((2, 3)), numpy.zeros((2, 3)))
    assert loss == 0.0 and not d.any()
