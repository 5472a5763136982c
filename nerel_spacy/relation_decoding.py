"""Candidate mention pairs and their decoding for the relation head.

A candidate is an ordered pair ``(head, tail)`` of two different mentions whose token
gap (the tokens strictly between them; 0 when they overlap or nest) is at most
``max_distance``. The relation head scores each for every relation type (multi-label
sigmoid); decoding keeps the (pair, type) entries whose probability reaches a
threshold; ``best_of_nested_variants`` can then keep one of a nest of alternative
arguments. Pure functions of arrays; mentions are ``(start, end, label)`` rows in token
offsets, ``end`` exclusive.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy

# Distance buckets: 3 for overlapping pairs, then the gap (0, 1, 2, 3, 4, 5-7, 8-15,
# 16-31, 32-63, 64+) on each side: head before tail, then tail before head.
HEAD_CONTAINS_TAIL, TAIL_CONTAINS_HEAD, CROSSING = 0, 1, 2
N_GAP_BUCKETS = 10
N_DISTANCE_BUCKETS = 3 + 2 * N_GAP_BUCKETS


class DecodedRelation(NamedTuple):
    head: int  # index into the doc's mentions
    tail: int
    label: int  # index into the relation labels
    score: float


def mention_array(mentions: Sequence[Tuple[int, int, int]]) -> numpy.ndarray:
    """``(start, end, label)`` triples as the ``(n, 3)`` int32 array the relation head reads."""
    return numpy.asarray(list(mentions), dtype="int32").reshape((-1, 3))


def pair_gaps(
    starts: numpy.ndarray,
    ends: numpy.ndarray,
    other_starts: Optional[numpy.ndarray] = None,
    other_ends: Optional[numpy.ndarray] = None,
) -> numpy.ndarray:
    """Token gap between every mention and every other one: 0 when they overlap or nest.

    ``(m, m)`` for one set of mentions; ``(m, k)`` against ``other_starts``/``other_ends``.
    """
    starts = numpy.asarray(starts, dtype="int64")
    ends = numpy.asarray(ends, dtype="int64")
    other_starts = starts if other_starts is None else numpy.asarray(other_starts, dtype="int64")
    other_ends = ends if other_ends is None else numpy.asarray(other_ends, dtype="int64")
    later_start = numpy.maximum(starts[:, None], other_starts[None, :])
    earlier_end = numpy.minimum(ends[:, None], other_ends[None, :])
    return numpy.maximum(later_start - earlier_end, 0)


def enumerate_pairs(
    mentions: numpy.ndarray, max_distance: int, block: int = 256
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Head and tail mention index of every candidate pair, by head then tail.

    The order is the row order of the relation head's output for these mentions. Heads
    are taken ``block`` at a time against the mentions that can lie within
    ``max_distance`` of them, so time and memory follow the pairs near each other, not
    the square of a long text's mentions.
    """
    mentions = numpy.asarray(mentions).reshape((-1, 3))
    n = mentions.shape[0]
    empty = numpy.zeros((0,), dtype="int32")
    if n < 2:
        return empty, empty.copy()
    starts = mentions[:, 0].astype("int64")
    ends = mentions[:, 1].astype("int64")
    found_heads, found_tails = [empty], [empty]
    for first in range(0, n, block):
        rows = numpy.arange(first, min(first + block, n))
        # A tail within max_distance of any head here ends at or after `low` and starts
        # at or before `high` (whether it comes before, after or overlaps the head).
        low, high = starts[rows].min() - max_distance, ends[rows].max() + max_distance
        cols = numpy.nonzero((ends >= low) & (starts <= high))[0]
        keep = pair_gaps(starts[rows], ends[rows], starts[cols], ends[cols]) <= max_distance
        keep &= rows[:, None] != cols[None, :]
        r, c = numpy.nonzero(keep)
        found_heads.append(rows[r].astype("int32"))
        found_tails.append(cols[c].astype("int32"))
    return numpy.concatenate(found_heads), numpy.concatenate(found_tails)


def gap_bucket(gaps: numpy.ndarray) -> numpy.ndarray:
    """0-4 for gaps of 0-4 tokens, then one bucket per power of two up to 64+."""
    gaps = numpy.asarray(gaps, dtype="int64")
    log_bucket = 3 + numpy.floor(numpy.log2(numpy.maximum(gaps, 1))).astype("int64")
    return numpy.where(gaps < 5, gaps, numpy.minimum(log_bucket, N_GAP_BUCKETS - 1))


def distance_buckets(mentions: numpy.ndarray, heads: numpy.ndarray, tails: numpy.ndarray) -> numpy.ndarray:
    """The distance bucket of each pair: nesting either way, crossing, or a signed gap."""
    mentions = numpy.asarray(mentions, dtype="int64").reshape((-1, 3))
    hs, he = mentions[heads, 0], mentions[heads, 1]
    ts, te = mentions[tails, 0], mentions[tails, 1]
    head_first = he <= ts
    tail_first = te <= hs
    buckets = numpy.full(len(heads), CROSSING, dtype="int64")
    buckets[(hs <= ts) & (te <= he)] = HEAD_CONTAINS_TAIL
    buckets[(ts <= hs) & (he <= te) & ~((hs == ts) & (he == te))] = TAIL_CONTAINS_HEAD
    buckets[head_first] = 3 + gap_bucket(ts - he)[head_first]
    buckets[tail_first] = 3 + N_GAP_BUCKETS + gap_bucket(hs - te)[tail_first]
    return buckets.astype("int32")


def between_ranges(
    mentions: numpy.ndarray, heads: numpy.ndarray, tails: numpy.ndarray
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """``[start, end)`` of the tokens between each pair's arguments (empty when they touch)."""
    mentions = numpy.asarray(mentions, dtype="int64").reshape((-1, 3))
    first_end = numpy.minimum(mentions[heads, 1], mentions[tails, 1])
    last_start = numpy.maximum(mentions[heads, 0], mentions[tails, 0])
    end = numpy.maximum(first_end, last_start)
    return first_end.astype("int32"), end.astype("int32")


def relation_targets(
    heads: numpy.ndarray,
    tails: numpy.ndarray,
    gold: Sequence[Tuple[int, int, int]],
    n_labels: int,
) -> Tuple[numpy.ndarray, int]:
    """0/1 per candidate pair and relation type from gold ``(head, tail, label)`` triples.

    Gold pairs that are not candidates (too far apart) have no row; their count is
    returned so the recall the window gives up can be reported.
    """
    row_of = {(int(h), int(t)): row for row, (h, t) in enumerate(zip(heads, tails))}
    targets = numpy.zeros((len(row_of), n_labels), dtype="float32")
    missed = 0
    for head, tail, label in gold:
        row = row_of.get((head, tail))
        if row is None:
            missed += 1
        else:
            targets[row, label] = 1.0
    return targets, missed


def decode_relations(
    probs: numpy.ndarray, heads: numpy.ndarray, tails: numpy.ndarray, threshold: float = 0.5
) -> List[DecodedRelation]:
    """Every (pair, type) whose probability reaches ``threshold``, by head, tail and type."""
    probs = numpy.asarray(probs)
    if probs.size == 0:
        return []
    rows, labels = numpy.nonzero(probs >= threshold)
    found = [
        DecodedRelation(int(heads[r]), int(tails[r]), int(k), float(probs[r, k]))
        for r, k in zip(rows, labels)
    ]
    return sorted(found, key=lambda rel: (rel.head, rel.tail, rel.label))


def one_inside_the_other(mentions: numpy.ndarray, a: int, b: int) -> bool:
    """Whether mention ``a``'s tokens lie inside ``b``'s, or ``b``'s inside ``a``'s."""
    (a_start, a_end), (b_start, b_end) = mentions[a, :2], mentions[b, :2]
    return bool((a_start <= b_start and b_end <= a_end) or (b_start <= a_start and a_end <= b_end))


def best_of_nested_variants(relations: Sequence[DecodedRelation], mentions: numpy.ndarray) -> List[DecodedRelation]:
    """Drop a triple when a higher-scored one of its type shares its head and has a tail nested
    with its tail (one inside the other), or shares its tail and has such a head.

    NEREL links a relation to one of a nest of mentions ("пресс-секретарю" inside
    "пресс-секретарю экс-президента США"); the head tends to score the same relation for
    several of them, and all but one are false. Ties keep both. Order is kept.
    """
    mentions = numpy.asarray(mentions).reshape((-1, 3))
    by_side: dict = {}
    for rel in relations:
        by_side.setdefault(("head", rel.label, rel.head), []).append((rel.tail, rel.score))
        by_side.setdefault(("tail", rel.label, rel.tail), []).append((rel.head, rel.score))

    def outscored(side: str, shared: int, other: int, rel: DecodedRelation) -> bool:
        return any(
            score > rel.score and variant != other and one_inside_the_other(mentions, variant, other)
            for variant, score in by_side[(side, rel.label, shared)]
        )

    return [
        rel for rel in relations
        if not outscored("head", rel.head, rel.tail, rel) and not outscored("tail", rel.tail, rel.head, rel)
    ]
