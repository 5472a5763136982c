"""BIO tags for flat entities: encoding, and decoding that never yields invalid spans.

Decoding is a Viterbi search over the tag scores restricted to valid transitions
(no ``I-X`` after ``O`` or after another type, none at the start), so every output
is a well-formed sequence, and the best one under the model rather than a repair.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy

OUTSIDE = "O"
SpanTuple = Tuple[int, int, str]


def make_bio_labels(entity_types: Iterable[str]) -> List[str]:
    """The tag inventory: ``O`` then ``B-X`` and ``I-X`` for each type, in a fixed order."""
    labels = [OUTSIDE]
    for entity_type in sorted(set(entity_types)):
        labels.extend((f"B-{entity_type}", f"I-{entity_type}"))
    return labels


def spans_to_bio(n_tokens: int, spans: Iterable[SpanTuple]) -> List[str]:
    """Tags for ``n_tokens`` tokens from non-overlapping ``(start, end, label)`` token spans."""
    tags = [OUTSIDE] * n_tokens
    for start, end, label in spans:
        if any(tag != OUTSIDE for tag in tags[start:end]):
            raise ValueError(f"span {(start, end, label)} overlaps another span")
        for i in range(start, end):
            tags[i] = ("B-" if i == start else "I-") + label
    return tags


def bio_to_spans(tags: Sequence[str]) -> List[SpanTuple]:
    """Token spans from tags. Lenient: an ``I-X`` that cannot continue a span starts one."""
    spans: List[SpanTuple] = []
    start: Optional[int] = None
    label: Optional[str] = None
    for i, tag in enumerate(list(tags) + [OUTSIDE]):
        prefix, _, tag_label = tag.partition("-")
        continues = prefix == "I" and label == tag_label and start is not None
        if continues:
            continue
        if start is not None:
            spans.append((start, i, label))  # type: ignore[arg-type]
            start, label = None, None
        if prefix in ("B", "I"):
            start, label = i, tag_label
    return spans


def transition_constraints(labels: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Boolean ``allowed[prev, next]`` transitions and ``allowed_start[tag]`` for BIO tags."""
    n_tags = len(labels)
    allowed = numpy.ones((n_tags, n_tags), dtype=bool)
    allowed_start = numpy.ones((n_tags,), dtype=bool)
    for j, tag in enumerate(labels):
        prefix, _, label = tag.partition("-")
        if prefix != "I":
            continue
        allowed_start[j] = False
        for i, prev in enumerate(labels):
            prev_label = prev.partition("-")[2]
            allowed[i, j] = prev != OUTSIDE and prev_label == label
    return allowed, allowed_start


def constrained_viterbi(
    scores: numpy.ndarray, allowed: numpy.ndarray, allowed_start: numpy.ndarray
) -> List[int]:
    """The highest-scoring valid tag path for ``scores`` (n_tokens, n_tags) of log-probabilities."""
    n_tokens, n_tags = scores.shape
    if n_tokens == 0:
        return []
    scores = numpy.asarray(scores, dtype="float64")
    forbidden = numpy.where(allowed, 0.0, -numpy.inf)
    best = numpy.where(allowed_start, scores[0], -numpy.inf)
    backpointers = numpy.zeros((n_tokens, n_tags), dtype="int64")
    for t in range(1, n_tokens):
        candidates = best[:, None] + forbidden  # (prev, next)
        backpointers[t] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[t]
    path = [int(best.argmax())]
    for t in range(n_tokens - 1, 0, -1):
        path.append(int(backpointers[t, path[-1]]))
    return path[::-1]
