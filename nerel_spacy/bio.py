"""BIO tags for flat entities: encoding, and decoding that never yields invalid spans.

Decoding is a Viterbi search over the tag scores restricted to valid transitions
(no ``I-X`` after ``O`` or after another type, none at the start), so every output
is a well-formed sequence, and the best one under the model rather than a repair.
``constrained_viterbi`` decodes one doc; ``constrained_viterbi_batch`` gives the same
paths for many docs at once, stepping through all of them together.
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


def tag_ids_to_spans(path: Sequence[int], labels: Sequence[str]) -> List[SpanTuple]:
    """``bio_to_spans`` of ``[labels[t] for t in path]``, looking only at the tokens not ``O``.

    ``O`` only ever closes a span, so a run of them needs no visit: on news text nine
    tokens in ten are ``O``.
    """
    path = numpy.asarray(path, dtype="int64")
    parts = [label.partition("-") for label in labels]
    outside = [i for i, label in enumerate(labels) if label == OUTSIDE]
    spans: List[SpanTuple] = []
    start: Optional[int] = None
    label: Optional[str] = None
    last = -2
    positions = numpy.flatnonzero(path != outside[0]) if outside else numpy.arange(len(path))
    for i in positions.tolist():
        prefix, _, tag_label = parts[path[i]]
        continues = prefix == "I" and label == tag_label and start is not None and i == last + 1
        if not continues:
            if start is not None:
                spans.append((start, last + 1, label))  # type: ignore[arg-type]
            start, label = (i, tag_label) if prefix in ("B", "I") else (None, None)
        last = i
    if start is not None:
        spans.append((start, last + 1, label))  # type: ignore[arg-type]
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


def constrained_viterbi_batch(
    scores: Sequence[numpy.ndarray], allowed: numpy.ndarray, allowed_start: numpy.ndarray
) -> List[List[int]]:
    """``constrained_viterbi`` of every doc's ``(n_tokens, n_tags)`` scores, in one pass.

    Returns exactly the paths ``constrained_viterbi`` returns, ties included: a step
    works on every doc still running, and on the transition structure rather than the
    full ``(n_tags, n_tags)`` table. A tag that any tag may precede (``O``, ``B-X``)
    takes the best previous tag; one with a restricted set (``I-X``: ``B-X``, ``I-X``)
    takes the best of its few allowed ones. On NEREL's 59 tags that is a few small
    array operations per step for the whole batch, where the per-doc search does a
    59×59 one per token of every doc.
    """
    lengths = numpy.asarray([len(doc_scores) for doc_scores in scores], dtype="int64")
    paths: List[List[int]] = [[] for _ in scores]
    # Longest first, so the docs still running at step t are a prefix of the order.
    order = numpy.argsort(-lengths, kind="stable")
    order = order[lengths[order] > 0]
    if not len(order):
        return paths
    n_tags = allowed.shape[0]
    sorted_lengths = lengths[order]
    offsets = numpy.concatenate([[0], numpy.cumsum(sorted_lengths)[:-1]])
    flat = numpy.concatenate([numpy.asarray(scores[i], dtype="float64") for i in order])
    max_length = int(sorted_lengths[0])
    n_running = numpy.searchsorted(-sorted_lengths, -numpy.arange(max_length), side="left")
    restricted_tags, previous, previous_pointer = _transition_structure(allowed)
    restricted_rows = numpy.arange(len(restricted_tags))[None, :]
    bio_layout = (
        numpy.array_equal(restricted_tags, numpy.arange(2, n_tags, 2))
        and previous.shape[1] == 2
        and numpy.array_equal(previous, numpy.stack([restricted_tags - 1, restricted_tags], axis=1))
    )

    # Each row is a doc's best score per tag so far, plus a column at -inf that stands in
    # for "no allowed previous tag".
    best = numpy.full((len(order), n_tags + 1), -numpy.inf)
    best[:, :n_tags] = numpy.where(allowed_start, flat[offsets], -numpy.inf)
    final_best = numpy.empty((len(order), n_tags))
    backpointers: List[numpy.ndarray] = []
    for t in range(1, max_length):
        running = int(n_running[t])
        finished = slice(running, int(n_running[t - 1]))
        final_best[finished] = best[finished, :n_tags]
        current = best[:running]
        best_previous = current.argmax(axis=1)
        best_previous_score = current[numpy.arange(running), best_previous]
        pointers = numpy.empty((running, n_tags), dtype="int32")
        pointers[:] = best_previous[:, None]
        if bio_layout:
            # make_bio_labels' order (O, B-X, I-X, ...): I-X at 2k+2 follows B-X at 2k+1
            # or itself, so strided views replace the gather; a tie goes to B-X, as argmax.
            begins, insides = current[:, 1:n_tags:2], current[:, 2:n_tags:2]
            from_inside = insides > begins
            inside_best = numpy.maximum(begins, insides)
            pointers[:, 2:n_tags:2] = restricted_tags - 1 + from_inside
            current[:, :n_tags] = best_previous_score[:, None]
            current[:, 2:n_tags:2] = inside_best
        else:
            candidates = current[:, previous]  # (running, n_restricted, k)
            pointers[:, restricted_tags] = previous_pointer[restricted_rows, candidates.argmax(axis=2)]
            current[:, :n_tags] = best_previous_score[:, None]
            current[:, restricted_tags] = candidates.max(axis=2)
        backpointers.append(pointers)
        current[:, :n_tags] += flat[offsets[:running] + t]
    final_best[: int(n_running[max_length - 1])] = best[: int(n_running[max_length - 1]), :n_tags]

    tags = final_best.argmax(axis=1)
    flat_path = numpy.empty((len(flat),), dtype="int64")
    for t in range(max_length - 1, -1, -1):
        running = int(n_running[t])
        flat_path[offsets[:running] + t] = tags[:running]
        if t:
            tags[:running] = backpointers[t - 1][numpy.arange(running), tags[:running]]
    for position, doc_index in enumerate(order):
        start = offsets[position]
        paths[doc_index] = flat_path[start : start + sorted_lengths[position]].tolist()
    return paths


def _transition_structure(allowed: numpy.ndarray):
    """The tags not every tag may precede, with their allowed previous tags, padded.

    ``previous[r]`` lists the allowed previous tags of restricted tag ``r`` in index
    order, padded with ``n_tags`` (a score column at -inf). ``previous_pointer`` is the
    same with padding as 0, the backpointer the full search stores when nothing is
    allowed.
    """
    n_tags = allowed.shape[0]
    restricted_tags = numpy.flatnonzero(~allowed.all(axis=0))
    width = max([int(allowed[:, j].sum()) for j in restricted_tags] + [1])
    previous = numpy.full((len(restricted_tags), width), n_tags, dtype="int64")
    for row, tag in enumerate(restricted_tags):
        allowed_previous = numpy.flatnonzero(allowed[:, tag])
        previous[row, : len(allowed_previous)] = allowed_previous
    previous_pointer = numpy.where(previous == n_tags, 0, previous)
    return restricted_tags, previous, previous_pointer
