"""Means over token ranges from prefix sums, and their gradient: shared by the span and relation heads.

A range ``[s, e)`` of rows has mean ``(P[e] - P[s]) / (e - s)`` with ``P[k] = Σ_{t<k} x[t]``,
so any number of ranges cost O(width) each once the prefix sums exist.
"""
from thinc.api import Ops
from thinc.types import Floats2d, Ints1d


def prefix_sums(ops: Ops, rows: Floats2d) -> Floats2d:
    """``P[k] = Σ_{t<k} rows[t]`` for k = 0..n (n + 1 rows).

    numpy sums down the rows of a C-ordered array about half as fast as along them, so
    the sums run over the transpose: the same additions in the same order, the same bits.
    """
    xp = ops.xp
    n_rows, width = rows.shape
    prefix = ops.alloc2f(n_rows + 1, width, zeros=False)
    prefix[0] = 0
    prefix[1:] = xp.cumsum(xp.ascontiguousarray(rows.T), axis=1).T
    return prefix


def range_means(prefix: Floats2d, starts: Ints1d, ends: Ints1d) -> Floats2d:
    """Mean of rows ``[s, e)`` from prefix sums ``prefix[k] = Σ_{t<k}``; 0 for empty ranges."""
    lengths = (ends - starts).clip(1).astype("float32")
    return (prefix[ends] - prefix[starts]) / lengths[:, None]


def range_means_backward(ops: Ops, d_means: Floats2d, starts: Ints1d, ends: Ints1d, n_rows: int) -> Floats2d:
    """The gradient of ``range_means`` for each of ``n_rows`` input rows.

    ``mean = (P[e] - P[s]) / len`` with ``P[k] = Σ_{t<k} x[t]``: push ±d/len onto the
    prefix rows, then ``d x[t] = Σ_{k>t} d P[k]`` (a reversed cumulative sum).
    """
    lengths = (ends - starts).clip(1).astype("float32")
    d_scaled = d_means / lengths[:, None]
    d_prefix = ops.alloc2f(n_rows + 1, d_means.shape[1])
    ops.scatter_add(d_prefix, ends, d_scaled)
    ops.scatter_add(d_prefix, starts, -d_scaled)
    return ops.xp.cumsum(d_prefix[::-1], axis=0)[::-1][1:]
