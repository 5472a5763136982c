"""Optimizer and random-number states that a later process can load.

thinc's ``Optimizer`` keys its moments by ``(node.id, param name)`` (``(shim.id, name)`` for a
PyTorch shim's parameters), and those ids are process-wide counters (one for nodes, another for
shims, so a shim's id may equal a node's): a new process that builds the same pipeline gives
its nodes other ids. ``stable_names`` names every node and shim by its pipe and its place
in ``model.walk()`` instead, which a rebuilt pipeline repeats.

The random states saved are Python's, numpy's and torch's CPU generator: a resumed run equals
an uninterrupted one bit for bit on the CPU. The CUDA and cupy generators are not saved, so a
run on a GPU resumes with other random draws (dropout masks) than it would have made.
"""
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Hashable, List, Optional, Tuple

import numpy
from spacy.language import Language
from thinc.api import Model, Optimizer

from .checkpoint_files import (  # the file names, where nerel-batch progress can read them without spaCy
    COUNT_TABLES, NUMPY_RANDOM, OPTIMIZER_ARRAYS, OPTIMIZER_COUNTS, RANDOM_STATES, TORCH_RANDOM,
)

ARRAY_TABLES = ("mom1", "mom2", "averages")


class ResumeError(ValueError):
    """A run that cannot be trained resumably, or a checkpoint that does not fit it."""


@dataclass
class StableNames:
    """The pipeline's nodes and shims under names a rebuilt pipeline repeats.

    thinc counts node ids and shim ids apart, so a shim may share its id with a node: a key
    ``(id, param)`` is the node's when the node has that parameter, else the shim's.
    """

    nodes: Dict[int, Tuple[str, Model]]
    shims: Dict[int, str]
    shim_objects: Dict[int, Any] = field(default_factory=dict)
    ids: Dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = {**{name: i for i, (name, _) in self.nodes.items()}, **{name: i for i, name in self.shims.items()}}

    def names(self) -> List[str]:
        return [name for name, _ in self.nodes.values()] + list(self.shims.values())

    def text(self, key: Hashable) -> str:
        if isinstance(key, tuple) and len(key) == 2:
            owner, param = key
            node = self.nodes.get(owner)
            if node is not None and param in node[1].param_names:
                return f"{node[0]}:{param}"
            if owner in self.shims:
                return f"{self.shims[owner]}:{param}"
        raise ResumeError(
            f"The optimizer holds a parameter key {key!r} that belongs to no node of this "
            "pipeline, so its state could not be reloaded; it cannot be checkpointed."
        )

    def key(self, text: str) -> Tuple[int, str]:
        name, _, param = text.partition(":")
        if name not in self.ids:
            raise ResumeError(
                f"The checkpoint has optimizer state for {name!r}, which this pipeline does "
                "not have: was it written by another config?"
            )
        return self.ids[name], param

    def shape(self, text: str) -> Optional[Tuple[int, ...]]:
        """The current shape of the parameter ``text`` names, or None where it has none yet."""
        name, _, param = text.partition(":")
        owner = self.ids.get(name)
        node = self.nodes.get(owner) if owner is not None else None
        if node is not None and node[0] == name:
            model = node[1]
            if param in model.param_names and model.has_param(param):
                return tuple(model.get_param(param).shape)
            return None
        torch_model = getattr(self.shim_objects.get(owner), "_model", None)
        named = getattr(torch_model, "named_parameters", None)
        if named is None:  # not a PyTorch shim: nothing to compare with
            return None
        value = dict(named()).get(param)
        return tuple(value.shape) if value is not None else None


def stable_names(nlp: Language) -> StableNames:
    """Every node and shim of the pipeline's models, named by pipe and place in ``model.walk()``.

    A node is ``"{pipe}/{i}"`` (its index in ``model.walk()``), a shim ``"{pipe}/{i}/shim{j}"``.
    A node or shim shared by two pipes (a listener's upstream) keeps its first name.
    """
    nodes: Dict[int, Tuple[str, Model]] = {}
    shims: Dict[int, str] = {}
    shim_objects: Dict[int, Any] = {}
    for pipe_name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model in (None, True, False):
            continue
        for i, node in enumerate(model.walk()):
            nodes.setdefault(node.id, (f"{pipe_name}/{i}", node))
            for j, shim in enumerate(node.shims):
                shims.setdefault(shim.id, f"{pipe_name}/{i}/shim{j}")
                shim_objects.setdefault(shim.id, shim)
    return StableNames(nodes, shims, shim_objects)


def save_optimizer(optimizer: Optimizer, nlp: Language, folder: Path) -> None:
    """Write the optimizer's moments, averages and update counts under stable names."""
    names = stable_names(nlp)
    arrays: Dict[str, numpy.ndarray] = {}
    for table in ARRAY_TABLES:
        for key, value in (getattr(optimizer, table, None) or {}).items():
            arrays[f"{table}|{names.text(key)}"] = numpy.asarray(value)
    counts = {
        table: {names.text(key): int(n) for key, n in getattr(optimizer, table).items()}
        for table in COUNT_TABLES
    }
    numpy.savez(folder / OPTIMIZER_ARRAYS, **arrays)
    (folder / OPTIMIZER_COUNTS).write_text(json.dumps(counts), encoding="utf8")


def load_optimizer(optimizer: Optimizer, nlp: Language, folder: Path) -> None:
    """Fill a freshly built optimizer with the state ``save_optimizer`` wrote.

    Only the per-parameter tables; the schedules are advanced by the caller. Each array must
    fit its parameter as the pipeline now builds it (Adam's moments are flat, of the
    parameter's size; the averages have its shape), or ``ResumeError`` names the parameter.
    """
    names = stable_names(nlp)
    with numpy.load(folder / OPTIMIZER_ARRAYS) as saved:
        for entry in saved.files:
            table, _, text = entry.partition("|")
            target = getattr(optimizer, table)
            if target is None:
                raise ResumeError(
                    f"The checkpoint has parameter {table} but this optimizer keeps none: "
                    "was use_averages changed?"
                )
            key, value = names.key(text), saved[entry].copy()
            _check_shape(table, text, value, names.shape(text))
            target[key] = value
    counts = json.loads((folder / OPTIMIZER_COUNTS).read_text(encoding="utf8"))
    for table in COUNT_TABLES:
        target = getattr(optimizer, table)
        for text, n in counts[table].items():
            target[names.key(text)] = n


def _check_shape(table: str, text: str, value: numpy.ndarray, shape: Optional[Tuple[int, ...]]) -> None:
    if shape is None:
        return
    expected = shape if table == "averages" else (int(numpy.prod(shape)),)
    if tuple(value.shape) != expected:
        raise ResumeError(
            f"The checkpoint's optimizer {table} for parameter {text} has shape {tuple(value.shape)}, "
            f"but this pipeline's parameter needs {expected} (the parameter is {shape}): the pipeline's "
            "code or its settings changed its size since the checkpoint was written: resume it with the "
            "code it was written with. Pass --fresh to start over."
        )


def save_random_states(folder: Path) -> None:
    """The states of Python's, numpy's and (when installed) torch's global generators."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = numpy.random.get_state()
    (folder / RANDOM_STATES).write_text(
        json.dumps({
            "python": [version, list(internal), gauss],
            "numpy": [kind, int(position), int(has_gauss), float(cached)],
        }),
        encoding="utf8",
    )
    numpy.save(folder / NUMPY_RANDOM, keys)
    torch = _torch()
    if torch is not None:
        numpy.save(folder / TORCH_RANDOM, torch.get_rng_state().numpy())


def load_random_states(folder: Path) -> None:
    saved: Dict[str, Any] = json.loads((folder / RANDOM_STATES).read_text(encoding="utf8"))
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, position, has_gauss, cached = saved["numpy"]
    numpy.random.set_state((kind, numpy.load(folder / NUMPY_RANDOM), position, has_gauss, cached))
    torch = _torch()
    if torch is not None and (folder / TORCH_RANDOM).exists():
        torch.set_rng_state(torch.from_numpy(numpy.load(folder / TORCH_RANDOM)))


def _torch():
    try:
        import torch
    except ImportError:  # a CNN pipeline trains without torch
        return None
    return torch
