"""Finite-difference checks of a thinc layer's gradients, shared by the head tests."""
from typing import Callable, List, Sequence

import numpy
import pytest
from thinc.api import Model

# The layers compute in float32, so a central difference carries a rounding error of about
# 6e-8 * |output| * sqrt(n_outputs) / (2 * EPS): at 2e-4 that was up to 0.0042 of the 0.005
# tolerance on the relation head, at 1e-3 it is under 0.001 on every head. Every fixture draws
# its weights from a seeded rng, so whether a ReLU kink falls inside the step is fixed, not luck.
EPS = 1e-3


def assert_input_gradients(objective: Callable[[List[numpy.ndarray]], float], docs, d_docs, tol=5e-3) -> None:
    """Each input entry's analytic gradient ``d_docs`` against a central difference of ``objective``."""
    for i, X in enumerate(docs):
        for index in numpy.ndindex(X.shape):
            plus = [x.copy() for x in docs]
            minus = [x.copy() for x in docs]
            plus[i][index] += EPS
            minus[i][index] -= EPS
            numeric = (objective(plus) - objective(minus)) / (2 * EPS)
            assert numeric == pytest.approx(d_docs[i][index], abs=tol)


def assert_param_gradients(
    model: Model, names: Sequence[str], objective: Callable[[], float], max_checks: int = 60, tol=5e-3
) -> None:
    """The accumulated gradient of each named parameter, at up to ``max_checks`` spread entries."""
    for name in names:
        param, grad = model.get_param(name).copy(), model.get_grad(name).copy()
        assert grad.any(), name
        step = max(1, param.size // max_checks)
        for index in list(numpy.ndindex(param.shape))[::step]:
            shifted = param.copy()
            shifted[index] += EPS
            model.set_param(name, shifted)
            up = objective()
            shifted[index] -= 2 * EPS
            model.set_param(name, shifted)
            down = objective()
            model.set_param(name, param)
            assert (up - down) / (2 * EPS) == pytest.approx(grad[index], abs=tol), (name, index)
