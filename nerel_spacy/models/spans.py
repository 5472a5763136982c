"""The nested-mention head: every span up to ``max_width`` tokens, scored per entity type.

``nerel.SpanScorer.v1`` maps one array of token vectors per doc to one array of
logits per doc, ``(n_candidates, 1 + n_labels)`` in the order of
``span_decoding.enumerate_candidates`` (class 0 is "none").

A candidate ``[s, e)`` is represented as ``relu(A·x_s + B·x_{e-1} + C·mean(x_s..x_{e-1})
+ w_{e-s} + b)``: start and end boundaries, the pooled inside and a width embedding.
The three projections are one matrix product per token, and the inside mean comes
from prefix sums, so a candidate costs O(hidden) however long it is; its gradient is
spread back over the tokens with a difference array. Unlike spaCy's n-gram suggester
plus spancat, every gold span within ``max_width`` is a candidate, so each gives signal.
"""
from typing import Callable, List, Optional, Tuple

from spacy.util import registry
from thinc.api import Dropout, Linear, Model, chain, glorot_uniform_init, with_array, zero_init
from thinc.types import Floats2d

from ..span_decoding import enumerate_candidates

SPAN_OUTPUT = "span_output"


@registry.architectures("nerel.SpanScorer.v1")
def build_span_scorer(
    max_width: int = 16,
    hidden_width: int = 128,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Floats2d], List[Floats2d]]:
    """Score every span of 1..``max_width`` tokens for ``nO`` classes (1 + entity types).

    max_width: the longest candidate, in tokens. Longer gold mentions cannot be found
        (on NEREL 16 tokens cover 99.9% of mentions).
    hidden_width: the size of a candidate's representation.
    """
    if max_width < 1:
        raise ValueError(f"nerel.SpanScorer.v1: max_width must be at least 1, not {max_width}")
    representation = build_span_representation(max_width, hidden_width)
    output = Linear(nO=nO, nI=hidden_width, init_W=zero_init)
    model = chain(representation, with_array(chain(Dropout(dropout), output)))
    model.set_ref(SPAN_OUTPUT, output)
    model.attrs["max_width"] = max_width
    return model


def build_span_representation(max_width: int, hidden_width: int) -> Model:
    """The parameters and maths of the candidate representation (see the module doc)."""
    return Model(
        "span_representation",
        span_representation_forward,
        init=init_span_representation,
        dims={"nI": None, "nH": hidden_width},
        params={"W": None, "b": None, "widths": None},
        attrs={"max_width": max_width},
    )


def init_span_representation(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    if X is not None and len(X):
        model.set_dim("nI", X[0].shape[1], force=True)
    n_in, n_hidden = model.get_dim("nI"), model.get_dim("nH")
    ops = model.ops
    model.set_param("W", glorot_uniform_init(ops, (3 * n_hidden, n_in)))
    model.set_param("b", ops.alloc1f(n_hidden))
    model.set_param("widths", ops.alloc2f(model.attrs["max_width"], n_hidden))


def span_representation_forward(
    model: Model, Xs: List[Floats2d], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    W, b, width_table = model.get_param("W"), model.get_param("b"), model.get_param("widths")
    n_hidden = model.get_dim("nH")
    max_width = model.attrs["max_width"]
    outputs, caches = [], []
    for X in Xs:
        starts, ends = (ops.asarray1i(a) for a in enumerate_candidates(X.shape[0], max_width))
        widths = ends - starts
        projected = ops.gemm(X, W, trans2=True)  # (n, 3h): start | end | inside
        start_part = projected[:, :n_hidden]
        end_part = projected[:, n_hidden : 2 * n_hidden]
        inside = projected[:, 2 * n_hidden :]
        prefix = ops.xp.concatenate([ops.alloc2f(1, n_hidden), ops.xp.cumsum(inside, axis=0)])
        inside_mean = (prefix[ends] - prefix[starts]) / widths[:, None].astype("float32")
        hidden = start_part[starts] + end_part[ends - 1] + inside_mean + width_table[widths - 1] + b
        active = hidden > 0
        outputs.append(hidden * active)
        caches.append((X, starts, ends, widths, active))

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        dXs = []
        for dY, (X, starts, ends, widths, active) in zip(dYs, caches):
            n = X.shape[0]
            d_hidden = dY * active
            d_start = ops.alloc2f(n, n_hidden)
            d_end = ops.alloc2f(n, n_hidden)
            ops.scatter_add(d_start, starts, d_hidden)
            ops.scatter_add(d_end, ends - 1, d_hidden)
            # mean = (P[e] - P[s]) / w with P[k] = Σ_{t<k} inside[t]: push ±d/w onto the
            # prefix rows, then d inside[t] = Σ_{k>t} d P[k] (a reversed cumulative sum).
            d_mean = d_hidden / widths[:, None].astype("float32")
            d_prefix = ops.alloc2f(n + 1, n_hidden)
            ops.scatter_add(d_prefix, ends, d_mean)
            ops.scatter_add(d_prefix, starts, -d_mean)
            d_inside = ops.xp.cumsum(d_prefix[::-1], axis=0)[::-1][1:]
            d_projected = ops.xp.ascontiguousarray(
                ops.xp.concatenate([d_start, d_end, d_inside], axis=1)
            )
            d_width = ops.alloc2f(max_width, n_hidden)
            ops.scatter_add(d_width, widths - 1, d_hidden)
            model.inc_grad("widths", d_width)
            model.inc_grad("b", d_hidden.sum(axis=0))
            model.inc_grad("W", ops.gemm(d_projected, X, trans1=True))
            dXs.append(ops.gemm(d_projected, W))
        return dXs

    return outputs, backprop
