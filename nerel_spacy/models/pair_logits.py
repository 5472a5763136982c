"""``relation_scorer``: the relation head's pair features and output layers, and a faster prediction.

In training the head is ``pair_features >> with_flat_rows(Dropout >> Linear)``: each
candidate pair gets one row of every feature layer's columns side by side (800 in v4),
and the linear output maps it to the relation types. At prediction, with no hidden
layer between them (``depth = 0``), that output is a sum over the feature layers,
``logits = Σ_k rows_k · W_kᵀ + b``, where ``W_k`` is layer k's slice of the output
matrix. So the rows are never joined, and the pair attention, whose rows are weighted
means of ``V·x``, pools the tokens projected through ``W_c·V`` instead: 49 relation
types in place of 256 columns (``relation_context.projected_context``). On the dev
texts this is the relation head's largest cost (docs/quantization.md). The logits agree
with the joined rows' to float rounding (``tests/test_models_pair_logits.py``).

The model has the same nodes as ``chain(features, with_flat_rows(output_layers))``, so
pipelines saved with the chain load.
"""
from typing import Callable, List, Optional, Tuple

from thinc.api import Model
from thinc.layers.chain import init as chain_init
from thinc.types import Floats2d

from .flat_rows import with_flat_rows
from .relation_context import RELATION_CONTEXT, RelationInput, projected_context

PAIR_FEATURES = "pair_features"


def relation_scorer(features: Model[RelationInput, List[Floats2d]], output_layers: Model) -> Model:
    """``features`` (pair rows per doc), then ``output_layers`` on every row, as one model."""
    layers = [features, with_flat_rows(output_layers)]
    dims = {"nO": output_layers.maybe_get_dim("nO")}
    if features.has_dim("nI") is not False:  # as chain's: thinc's chain init then sets it
        dims["nI"] = features.maybe_get_dim("nI")
    return Model(">>".join(layer.name for layer in layers), relation_scorer_forward, init=chain_init,
                 dims=dims, layers=layers)


def relation_scorer_forward(model: Model, inputs: RelationInput, is_train: bool) -> Tuple[List[Floats2d], Callable]:
    features, head = model.layers
    linear = linear_output(head)
    if not is_train and linear is not None and features.name == PAIR_FEATURES:
        return pair_logits(features, linear, inputs), _no_backprop
    rows, backprop_rows = features(inputs, is_train)
    logits, backprop_logits = head(rows, is_train)

    def backprop(d_logits: List[Floats2d]):
        return backprop_rows(backprop_logits(d_logits))

    return logits, backprop


def linear_output(head: Model) -> Optional[Model]:
    """The linear layer of ``with_flat_rows(Dropout >> Linear)``; None when hidden layers
    come between the rows and the output (``depth`` above 0)."""
    inner = head.layers[0] if head.layers else None
    if inner is None or [layer.name for layer in inner.layers] != ["dropout", "linear"]:
        return None
    return inner.layers[1]


def pair_logits(features: Model, linear: Model, inputs: RelationInput) -> List[Floats2d]:
    """Each doc's ``(n_pairs, n_types)`` logits as ``Σ_k rows_k · W_kᵀ + b`` (module doc)."""
    ops = features.ops
    W, b = linear.get_param("W"), linear.get_param("b")
    n_out = W.shape[0]
    logits: Optional[List[Floats2d]] = None
    offset = 0
    for layer in features.layers:
        if layer.name == RELATION_CONTEXT:
            width = layer.get_dim("nO")
            parts = projected_context(layer, inputs, _columns(ops, W, offset, width))
        else:
            rows = layer.predict(inputs)
            width = rows[0].shape[1] if rows else 0
            weights = _columns(ops, W, offset, width)
            parts = [ops.gemm(r, weights, trans2=True) if len(r) else ops.alloc2f(0, n_out) for r in rows]
        if logits is None:
            logits = parts
        else:
            for total, part in zip(logits, parts):
                total += part
        offset += width
    if logits and offset != W.shape[1]:
        raise _width_error(offset, W)
    for doc_logits in logits or []:
        doc_logits += b
    return logits or []


def _columns(ops, W: Floats2d, offset: int, width: int) -> Floats2d:
    """The output matrix's columns for one feature layer, contiguous for gemm."""
    if offset + width > W.shape[1]:
        raise _width_error(offset + width, W)
    return ops.as_contig(W[:, offset : offset + width])


def _width_error(n_columns: int, W: Floats2d) -> ValueError:
    return ValueError(f"relation head: the pair features have {n_columns} columns or more, its output layer "
                      f"reads {W.shape[1]}")


def _no_backprop(d_logits):
    raise ValueError("relation scorer: backprop needs a forward pass with is_train=True")
