"""apply_gradients: heads at a scaled learning rate, no L2 where asked, L2 restored after errors."""
import numpy
import pytest
from thinc.api import SGD, Linear, chain

from nerel_spacy.pipeline.optimizer import apply_gradients, without_l2


def two_layers():
    first, second = Linear(3, 2), Linear(2, 3)
    model = chain(first, second)
    model.initialize(X=numpy.ones((1, 2), dtype="float32"))
    return model, first, second


def set_gradients(model, value: float):
    for node in model.walk():
        for name in node.param_names:
            node.inc_grad(name, numpy.full_like(node.get_param(name), value))


def weights(node):
    return node.get_param("W").copy()


def test_scaled_nodes_move_lr_scale_times_as_far():
    model, first, second = two_layers()
    before = {id(n): weights(n) for n in (first, second)}
    set_gradients(model, 0.01)
    apply_gradients(model, SGD(0.1), scaled={second.id}, lr_scale=10.0, no_decay=set())
    numpy.testing.assert_allclose(before[id(first)] - weights(first), 0.001, rtol=1e-4)
    numpy.testing.assert_allclose(before[id(second)] - weights(second), 0.01, rtol=1e-4)
    assert not first.get_grad("W").any() and not second.get_grad("W").any()  # the step used them up


def test_no_decay_nodes_get_no_l2():
    model, first, second = two_layers()
    before = {id(n): weights(n) for n in (first, second)}
    set_gradients(model, 0.0)
    optimizer = SGD(0.1, L2=0.5)
    apply_gradients(model, optimizer, scaled=set(), lr_scale=1.0, no_decay={first.id})
    numpy.testing.assert_array_equal(weights(first), before[id(first)])
    shrunk = numpy.abs(weights(second)) < numpy.abs(before[id(second)])
    assert shrunk[before[id(second)] != 0].all()
    assert optimizer.L2 == 0.5


def test_without_l2_restores_it_even_after_an_error():
    optimizer = SGD(0.1, L2=0.5)
    with pytest.raises(RuntimeError):
        with without_l2(optimizer):
            assert optimizer.L2 == 0.0
            raise RuntimeError("boom")
    assert optimizer.L2 == 0.5
    with without_l2(optimizer, active=False):
        assert optimizer.L2 == 0.5
