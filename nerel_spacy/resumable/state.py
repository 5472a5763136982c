"""Optimizer and random-number states that a later process can load.

thinc's ``Optimizer`` keys its moments by ``(node.id, param name)`` (``(shim.id, name)`` for a
PyTorch shim's parameters), and those ids are process-wide counters: a new process that
builds the same pipeline gives its nodes other ids. ``stable_names`` names every node and
shim by its pipe and its place in ``model.walk()`` instead, which a rebuilt pipeline repeats.
"""
import json
import random
from pathlib import Path
from typing import Any, Dict, Hashable, Tuple

import numpy
from spacy.language import Language
from thinc.api import Optimizer

OPTIMIZER_ARRAYS = "optimizer.npz"
OPTIMIZER_COUNTS = "optimizer.json"
RANDOM_STATES = "random.json"
NUMPY_RANDOM = "numpy_random.npy"
TORCH_RANDOM = "torch_random.npy"
ARRAY_TABLES = ("mom1", "mom2", "averages")
COUNT_TABLES = ("nr_update", "last_seen")


class ResumeError(ValueError):
    """A run that cannot be trained resumably, or a checkpoint that does not fit it."""


def stable_names(nlp: Language) -> Dict[int, str]:
    """``id → name`` for every node and shim of the pipeline's models.

    A node is ``"{pipe}/{i}"`` (its index in ``model.walk()``), a shim ``"{pipe}/{i}/shim{j}"``.
    A node shared by two pipes (a listener's upstream) keeps its first name.
    """
    names: Dict[int, str] = {}
    for pipe_name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model in (None, True, False):
            continue
        for i, node in enumerate(model.walk()):
            names.setdefault(node.id, f"{pipe_name}/{i}")
            for j, shim in enumerate(node.shims):
                names.setdefault(shim.id, f"{pipe_name}/{i}/shim{j}")
    return names


def _key_to_text(key: Hashable, names: Dict[int, str]) -> str:
    if not (isinstance(key, tuple) and len(key) == 2 and key[0] in names):
        raise ResumeError(
            f"The optimizer holds a parameter key {key!r} that belongs to no node of this "
            "pipeline, so its state could not be reloaded; it cannot be checkpointed."
        )
    return f"{names[key[0]]}:{key[1]}"


def _text_to_key(text: str, ids: Dict[str, int]) -> Tuple[int, str]:
    node_name, _, param = text.partition(":")
    if node_name not in ids:
        raise ResumeError(
            f"The checkpoint has optimizer state for {node_name!r}, which this pipeline does "
            "not have: was it written by another config?"
        )
    return ids[node_name], param


def save_optimizer(optimizer: Optimizer, nlp: Language, folder: Path) -> None:
    """Write the optimizer's moments, averages and update counts under stable names."""
    names = stable_names(nlp)
    arrays: Dict[str, numpy.ndarray] = {}
    for table in ARRAY_TABLES:
        for key, value in (getattr(optimizer, table, None) or {}).items():
            arrays[f"{table}|{_key_to_text(key, names)}"] = numpy.asarray(value)
    counts = {
        table: {_key_to_text(key, names): int(n) for key, n in getattr(optimizer, table).items()}
        for table in COUNT_TABLES
    }
    numpy.savez(folder / OPTIMIZER_ARRAYS, **arrays)
    (folder / OPTIMIZER_COUNTS).write_text(json.dumps(counts), encoding="utf8")


def load_optimizer(optimizer: Optimizer, nlp: Language, folder: Path) -> None:
    """Fill a freshly built optimizer with the state ``save_optimizer`` wrote.

    Only the per-parameter tables; the schedules are advanced by the caller.
    """
    ids = {name: node_id for node_id, name in stable_names(nlp).items()}
    with numpy.load(folder / OPTIMIZER_ARRAYS) as saved:
        for entry in saved.files:
            table, _, text = entry.partition("|")
            target = getattr(optimizer, table)
            if target is None:
                raise ResumeError(
                    f"The checkpoint has parameter {table} but this optimizer keeps none: "
                    "was use_averages changed?"
                )
            target[_text_to_key(text, ids)] = saved[entry].copy()
    counts = json.loads((folder / OPTIMIZER_COUNTS).read_text(encoding="utf8"))
    for table in COUNT_TABLES:
        target = getattr(optimizer, table)
        for text, n in counts[table].items():
            target[_text_to_key(text, ids)] = n


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
