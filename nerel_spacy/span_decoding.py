"""Candidate spans and their decoding for the nested-mention head.

Every span of at most ``max_width`` tokens is a candidate; the span head scores each
for every entity type plus "none". Decoding keeps the candidates whose best entity
probability reaches a threshold and resolves partial overlaps ("crossing" pairs) by
score: nesting is allowed, crossing only when asked for. Pure functions of arrays.
"""
from collections import defaultdict
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy

# Class index 0 of the span head is "no entity"; entity type k is class k + 1.
NONE_CLASS = 0


class DecodedSpan(NamedTuple):
    start: int
    end: int  # exclusive
    label: int  # index into the entity labels (class - 1)
    score: float


def enumerate_candidates(n_tokens: int, max_width: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Start and (exclusive) end of every span of 1..max_width tokens, by start then width.

    The order is the row order of the span head's output for a doc of ``n_tokens``.
    """
    if n_tokens <= 0 or max_width <= 0:
        empty = numpy.zeros((0,), dtype="int32")
        return empty, empty.copy()
    starts = numpy.repeat(numpy.arange(n_tokens, dtype="int32"), max_width)
    widths = numpy.tile(numpy.arange(1, max_width + 1, dtype="int32"), n_tokens)
    ends = starts + widths
    keep = ends <= n_tokens
    return starts[keep], ends[keep]


def n_candidates(n_tokens: int, max_width: int) -> int:
    """How many candidates ``enumerate_candidates`` yields, without building them."""
    if n_tokens <= 0 or max_width <= 0:
        return 0
    width = min(max_width, n_tokens)
    return width * n_tokens - width * (width - 1) // 2


def candidate_index(n_tokens: int, max_width: int) -> dict:
    """Map ``(start, end)`` to the candidate's row."""
    starts, ends = enumerate_candidates(n_tokens, max_width)
    return {(int(s), int(e)): i for i, (s, e) in enumerate(zip(starts, ends))}


def crosses(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    """True when two half-open spans overlap without one containing the other."""
    (s1, e1), (s2, e2) = a, b
    overlap = s1 < e2 and s2 < e1
    nested = (s1 <= s2 and e2 <= e1) or (s2 <= s1 and e1 <= e2)
    return overlap and not nested


def decode_spans(
    probs: numpy.ndarray,
    starts: Sequence[int],
    ends: Sequence[int],
    threshold: float = 0.5,
    allow_crossing: bool = False,
) -> List[DecodedSpan]:
    """Predicted mentions from the class probabilities ``(n_candidates, 1 + n_labels)``.

    A candidate is kept when its most probable entity type has probability ≥
    ``threshold`` and beats "none". Accepted in order of score; a candidate that
    crosses an accepted one is dropped unless ``allow_crossing``. Returned in
    document order (start, then longer first), one label per span.
    """
    probs = numpy.asarray(probs)
    if probs.shape[0] == 0:
        return []
    entity_probs = probs[:, NONE_CLASS + 1 :]
    best = entity_probs.argmax(axis=1)
    best_prob = entity_probs[numpy.arange(len(best)), best]
    keep = (best_prob >= threshold) & (best_prob > probs[:, NONE_CLASS])
    rows = numpy.flatnonzero(keep)
    # Highest score first; ties to the longer, then the earlier span.
    order = sorted(rows, key=lambda r: (-best_prob[r], -(ends[r] - starts[r]), starts[r]))
    # Accepted spans by start: one that crosses [s, e) starts in (s - longest, e), so a
    # candidate is checked against its neighbours only, not every accepted span.
    longest = max((int(ends[r]) - int(starts[r]) for r in rows), default=0)
    ends_by_start: Dict[int, List[int]] = defaultdict(list)
    accepted: List[DecodedSpan] = []
    for r in order:
        span = (int(starts[r]), int(ends[r]))
        if not allow_crossing and _crosses_accepted(span, ends_by_start, longest):
            continue
        ends_by_start[span[0]].append(span[1])
        accepted.append(DecodedSpan(span[0], span[1], int(best[r]), float(best_prob[r])))
    return sorted(accepted, key=lambda s: (s.start, -s.end))


def _crosses_accepted(span: Tuple[int, int], ends_by_start: Dict[int, List[int]], longest: int) -> bool:
    start, end = span
    return any(
        crosses(span, (other_start, other_end))
        for other_start in range(max(0, start - longest + 1), end)
        for other_end in ends_by_start.get(other_start, ())
    )


def span_targets(
    n_tokens: int, max_width: int, gold: Sequence[Tuple[int, int, int]]
) -> Tuple[numpy.ndarray, int]:
    """Gold class per candidate (0 = none) from ``(start, end, label_index)`` triples.

    Gold spans wider than ``max_width`` have no candidate; their count is returned so
    the recall they cost can be reported. Of two labels on one span the first wins.
    """
    index = candidate_index(n_tokens, max_width)
    classes = numpy.zeros((len(index),), dtype="int64")
    missed = 0
    for start, end, label in gold:
        row = index.get((start, end))
        if row is None:
            missed += 1
        elif classes[row] == NONE_CLASS:
            classes[row] = label + 1
    return classes, missed
