"""Applying a joint model's gradients: per-node learning-rate scales and no-decay nodes."""
from contextlib import contextmanager
from typing import Iterator, Set

from thinc.api import Model, Optimizer


def apply_gradients(
    model: Model, sgd: Optimizer, *, scaled: Set[int], lr_scale: float, no_decay: Set[int]
) -> None:
    """One optimizer step over every node of ``model`` (and its shims).

    scaled: ids of nodes trained at ``lr_scale`` × the rate (fresh heads beside a
        pretrained encoder); the rest at the rate itself.
    no_decay: ids of nodes whose parameters get no L2 (decay or penalty).
    """
    for node in model.walk():
        for shim in node.shims:
            shim.finish_update(sgd)
    for node in model.walk():
        scale = lr_scale if node.id in scaled else 1.0
        for name in node.param_names:
            if node.has_grad(name):
                with without_l2(sgd, node.id in no_decay):
                    param, _ = sgd((node.id, name), node.get_param(name), node.get_grad(name), lr_scale=scale)
                node.set_param(name, param)


@contextmanager
def without_l2(sgd: Optimizer, active: bool = True) -> Iterator[None]:
    """Run optimizer calls without L2 when ``active`` (restored afterwards, even on error)."""
    if not active or not getattr(sgd, "L2", 0):
        yield
        return
    l2 = sgd.L2
    sgd.L2 = 0.0
    try:
        yield
    finally:
        sgd.L2 = l2
