"""``pair_features``: several pair-feature layers on the same input, their rows side by side.

The relation head v3/v4 represents a candidate pair by the additive pair representation,
the pair's attention over its tokens and, in v4, the pair structure. Each layer maps
``(token_vectors, mentions)`` to one ``(n_pairs, width)`` array per doc; this layer joins
them column-wise into one buffer whose row ranges are the docs' arrays, so the output
layers (``with_flat_rows``) read every pair row without another copy.
"""
from typing import List, Optional, Sequence, Tuple

import numpy
from thinc.api import Model
from thinc.types import Floats2d, Ints2d

from .relation_context import RelationInput


def pair_features(*layers: Model[RelationInput, List[Floats2d]]) -> Model[RelationInput, List[Floats2d]]:
    """Run each pair-feature layer on the same ``(token_vectors, mentions)`` and join their rows.

    thinc's ``concatenate`` cannot take this input: it is a tuple, and only the token
    vectors carry gradients, which are summed over the layers.
    """
    return Model("pair_features", _pair_features_forward, init=_init_pair_features, layers=list(layers))


def _init_pair_features(model: Model, X: Optional[RelationInput] = None, Y=None) -> None:
    # The joint model sizes the entity types on the pair representation only (a thinc ref
    # may not point outside its node's tree); the other type-embedding layers follow it.
    n_types = [layer.get_dim("nT") for layer in model.layers if layer.has_dim("nT")]
    for layer in model.layers:
        if n_types and layer.has_dim("nT") is None:
            layer.set_dim("nT", n_types[0])
        layer.initialize(X=X)


def _pair_features_forward(model: Model, inputs: RelationInput, is_train: bool):
    results = [layer(inputs, is_train) for layer in model.layers]
    widths = [outputs[0].shape[1] if outputs else 0 for outputs, _ in results]
    joined = join_pair_rows(model.ops, [outputs for outputs, _ in results], widths)

    def backprop(d_joined: List[Floats2d]) -> Tuple[List[Floats2d], List[Ints2d]]:
        d_tokens = None
        offset = 0
        for (_, layer_backprop), width in zip(results, widths):
            d_part = [model.ops.as_contig(d[:, offset : offset + width]) for d in d_joined]
            d_layer_tokens, _ = layer_backprop(d_part)
            d_tokens = d_layer_tokens if d_tokens is None else [a + b for a, b in zip(d_tokens, d_layer_tokens)]
            offset += width
        return d_tokens, inputs[1]

    return joined, backprop


def join_pair_rows(ops, per_layer: Sequence[Sequence[Floats2d]], widths: Sequence[int]) -> List[Floats2d]:
    """Each doc's pair rows, every layer's columns side by side, as row ranges of one buffer.

    ``per_layer[k][i]`` is layer k's ``(n_pairs_i, widths[k])`` array for doc i. The output
    layers then read the buffer whole (``with_flat_rows``) instead of a concatenation of
    per-doc arrays: the pair rows are the head's largest arrays (hundreds of pairs per doc,
    800 columns in v4), and each copy of them cost time and peak memory.
    """
    n_docs = len(per_layer[0]) if per_layer else 0
    counts = [per_layer[0][i].shape[0] for i in range(n_docs)]
    for outputs in per_layer[1:]:
        if [output.shape[0] for output in outputs] != counts:
            raise ValueError(f"pair_features: every layer needs one row per pair, but one gave "
                             f"{[output.shape[0] for output in outputs]} rows per doc, another {counts}")
    buffer = ops.alloc2f(sum(counts), sum(widths), zeros=False)
    offset = 0
    for outputs, width in zip(per_layer, widths):
        row = 0
        for output, count in zip(outputs, counts):
            buffer[row : row + count, offset : offset + width] = output
            row += count
        offset += width
    bounds = numpy.cumsum([0] + counts)
    return [buffer[bounds[i] : bounds[i + 1]] for i in range(n_docs)]
