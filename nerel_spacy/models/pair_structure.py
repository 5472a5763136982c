"""What lies between and around two mentions: the relation head's structural features.

In session 12's error analysis 83% of the relation head's spurious triples sat on pairs
with no gold relation: the head finds what a pair of types tends to mean but not *which*
of several candidates a mention relates to. News sentences list people, posts and
organisations side by side ("министр Лавров и глава МИД Китая Ван И"), and a person's post
is usually the nearest mention of that type, with no other person between them. The
token vectors hold this only diffusely; the mentions hold it exactly. Per candidate pair:

- ``between``: how many mentions lie wholly in the gap between the arguments (bucketed);
- ``head_rivals``: the head's type, and how many mentions *of that type* lie in the gap
  (0, 1, 2 or more); ``tail_rivals`` likewise for the tail;
- ``depth``: how many other mentions contain the head, and the tail (0, 1, 2 or more each).

Each feature indexes its own embedding table; the pair's row is their sum. The features
come from the mentions alone, so the token vectors get no gradient from this layer.
"""
from typing import Callable, List, Optional, Tuple

import numpy
from thinc.api import Model, glorot_uniform_init
from thinc.types import Floats2d, Ints2d

from ..relation_decoding import between_ranges, enumerate_pairs

PAIR_STRUCTURE = "pair_structure"
RelationInput = Tuple[List[Floats2d], List[Ints2d]]
BETWEEN_EDGES = (1, 2, 3, 5, 9)  # buckets 0 | 1 | 2 | 3-4 | 5-8 | 9+
N_BETWEEN = len(BETWEEN_EDGES) + 1
N_RIVALS = 3  # 0, 1, 2+
N_DEPTH = 3  # 0, 1, 2+
TABLES = ("between", "head_rivals", "tail_rivals", "depth")


def pair_structure(mentions: numpy.ndarray, heads: numpy.ndarray, tails: numpy.ndarray,
                   block: int = 2048) -> numpy.ndarray:
    """``(n_pairs, 4)`` table indices: between, head rivals, tail rivals, depth (module doc).

    ``mentions`` are ``(start, end, label)`` rows; the rival features are offset by the
    argument's label, ``label * N_RIVALS + count``, so each type learns its own.
    """
    mentions = numpy.asarray(mentions, dtype="int64").reshape((-1, 3))
    heads, tails = numpy.asarray(heads, dtype="int64"), numpy.asarray(tails, dtype="int64")
    starts, ends, labels = mentions[:, 0], mentions[:, 1], mentions[:, 2]
    gap_lo, gap_hi = (a.astype("int64") for a in between_ranges(mentions, heads, tails))
    features = numpy.zeros((len(heads), 4), dtype="int64")
    for first in range(0, len(heads), block):
        rows = slice(first, first + block)
        lo, hi = gap_lo[rows, None], gap_hi[rows, None]
        inside = (starts[None, :] >= lo) & (ends[None, :] <= hi) & (hi > lo)
        features[rows, 0] = numpy.digitize(inside.sum(axis=1), BETWEEN_EDGES)
        for column, args in ((1, heads[rows]), (2, tails[rows])):
            rivals = (inside & (labels[None, :] == labels[args][:, None])).sum(axis=1)
            features[rows, column] = labels[args] * N_RIVALS + numpy.minimum(rivals, N_RIVALS - 1)
    depth = numpy.minimum(containers(mentions), N_DEPTH - 1)
    features[:, 3] = depth[heads] * N_DEPTH + depth[tails]
    return features.astype("int32")


def containers(mentions: numpy.ndarray) -> numpy.ndarray:
    """How many other mentions contain each mention (a same-span mention of another type counts)."""
    mentions = numpy.asarray(mentions, dtype="int64").reshape((-1, 3))
    starts, ends = mentions[:, 0], mentions[:, 1]
    contains = (starts[:, None] <= starts[None, :]) & (ends[None, :] <= ends[:, None])
    numpy.fill_diagonal(contains, False)
    return contains.sum(axis=0)


def build_pair_structure(max_distance: int, width: int, n_entity_types: Optional[int] = None
                         ) -> Model[RelationInput, List[Floats2d]]:
    """The summed embeddings of ``pair_structure`` per candidate pair, ``width`` wide.

    ``n_entity_types`` (``nT``, usually set from the labels before initialization) sizes
    the rival tables.
    """
    if width < 1:
        raise ValueError(f"pair_structure: width must be 1 or more, not {width}")
    return Model(
        PAIR_STRUCTURE,
        pair_structure_forward,
        init=init_pair_structure,
        dims={"nO": width, "nT": n_entity_types},
        params={name: None for name in TABLES},
        attrs={"max_distance": max_distance},
    )


def init_pair_structure(model: Model, X: Optional[RelationInput] = None, Y=None) -> None:
    n_types = model.get_dim("nT") if model.has_dim("nT") and model.get_dim("nT") else 1
    width, ops = model.get_dim("nO"), model.ops
    sizes = {"between": N_BETWEEN, "head_rivals": n_types * N_RIVALS, "tail_rivals": n_types * N_RIVALS,
             "depth": N_DEPTH * N_DEPTH}
    for name in TABLES:
        model.set_param(name, glorot_uniform_init(ops, (sizes[name], width)))


def pair_structure_forward(model: Model, inputs: RelationInput, is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    Xs, mention_sets = inputs
    tables = [model.get_param(name) for name in TABLES]
    width = model.get_dim("nO")
    outputs, indices = [], []
    for mentions in mention_sets:
        heads, tails = enumerate_pairs(mentions, model.attrs["max_distance"])
        if len(heads) == 0:
            outputs.append(ops.alloc2f(0, width))
            indices.append(None)
            continue
        features = pair_structure(mentions, heads, tails)
        _check_sized(model, features, tables)
        columns = [ops.asarray1i(features[:, k]) for k in range(len(TABLES))]
        rows = tables[0][columns[0]]
        for table, column in zip(tables[1:], columns[1:]):
            rows = rows + table[column]
        outputs.append(rows)
        indices.append(columns)

    def backprop(d_outputs: List[Floats2d]) -> Tuple[List[Floats2d], List[Ints2d]]:
        for d_rows, columns in zip(d_outputs, indices):
            if columns is None:
                continue
            for name, table, column in zip(TABLES, tables, columns):
                d_table = ops.alloc2f(*table.shape)
                ops.scatter_add(d_table, column, d_rows)
                model.inc_grad(name, d_table)
        return [ops.alloc2f(*X.shape) for X in Xs], mention_sets

    return outputs, backprop


def _check_sized(model: Model, features: numpy.ndarray, tables: List[Floats2d]) -> None:
    for k, (name, table) in enumerate(zip(TABLES, tables)):
        if len(features) and features[:, k].max() >= table.shape[0]:
            raise ValueError(f"{model.name}: a mention's entity type is outside the {name} table "
                             f"({table.shape[0]} rows); was the head initialized with every label?")
