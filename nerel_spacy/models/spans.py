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
from thinc.api import Dropout, Linear, Model, chain, get_array_module, glorot_uniform_init, zero_init
from thinc.types import Floats2d

from ..span_decoding import enumerate_candidates, n_candidates
from .flat_rows import with_flat_rows
from .ranges import prefix_sums, range_means_backward

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
    # the candidates' rows are one buffer already: with_flat_rows reads it without a copy
    model = chain(representation, with_flat_rows(chain(Dropout(dropout), output)))
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
    counts = [n_candidates(X.shape[0], max_width) for X in Xs]
    # All docs' candidates in one buffer; each doc's output is a view of its rows.
    hidden = ops.alloc2f(sum(counts), n_hidden, zeros=False)
    outputs, caches = [], []
    offset = 0
    for X, count in zip(Xs, counts):
        projected = ops.gemm(X, W, trans2=True)  # (n, 3h): start | end | inside
        prefix = prefix_sums(ops, projected[:, 2 * n_hidden :])
        doc_hidden = hidden[offset : offset + count]
        fill_candidates(
            doc_hidden, projected[:, :n_hidden], projected[:, n_hidden : 2 * n_hidden], prefix,
            width_table, b, max_width,
        )
        outputs.append(doc_hidden)
        caches.append(X)
        offset += count
    if not is_train:
        ops.xp.maximum(hidden, 0, out=hidden)
        return outputs, _no_backprop
    active = hidden > 0
    hidden *= active

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        dXs = []
        row = 0
        for dY, X in zip(dYs, caches):
            n = X.shape[0]
            starts, ends = (ops.asarray1i(a) for a in enumerate_candidates(n, max_width))
            widths = ends - starts
            d_hidden = dY * active[row : row + len(starts)]
            row += len(starts)
            d_start = ops.alloc2f(n, n_hidden)
            d_end = ops.alloc2f(n, n_hidden)
            ops.scatter_add(d_start, starts, d_hidden)
            ops.scatter_add(d_end, ends - 1, d_hidden)
            d_inside = range_means_backward(ops, d_hidden, starts, ends, n)
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


def _no_backprop(dYs):
    raise ValueError("span_representation: backprop needs a forward pass with is_train=True")


def fill_candidates(
    out: Floats2d,
    start_part: Floats2d,
    end_part: Floats2d,
    prefix: Floats2d,
    width_table: Floats2d,
    bias,
    max_width: int,
) -> None:
    """Write one doc's candidate pre-activations into ``out``, in candidate order.

    Row ``[s, e)`` is ``start_part[s] + end_part[e-1] + (prefix[e] - prefix[s]) / (e-s)
    + width_table[e-s-1] + bias``. Every start of a doc of ``n`` tokens before
    ``n - max_width + 1`` has all ``max_width`` widths: those rows are computed one
    width at a time from contiguous slices, not gathers, into a width-major block that
    one strided copy puts in candidate order. The few starts left (the last
    ``max_width - 1`` tokens) are gathered. The sums run in the same order as the
    gather everywhere, so the values are the same to the bit.
    """
    xp = get_array_module(out)
    n_tokens, n_hidden = start_part.shape
    n_full = max(0, n_tokens - max_width + 1)
    if n_full:
        by_width = xp.empty((max_width, n_full, n_hidden), dtype=out.dtype)
        inside_mean = xp.empty((n_full, n_hidden), dtype=out.dtype)
        for width in range(1, max_width + 1):
            block = by_width[width - 1]
            xp.add(start_part[:n_full], end_part[width - 1 : width - 1 + n_full], out=block)
            xp.subtract(prefix[width : width + n_full], prefix[:n_full], out=inside_mean)
            inside_mean /= xp.float32(width)
            block += inside_mean
            block += width_table[width - 1]
            block += bias
        out[: n_full * max_width].reshape(n_full, max_width, n_hidden)[...] = by_width.transpose(1, 0, 2)
    starts, ends = enumerate_candidates(n_tokens - n_full, max_width)
    starts, ends = xp.asarray(starts + n_full), xp.asarray(ends + n_full)
    widths = ends - starts
    inside_mean = (prefix[ends] - prefix[starts]) / widths[:, None].astype("float32")
    out[n_full * max_width :] = start_part[starts] + end_part[ends - 1] + inside_mean + width_table[widths - 1] + bias
