"""The relation head: candidate mention pairs, scored for every relation type.

``nerel.RelationScorer.v1`` maps ``(token_vectors, mentions)`` (one array each per doc;
mentions as ``(start, end, entity_label)`` int rows) to one ``(n_pairs, n_relations)``
array of logits per doc, in the order of ``relation_decoding.enumerate_pairs``. The
component supplies the mentions: gold ones in training, the span head's at inference.

A pair ``(h, t)`` is represented as ``relu(head(h) + tail(t) + between(h, t) + d_{h,t} + b)``:

- ``head(m)`` = ``A·x_s + B·x_{e-1} + C·mean(x_s..x_{e-1}) + type_head[label]``, and
  ``tail(m)`` likewise with its own matrices and type table, so the roles differ;
- ``between`` = ``D·mean(x)`` over the tokens between the arguments (0 when they touch);
- ``d`` = an embedding of the distance bucket (nesting, crossing, or a signed gap).

The seven projections are one matrix product per token and the means come from prefix
sums, so a mention costs O(hidden) and a pair O(hidden) however long they are. At
prediction the head and tail projections run per mention instead (see
``_mention_level_hidden``).

``nerel.RelationScorer.v2`` adds two settings, both measured on NEREL dev with the fast
CNN (docs/results.md, "The relation head"):

- ``interaction`` (on by default): the pair row also carries ``head(h) ⊙ tail(t)``, so a
  relation can depend on how the two arguments' features combine, not only on their
  sum (a rank-``hidden`` bilinear term built from the same projections, no new
  weights). In-sentence gold-mention F 0.488 → 0.524 at width 64, 0.531 → 0.560 at 256;
- ``depth`` (0 by default): hidden ReLU layers between the pair row and the output.
  One layer gave 0.499 against 0.488, and nothing on top of ``interaction``.
"""
from typing import Callable, List, Optional, Tuple

import numpy
from spacy.util import registry
from thinc.api import Dropout, Linear, Model, Relu, chain, glorot_uniform_init, zero_init
from thinc.types import Floats2d, Ints2d

from ..relation_decoding import N_DISTANCE_BUCKETS, between_ranges, distance_buckets, enumerate_pairs
from .pair_features import pair_features
from .pair_logits import relation_scorer
from .pair_structure import build_pair_structure
from .ranges import prefix_sums, range_means, range_means_backward
from .relation_context import RelationInput, build_relation_context

RELATION_OUTPUT = "relation_output"
RELATION_REPRESENTATION = "relation_representation"
N_PROJECTIONS = 7  # head start, end, inside | tail start, end, inside | between


@registry.architectures("nerel.RelationScorer.v1")
def build_relation_scorer(
    max_distance: int = 64,
    hidden_width: int = 128,
    dropout: float = 0.1,
    nO: Optional[int] = None,
    n_entity_types: Optional[int] = None,
    prior: Optional[float] = None,
) -> Model[RelationInput, List[Floats2d]]:
    """The additive pair representation and a linear output (v2 with its extras off)."""
    return build_relation_scorer_v2(max_distance, hidden_width, dropout, nO, n_entity_types, prior,
                                    interaction=False, depth=0)


@registry.architectures("nerel.RelationScorer.v2")
def build_relation_scorer_v2(
    max_distance: int = 64,
    hidden_width: int = 128,
    dropout: float = 0.1,
    nO: Optional[int] = None,
    n_entity_types: Optional[int] = None,
    prior: Optional[float] = None,
    interaction: bool = True,
    depth: int = 0,
) -> Model[RelationInput, List[Floats2d]]:
    """Score every mention pair at most ``max_distance`` tokens apart for ``nO`` relation types.

    max_distance: the largest token gap between a pair's arguments (0 when they nest).
        Gold pairs further apart cannot be found: on NEREL dev, with gold mentions,
        48 keeps 93.2% of the relations, 64 keeps 95.4%, 128 keeps 99.2%.
    hidden_width: the size of a pair's representation.
    n_entity_types: sizes the type embeddings; usually set from the labels.
    prior: the probability every pair starts with for every type (the output bias is
        its log-odds). ``None`` starts at 0.5, where 49 types × all candidate pairs
        give a loss hundreds of times the other tasks' until the bias has moved; a
        small prior (about 0.01 on NEREL, where one pair in ten holds some relation)
        starts near the label frequencies instead (Lin et al. 2017, "Focal Loss").
    interaction: add ``head(h) ⊙ tail(t)`` to each pair's row (twice as wide).
    depth: the number of hidden ReLU layers (``hidden_width`` wide) before the output.
    """
    _check_settings(max_distance, prior, depth)
    representation = build_relation_representation(max_distance, hidden_width, n_entity_types, interaction)
    width = hidden_width * (2 if interaction else 1)
    return _scorer(representation, _output_layers(hidden_width, width, dropout, depth, nO, prior), max_distance)


@registry.architectures("nerel.RelationScorer.v3")
def build_relation_scorer_v3(
    max_distance: int = 64,
    hidden_width: int = 256,
    dropout: float = 0.1,
    nO: Optional[int] = None,
    n_entity_types: Optional[int] = None,
    prior: Optional[float] = None,
    interaction: bool = True,
    depth: int = 0,
    context_width: int = 64,
    context_margin: int = 0,
) -> Model[RelationInput, List[Floats2d]]:
    """v2 plus each pair's own attention over the tokens it spans (``relation_context``).

    context_width: the attention's query and key size; each pair's row gains
        ``hidden_width`` columns, the attention-weighted mean of the spanned tokens'
        values, so a trigger between distant arguments is not averaged away.
    context_margin: tokens outside both arguments that the attention may also read, on
        each side.
    The other settings are v2's.
    """
    return _attending_scorer(max_distance, hidden_width, dropout, nO, n_entity_types, prior, interaction, depth,
                             context_width, context_margin, structure_width=0)


@registry.architectures("nerel.RelationScorer.v4")
def build_relation_scorer_v4(
    max_distance: int = 64,
    hidden_width: int = 256,
    dropout: float = 0.1,
    nO: Optional[int] = None,
    n_entity_types: Optional[int] = None,
    prior: Optional[float] = None,
    interaction: bool = True,
    depth: int = 0,
    context_width: int = 64,
    context_margin: int = 0,
    structure_width: int = 32,
) -> Model[RelationInput, List[Floats2d]]:
    """v3 plus what lies between and around the two mentions (``pair_structure``).

    structure_width: the width of the summed embeddings of the mentions between the
        arguments, the rivals of each argument's type among them, and how deeply each
        argument is nested; each pair's row gains these columns.
    The other settings are v3's.
    """
    if structure_width < 1:
        raise ValueError(f"nerel.RelationScorer.v4: structure_width must be 1 or more, not {structure_width}")
    return _attending_scorer(max_distance, hidden_width, dropout, nO, n_entity_types, prior, interaction, depth,
                             context_width, context_margin, structure_width)


def _attending_scorer(max_distance: int, hidden_width: int, dropout: float, nO: Optional[int],
                      n_entity_types: Optional[int], prior: Optional[float], interaction: bool, depth: int,
                      context_width: int, context_margin: int, structure_width: int) -> Model:
    """v3 (``structure_width`` 0) and v4: the pair representation, the pair attention and,
    in v4, the pair structure, side by side before the output layers."""
    _check_settings(max_distance, prior, depth)
    representation = build_relation_representation(max_distance, hidden_width, n_entity_types, interaction)
    layers = [representation, build_relation_context(max_distance, hidden_width, context_width, context_margin)]
    if structure_width:
        layers.append(build_pair_structure(max_distance, structure_width, n_entity_types))
    width = hidden_width * (3 if interaction else 2) + structure_width
    return _scorer(pair_features(*layers), _output_layers(hidden_width, width, dropout, depth, nO, prior),
                   max_distance, representation)


def _check_settings(max_distance: int, prior: Optional[float], depth: int) -> None:
    if max_distance < 0:
        raise ValueError(f"nerel.RelationScorer: max_distance must be 0 or more, not {max_distance}")
    if prior is not None and not 0.0 < prior < 1.0:
        raise ValueError(f"nerel.RelationScorer: prior must lie strictly between 0 and 1, not {prior}")
    if depth < 0:
        raise ValueError(f"nerel.RelationScorer: depth must be 0 or more, not {depth}")


def _scorer(features: Model, output_layers: Model, max_distance: int,
            representation: Optional[Model] = None) -> Model[RelationInput, List[Floats2d]]:
    """``features`` (pair rows per doc), then ``output_layers`` on every row; with the refs
    the joint model sizes and reads (the last output layer and the pair representation)."""
    # pair_features hands on its rows as one buffer: with_flat_rows reads it without a copy;
    # a prediction with a linear output skips the rows where it can (pair_logits)
    model = relation_scorer(features, output_layers)
    model.set_ref(RELATION_OUTPUT, output_layers.layers[-1])
    model.set_ref(RELATION_REPRESENTATION, representation or features)
    model.attrs["max_distance"] = max_distance
    return model


def _output_layers(hidden_width: int, width: int, dropout: float, depth: int, nO: Optional[int],
                   prior: Optional[float]) -> Model:
    """Dropout, ``depth`` hidden ReLU layers and the linear output, on each pair's row."""
    layers = [Dropout(dropout)]
    for _ in range(depth):
        layers.append(Relu(nO=hidden_width, nI=width, dropout=dropout))
        width = hidden_width
    layers.append(Linear(nO=nO, nI=width, init_W=zero_init,
                         init_b=zero_init if prior is None else prior_log_odds_init(prior)))
    return chain(*layers)


def prior_log_odds_init(prior: float) -> Callable:
    """A thinc initializer filling an array with ``log(prior / (1 - prior))``."""
    return _ConstantInit(float(numpy.log(prior / (1.0 - prior))))


class _ConstantInit:
    """A thinc initializer filling an array with ``value``: a class, not a closure, so the
    pipeline pickles (``--n-process`` under spawn)."""

    def __init__(self, value: float):
        self.value = value

    def __call__(self, ops, shape):
        return ops.alloc(shape) + self.value


def build_relation_representation(
    max_distance: int, hidden_width: int, n_entity_types: Optional[int] = None, interaction: bool = False
) -> Model[RelationInput, List[Floats2d]]:
    """The parameters and maths of the pair representation (see the module doc).

    Each pair's row is ``relu(head + tail + between + distance + b)``, followed by
    ``head ⊙ tail`` when ``interaction`` is set.
    """
    return Model(
        RELATION_REPRESENTATION,
        relation_representation_forward,
        init=init_relation_representation,
        dims={"nI": None, "nH": hidden_width, "nT": n_entity_types},
        params={"W": None, "b": None, "head_types": None, "tail_types": None, "distances": None},
        attrs={"max_distance": max_distance, "interaction": interaction},
    )


def init_relation_representation(model: Model, X: Optional[RelationInput] = None, Y=None) -> None:
    vectors = X[0] if isinstance(X, tuple) else X
    if vectors is not None and len(vectors):
        model.set_dim("nI", vectors[0].shape[1], force=True)
    n_in, n_hidden = model.get_dim("nI"), model.get_dim("nH")
    n_types = model.get_dim("nT") if model.has_dim("nT") and model.get_dim("nT") else 1
    ops = model.ops
    model.set_param("W", glorot_uniform_init(ops, (N_PROJECTIONS * n_hidden, n_in)))
    model.set_param("b", ops.alloc1f(n_hidden))
    model.set_param("head_types", ops.alloc2f(n_types, n_hidden))
    model.set_param("tail_types", ops.alloc2f(n_types, n_hidden))
    model.set_param("distances", ops.alloc2f(N_DISTANCE_BUCKETS, n_hidden))


def relation_representation_forward(
    model: Model, inputs: RelationInput, is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    Xs, mention_sets = inputs
    W, b = model.get_param("W"), model.get_param("b")
    head_types, tail_types = model.get_param("head_types"), model.get_param("tail_types")
    distance_table = model.get_param("distances")
    h = model.get_dim("nH")
    max_distance = model.attrs["max_distance"]
    interaction = model.attrs["interaction"]
    width = h * (2 if interaction else 1)
    outputs, caches = [], []
    for X, mentions in zip(Xs, mention_sets):
        mentions = numpy.asarray(mentions, dtype="int32").reshape((-1, 3))
        heads, tails = enumerate_pairs(mentions, max_distance)
        if len(heads) == 0:
            outputs.append(ops.alloc2f(0, width))
            caches.append(None)
            continue
        starts, ends, labels = (ops.asarray1i(mentions[:, k]) for k in range(3))
        gap_starts, gap_ends = (ops.asarray1i(a) for a in between_ranges(mentions, heads, tails))
        buckets = ops.asarray1i(distance_buckets(mentions, heads, tails))
        heads, tails = ops.asarray1i(heads), ops.asarray1i(tails)
        if not is_train:
            head_vec, tail_vec, between = _mention_level_hidden(model, X, starts, ends, labels, gap_starts, gap_ends)
            hidden = head_vec[heads] + tail_vec[tails] + between + distance_table[buckets] + b
            hidden = ops.xp.maximum(hidden, 0, out=hidden)
            outputs.append(_pair_rows(ops, hidden, head_vec, tail_vec, heads, tails, interaction))
            continue
        P = ops.gemm(X, W, trans2=True)  # (n, 7h)
        part = [P[:, k * h : (k + 1) * h] for k in range(N_PROJECTIONS)]
        head_inside, tail_inside, between = (prefix_sums(ops, part[k]) for k in (2, 5, 6))
        head_vec = part[0][starts] + part[1][ends - 1] + range_means(head_inside, starts, ends) + head_types[labels]
        tail_vec = part[3][starts] + part[4][ends - 1] + range_means(tail_inside, starts, ends) + tail_types[labels]
        between = range_means(between, gap_starts, gap_ends)
        hidden = head_vec[heads] + tail_vec[tails] + between + distance_table[buckets] + b
        active = hidden > 0
        outputs.append(_pair_rows(ops, hidden * active, head_vec, tail_vec, heads, tails, interaction))
        products = (head_vec, tail_vec) if interaction else None
        caches.append((X, starts, ends, labels, heads, tails, gap_starts, gap_ends, buckets, active, products))

    def backprop(dYs: List[Floats2d]) -> Tuple[List[Floats2d], List[Ints2d]]:
        dXs = []
        for dY, X, cache in zip(dYs, Xs, caches):
            if cache is None:
                dXs.append(ops.alloc2f(*X.shape))
                continue
            X, starts, ends, labels, heads, tails, gap_starts, gap_ends, buckets, active, products = cache
            n, n_mentions = X.shape[0], starts.shape[0]
            d_hidden = dY[:, :h] * active
            d_head_rows = d_tail_rows = d_hidden
            if products is not None:
                head_vec, tail_vec = products
                d_product = dY[:, h:]
                d_head_rows = d_hidden + d_product * tail_vec[tails]
                d_tail_rows = d_hidden + d_product * head_vec[heads]
            model.inc_grad("b", d_hidden.sum(axis=0))
            d_distances = ops.alloc2f(N_DISTANCE_BUCKETS, h)
            ops.scatter_add(d_distances, buckets, d_hidden)
            model.inc_grad("distances", d_distances)
            d_P = [ops.alloc2f(n, h) for _ in range(N_PROJECTIONS)]
            for offset, index, d_rows, table in ((0, heads, d_head_rows, "head_types"),
                                                 (3, tails, d_tail_rows, "tail_types")):
                d_vec = ops.alloc2f(n_mentions, h)
                ops.scatter_add(d_vec, index, d_rows)
                d_types = ops.alloc2f(*model.get_param(table).shape)
                ops.scatter_add(d_types, labels, d_vec)
                model.inc_grad(table, d_types)
                ops.scatter_add(d_P[offset], starts, d_vec)
                ops.scatter_add(d_P[offset + 1], ends - 1, d_vec)
                d_P[offset + 2] += range_means_backward(ops, d_vec, starts, ends, n)
            d_P[6] += range_means_backward(ops, d_hidden, gap_starts, gap_ends, n)
            d_projected = ops.xp.ascontiguousarray(ops.xp.concatenate(d_P, axis=1))
            model.inc_grad("W", ops.gemm(d_projected, X, trans1=True))
            dXs.append(ops.gemm(d_projected, W))
        return dXs, mention_sets

    if not is_train:
        return outputs, _no_backprop
    return outputs, backprop


def _pair_rows(ops, hidden, head_vec, tail_vec, heads, tails, interaction: bool):
    """Each pair's output row: the activated sum, then ``head ⊙ tail`` with ``interaction``."""
    if not interaction:
        return hidden
    return ops.xp.concatenate([hidden, head_vec[heads] * tail_vec[tails]], axis=1)


def _no_backprop(dYs):
    raise ValueError("relation_representation: backprop needs a forward pass with is_train=True")


def _mention_level_hidden(model: Model, X: Floats2d, starts, ends, labels, gap_starts, gap_ends):
    """``head(m)`` and ``tail(m)`` per mention and ``between`` per pair, for prediction.

    The same sums as training's per-token projections, regrouped: a mention's start,
    end and mean token vectors are projected, not every token's (the mean of
    projections is the projection of the mean), and only the ``between`` projection
    runs over every token. A doc has a few dozen mentions and hundreds of tokens, so
    this is about a seventh of the multiplications; the values agree to float
    rounding (``tests/test_models_relations.py``).
    """
    ops = model.ops
    h, n_in = model.get_dim("nH"), X.shape[1]
    W = model.get_param("W").reshape((N_PROJECTIONS, h, n_in))
    mention_inputs = ops.xp.concatenate(
        [X[starts], X[ends - 1], range_means(prefix_sums(ops, X), starts, ends)], axis=1
    )
    head_vec = ops.gemm(mention_inputs, ops.xp.concatenate(list(W[0:3]), axis=1), trans2=True)
    head_vec += model.get_param("head_types")[labels]
    tail_vec = ops.gemm(mention_inputs, ops.xp.concatenate(list(W[3:6]), axis=1), trans2=True)
    tail_vec += model.get_param("tail_types")[labels]
    between = range_means(prefix_sums(ops, ops.gemm(X, W[6], trans2=True)), gap_starts, gap_ends)
    return head_vec, tail_vec, between
