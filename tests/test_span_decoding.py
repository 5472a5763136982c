"""Candidate enumeration, gold targets and the nested-mention decoder (property-tested)."""
import numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from nerel_spacy.span_decoding import (
    crosses,
    decode_spans,
    enumerate_candidates,
    n_candidates,
    span_targets,
)


@given(st.integers(0, 40), st.integers(1, 12))
def test_candidates_are_every_span_up_to_max_width(n_tokens, max_width):
    starts, ends = enumerate_candidates(n_tokens, max_width)
    expected = {(s, e) for s in range(n_tokens) for e in range(s + 1, min(n_tokens, s + max_width) + 1)}
    assert set(zip(starts.tolist(), ends.tolist())) == expected
    assert len(starts) == len(expected) == n_candidates(n_tokens, max_width)


def test_crosses():
    assert crosses((0, 3), (2, 5)) and crosses((2, 5), (0, 3))
    assert not crosses((0, 5), (1, 3)) and not crosses((0, 2), (2, 4)) and not crosses((1, 2), (1, 2))


def test_targets_mark_gold_rows_and_count_too_wide_spans():
    classes, too_wide = span_targets(5, 2, [(0, 2, 3), (1, 2, 0), (0, 5, 1)])
    starts, ends = enumerate_candidates(5, 2)
    gold = {(int(s), int(e)): int(c) for s, e, c in zip(starts, ends, classes) if c}
    assert gold == {(0, 2): 4, (1, 2): 1}
    assert too_wide == 1


@settings(max_examples=200, deadline=None)
@given(
    n_tokens=st.integers(1, 15),
    max_width=st.integers(1, 6),
    n_labels=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    allow_crossing=st.booleans(),
    threshold=st.floats(0.05, 0.95),
)
def test_decoded_spans_are_valid(n_tokens, max_width, n_labels, seed, allow_crossing, threshold):
    starts, ends = enumerate_candidates(n_tokens, max_width)
    logits = numpy.random.default_rng(seed).normal(scale=3.0, size=(len(starts), 1 + n_labels))
    probs = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    decoded = decode_spans(probs, starts, ends, threshold, allow_crossing)
    extents = [(d.start, d.end) for d in decoded]
    assert len(extents) == len(set(extents))  # one label per span, no duplicates
    for d in decoded:
        assert 0 <= d.start < d.end <= n_tokens and d.end - d.start <= max_width
        assert 0 <= d.label < n_labels and d.score >= threshold
    if not allow_crossing:
        assert not any(crosses(a, b) for a in extents for b in extents)
    assert extents == sorted(extents, key=lambda x: (x[0], -x[1]))


def quadratic_decode(probs, starts, ends, threshold):
    """The decoder as first written: every candidate checked against every accepted span."""
    entity = probs[:, 1:]
    best, best_prob = entity.argmax(axis=1), entity.max(axis=1)
    rows = [r for r in range(len(probs)) if best_prob[r] >= threshold and best_prob[r] > probs[r, 0]]
    accepted = []
    for r in sorted(rows, key=lambda r: (-best_prob[r], -(ends[r] - starts[r]), starts[r])):
        span = (int(starts[r]), int(ends[r]))
        if not any(crosses(span, other) for other, _ in accepted):
            accepted.append((span, int(best[r])))
    return sorted(accepted, key=lambda item: (item[0][0], -item[0][1]))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.integers(0, 10_000), st.floats(0.05, 0.6))
def test_decoding_checks_only_neighbours_but_keeps_what_checking_all_kept(n_tokens, max_width, seed, threshold):
    starts, ends = enumerate_candidates(n_tokens, max_width)
    logits = numpy.random.default_rng(seed).normal(scale=3.0, size=(len(starts), 3))
    probs = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    decoded = decode_spans(probs, starts, ends, threshold)
    assert [((d.start, d.end), d.label) for d in decoded] == quadratic_decode(probs, starts, ends, threshold)


def test_a_long_text_decodes_in_linear_time():
    """20,000 tokens with every 2-token span a mention: the all-pairs check took minutes."""
    import time

    starts, ends = enumerate_candidates(20_000, 4)
    probs = numpy.zeros((len(starts), 2))
    probs[:, 0] = 1.0
    mention = (ends - starts == 2) & (starts % 3 == 0)
    probs[mention] = [0.1, 0.9]
    begin = time.process_time()  # CPU time: a busy machine does not fail it
    decoded = decode_spans(probs, starts, ends, 0.5)
    assert len(decoded) == int(mention.sum()) and time.process_time() - begin < 5.0


def test_the_higher_scored_of_two_crossing_spans_wins():
    starts, ends = numpy.array([0, 1, 0]), numpy.array([2, 3, 3])
    probs = numpy.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]])
    decoded = decode_spans(probs, starts, ends, threshold=0.5)
    assert [(d.start, d.end) for d in decoded] == [(0, 3), (0, 2)]  # (1, 3) crosses (0, 2)
    crossing = decode_spans(probs, starts, ends, threshold=0.5, allow_crossing=True)
    assert len(crossing) == 3


def test_none_must_be_beaten():
    probs = numpy.array([[0.5, 0.3, 0.2]])
    assert decode_spans(probs, numpy.array([0]), numpy.array([1]), threshold=0.1) == []
