"""Checkpoint averaging: one pipeline whose weights are the mean of several pipelines' weights.

Averaging the weights of checkpoints from one training run (Vaswani et al. 2017), or of
models fine-tuned from one starting point ("model soups", Wortsman et al. 2022), often
scores above each of them. ``benchmarks/average_weights.py`` measures it on our rounds of
``train-more``.

Every component's thinc parameters are averaged, and every floating-point tensor of the
PyTorch modules behind its shims (the transformer). Integer tensors (position ids) are
taken from the first pipeline. The pipelines must share one architecture: the same
components, the same layers and the same parameter shapes; the first pipeline's config,
vocab and settings are kept.
"""
from typing import Dict, List, Sequence, Tuple

from spacy.language import Language
from thinc.api import Model

ParamKey = Tuple[str, int, str, str]
ShimKey = Tuple[str, int, str, int]


def parameters_and_shims(nlp: Language) -> Tuple[Dict[ParamKey, Tuple[Model, str]], Dict[ShimKey, object]]:
    """Each component's parameters (as ``(node, name)``) and shims, keyed by their place in the model."""
    params: Dict[ParamKey, Tuple[Model, str]] = {}
    shims: Dict[ShimKey, object] = {}
    for component, pipe in nlp.components:
        model = getattr(pipe, "model", None)
        if not isinstance(model, Model):
            continue
        for index, node in enumerate(model.walk()):
            for name in node.param_names:
                if node.has_param(name):
                    params[(component, index, node.name, name)] = (node, name)
            for shim_index, shim in enumerate(node.shims):
                shims[(component, index, node.name, shim_index)] = shim
    return params, shims


def average_pipelines(pipelines: Sequence[Language]) -> Language:
    """Set the first pipeline's weights to the mean over ``pipelines``, and return it.

    Raises ValueError when the pipelines' parameters or tensors differ in place or shape.
    """
    if not pipelines:
        raise ValueError("average_pipelines: no pipelines given")
    first, rest = pipelines[0], pipelines[1:]
    params, shims = parameters_and_shims(first)
    others = [parameters_and_shims(nlp) for nlp in rest]
    for position, (other_params, other_shims) in enumerate(others, start=2):
        if set(other_params) != set(params) or set(other_shims) != set(shims):
            raise ValueError(f"average_pipelines: pipeline {position} has other layers than the first; "
                             "only pipelines of one architecture can be averaged")
    for key, (node, name) in params.items():
        arrays = [node.get_param(name)] + [other[0][key][0].get_param(other[0][key][1]) for other in others]
        check_shapes(key, [array.shape for array in arrays])
        node.set_param(name, mean_of(arrays))
    for key, shim in shims.items():
        states = [shim._model.state_dict()] + [other[1][key]._model.state_dict() for other in others]
        shim._model.load_state_dict(average_state_dicts(states, key))
    return first


def average_state_dicts(states: List[dict], where: object = "") -> dict:
    """The mean of several PyTorch state dicts; integer tensors come from the first."""
    averaged = {}
    for name, tensor in states[0].items():
        tensors = [state[name] for state in states]
        check_shapes((where, name), [tuple(t.shape) for t in tensors])
        averaged[name] = mean_of(tensors) if tensor.is_floating_point() else tensor
    return averaged


def mean_of(arrays: Sequence):
    total = arrays[0] * 1.0
    for array in arrays[1:]:
        total = total + array
    return total / len(arrays)


def check_shapes(where: object, shapes: Sequence[tuple]) -> None:
    if len(set(map(tuple, shapes))) != 1:
        raise ValueError(f"average_pipelines: {where} has shapes {list(shapes)}; "
                         "only pipelines of one architecture can be averaged")


__all__ = ["average_pipelines", "average_state_dicts", "parameters_and_shims"]
