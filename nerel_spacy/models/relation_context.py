"""Pair-specific attention over the tokens a relation spans: the relation head's context.

``nerel.RelationScorer.v2`` sees the tokens between two arguments only as their mean, so
a trigger word ("назначен", "родился") is diluted by every other token between them,
and more so the further apart the arguments are. This layer lets each candidate pair
pick its own tokens:

- a query per pair, ``q = Qh·mean(head) + Qt·mean(tail) + b_q`` (``attention_width``);
- a key ``K·x`` and a value ``V·x`` (``hidden_width``) per token;
- the pair's context is the softmax(q·k / √a)-weighted mean of the values over the
  tokens from the first argument's start to the last one's end, widened by ``margin``
  tokens on each side (never empty: it holds both arguments).

Input and output follow ``relation_representation``: ``(token_vectors, mentions)`` per
doc in, one ``(n_pairs, hidden_width)`` array per doc out, rows in the order of
``relation_decoding.enumerate_pairs``. Pairs are taken in order of their first token,
``block`` at a time, against the tokens their ranges cover, so memory follows the pairs,
not pairs × doc length. At prediction a linear layer on the context can be moved inside
the pooling (``projected_context``).
"""
from typing import Callable, List, Optional, Tuple

import numpy
from thinc.api import Model, glorot_uniform_init
from thinc.types import Floats2d, Ints2d

from ..relation_decoding import enumerate_pairs
from .ranges import prefix_sums, range_means, range_means_backward

RELATION_CONTEXT = "relation_context"
RelationInput = Tuple[List[Floats2d], List[Ints2d]]


def build_relation_context(
    max_distance: int, hidden_width: int, attention_width: int, margin: int = 0, block: int = 512
) -> Model[RelationInput, List[Floats2d]]:
    """Attention-pooled context per candidate pair (see the module doc)."""
    if attention_width < 1:
        raise ValueError(f"relation_context: attention_width must be 1 or more, not {attention_width}")
    if margin < 0:
        raise ValueError(f"relation_context: margin must be 0 or more, not {margin}")
    return Model(
        RELATION_CONTEXT,
        relation_context_forward,
        init=init_relation_context,
        dims={"nI": None, "nO": hidden_width, "nA": attention_width},
        params={"Q": None, "bq": None, "K": None, "V": None},
        attrs={"max_distance": max_distance, "margin": margin, "block": block},
    )


def init_relation_context(model: Model, X: Optional[RelationInput] = None, Y=None) -> None:
    vectors = X[0] if isinstance(X, tuple) else X
    if vectors is not None and len(vectors):
        model.set_dim("nI", vectors[0].shape[1], force=True)
    n_in, n_out, n_att = model.get_dim("nI"), model.get_dim("nO"), model.get_dim("nA")
    ops = model.ops
    model.set_param("Q", glorot_uniform_init(ops, (2 * n_att, n_in)))
    model.set_param("bq", ops.alloc1f(n_att))
    model.set_param("K", glorot_uniform_init(ops, (n_att, n_in)))
    model.set_param("V", glorot_uniform_init(ops, (n_out, n_in)))


def pair_token_ranges(
    mentions: numpy.ndarray, heads: numpy.ndarray, tails: numpy.ndarray, margin: int, n_tokens: int
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """``[lo, hi)`` per pair: from the first argument's start to the last one's end, ± margin."""
    mentions = numpy.asarray(mentions, dtype="int64").reshape((-1, 3))
    lo = numpy.minimum(mentions[heads, 0], mentions[tails, 0]) - margin
    hi = numpy.maximum(mentions[heads, 1], mentions[tails, 1]) + margin
    return numpy.clip(lo, 0, n_tokens).astype("int32"), numpy.clip(hi, 0, n_tokens).astype("int32")


def relation_context_forward(model: Model, inputs: RelationInput, is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    xp = ops.xp
    Xs, mention_sets = inputs
    Q, K, V = (model.get_param(name) for name in ("Q", "K", "V"))
    n_att, n_out = model.get_dim("nA"), model.get_dim("nO")
    outputs, caches = [], []
    for X, mentions in zip(Xs, mention_sets):
        pairs = _doc_pairs(model, X, mentions)
        if pairs is None:
            outputs.append(ops.alloc2f(0, n_out))
            caches.append(None)
            continue
        starts, ends, heads, tails, lo, hi, means, queries = pairs
        keys = ops.gemm(X, K, trans2=True)
        values = ops.gemm(X, V, trans2=True)
        context, order, blocks = attend_over_ranges(ops, queries, keys, values, lo, hi, model.attrs["block"], n_att)
        outputs.append(context)
        caches.append((X, starts, ends, heads, tails, means, queries, keys, values, order, blocks) if is_train else None)

    def backprop(d_outputs: List[Floats2d]) -> Tuple[List[Floats2d], List[Ints2d]]:
        scale = _scale(n_att)
        d_inputs = []
        for d_context, X, cache in zip(d_outputs, Xs, caches):
            if cache is None:
                d_inputs.append(ops.alloc2f(*X.shape))
                continue
            X, starts, ends, heads, tails, means, queries, keys, values, order, blocks = cache
            d_context, sorted_queries = d_context[order], queries[order]
            d_sorted_queries = ops.alloc2f(*queries.shape)
            d_keys, d_values = ops.alloc2f(*keys.shape), ops.alloc2f(*values.shape)
            for rows, left, right, weights in blocks:
                d_weights = ops.gemm(d_context[rows], values[left:right], trans2=True)
                d_values[left:right] += ops.gemm(weights, d_context[rows], trans1=True)
                d_scores = weights * (d_weights - (d_weights * weights).sum(axis=1, keepdims=True)) * scale
                d_sorted_queries[rows] = ops.gemm(d_scores, keys[left:right])
                d_keys[left:right] += ops.gemm(d_scores, sorted_queries[rows], trans1=True)
            d_queries = ops.alloc2f(*queries.shape)
            d_queries[order] = d_sorted_queries
            d_as_head, d_as_tail = ops.alloc2f(means.shape[0], n_att), ops.alloc2f(means.shape[0], n_att)
            ops.scatter_add(d_as_head, heads, d_queries)
            ops.scatter_add(d_as_tail, tails, d_queries)
            d_by_mention = xp.concatenate([d_as_head, d_as_tail], axis=1)
            model.inc_grad("bq", d_queries.sum(axis=0))
            model.inc_grad("Q", ops.gemm(d_by_mention, means, trans1=True))
            model.inc_grad("K", ops.gemm(d_keys, X, trans1=True))
            model.inc_grad("V", ops.gemm(d_values, X, trans1=True))
            d_X = ops.gemm(d_keys, K) + ops.gemm(d_values, V)
            d_X += range_means_backward(ops, ops.gemm(d_by_mention, Q), starts, ends, X.shape[0])
            d_inputs.append(d_X)
        return d_inputs, mention_sets

    if not is_train:
        return outputs, _no_backprop
    return outputs, backprop


def projected_context(model: Model, inputs: RelationInput, projection: Floats2d) -> List[Floats2d]:
    """``context @ projection.T`` per doc, for prediction, without the context itself.

    The context is a weighted mean of ``V·x``, so a linear layer on it can be moved
    inside the mean: the tokens are projected once through ``projection @ V`` and the
    attention pools those ``projection.shape[0]`` columns instead of ``hidden_width``.
    The relation head's output layer reads the context this way (``pair_logits``): 49
    relation types against 256 columns, and no pair rows of context are stored.
    """
    ops = model.ops
    n_att, n_out = model.get_dim("nA"), projection.shape[0]
    value_weights = ops.gemm(projection, model.get_param("V"))  # (n_out, nI)
    outputs = []
    for X, mentions in zip(*inputs):
        pairs = _doc_pairs(model, X, mentions)
        if pairs is None:
            outputs.append(ops.alloc2f(0, n_out))
            continue
        _, _, _, _, lo, hi, _, queries = pairs
        keys = ops.gemm(X, model.get_param("K"), trans2=True)
        values = ops.gemm(X, value_weights, trans2=True)
        outputs.append(attend_over_ranges(ops, queries, keys, values, lo, hi, model.attrs["block"], n_att)[0])
    return outputs


def _doc_pairs(model: Model, X: Floats2d, mentions):
    """One doc's candidate pairs, their token ranges and queries; None without a pair."""
    ops = model.ops
    n_att = model.get_dim("nA")
    mentions = numpy.asarray(mentions, dtype="int32").reshape((-1, 3))
    heads, tails = enumerate_pairs(mentions, model.attrs["max_distance"])
    if len(heads) == 0:
        return None
    starts, ends = ops.asarray1i(mentions[:, 0]), ops.asarray1i(mentions[:, 1])
    lo, hi = pair_token_ranges(mentions, heads, tails, model.attrs["margin"], X.shape[0])
    heads, tails = ops.asarray1i(heads), ops.asarray1i(tails)
    means = range_means(prefix_sums(ops, X), starts, ends)
    queries_by_mention = ops.gemm(means, model.get_param("Q"), trans2=True)  # (n_mentions, 2a)
    queries = queries_by_mention[heads, :n_att] + queries_by_mention[tails, n_att:] + model.get_param("bq")
    return starts, ends, heads, tails, lo, hi, means, queries


def attend_over_ranges(ops, queries: Floats2d, keys: Floats2d, values: Floats2d, lo: numpy.ndarray,
                       hi: numpy.ndarray, block: int, n_att: int):
    """Per pair, the softmax(q·k / √n_att)-weighted mean of ``values[lo:hi]``.

    The pairs are taken in order of their first token, ``block`` at a time, and each
    block against the tokens its ranges cover together: sorted, a block's pairs lie
    close together, so it covers fewer tokens than in candidate order (on NEREL dev, with
    a 4-layer student's mentions: 14.3M pair-token scores against 17.2M at 512 pairs a
    block, 7.8M against 11.8M at 128; 3.1M are needed). Returns the pooled rows in
    candidate order, the sort order, and per block its rows (of the sorted order), token
    range and weights.
    """
    xp = ops.xp
    scale = _scale(n_att)
    order = numpy.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    order = ops.asarray1i(order)
    sorted_queries = queries[order]
    pooled = ops.alloc2f(len(lo), values.shape[1], zeros=False)
    blocks = []
    for first in range(0, len(lo), block):
        rows = slice(first, min(first + block, len(lo)))
        left, right = int(lo[rows].min()), int(hi[rows].max())
        positions = numpy.arange(left, right)
        inside = (positions[None, :] >= lo[rows, None]) & (positions[None, :] < hi[rows, None])
        scores = ops.gemm(sorted_queries[rows], keys[left:right], trans2=True) * scale
        scores = xp.where(xp.asarray(inside), scores, xp.float32(-numpy.inf))
        weights = xp.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        pooled[rows] = ops.gemm(weights, values[left:right])
        blocks.append((rows, left, right, weights))
    result = ops.alloc2f(*pooled.shape, zeros=False)
    result[order] = pooled
    return result, order, blocks


def _scale(n_att: int) -> float:
    return 1.0 / float(numpy.sqrt(n_att))


def _no_backprop(d_outputs):
    raise ValueError("relation_context: backprop needs a forward pass with is_train=True")
