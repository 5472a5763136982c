"""Turning the joint component's decoded predictions into ``Doc`` annotations.

Pure helpers of ``NerelJoint.predict`` and ``set_annotations``: the best valid BIO
path, mentions as ``Span`` objects, the span group with its scores (as spaCy's
spancat stores them), and ``doc.ents`` merged with entities set by earlier components.
"""
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc, Span, SpanGroup

from thinc.api import Ops

from ..bio import constrained_viterbi_batch, tag_ids_to_spans, transition_constraints
from ..models.loss import softmax
from ..span_decoding import NONE_CLASS, DecodedSpan, decode_spans, enumerate_candidates


def best_tag_paths(
    logits: Sequence[numpy.ndarray], allowed: numpy.ndarray, allowed_start: numpy.ndarray
) -> List[List[int]]:
    """The most probable BIO path of each doc that never makes an invalid span."""
    return constrained_viterbi_batch([_log_softmax(doc_logits) for doc_logits in logits], allowed, allowed_start)


@lru_cache(maxsize=8)
def bio_constraints(tag_labels: Tuple[str, ...]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """``bio.transition_constraints`` of a tag set, built once per set; the arrays are read-only."""
    allowed, allowed_start = transition_constraints(tag_labels)
    allowed.flags.writeable = allowed_start.flags.writeable = False
    return allowed, allowed_start


def _log_softmax(logits: numpy.ndarray) -> numpy.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))


def decode_span_logits(
    ops: Ops, logits, n_tokens: int, max_width: int, threshold: float, allow_crossing: bool
) -> List[DecodedSpan]:
    """One doc's mentions from the span head's logits (rows in candidate order).

    Only candidates whose best entity logit beats "none" can be kept, so only those
    rows go through the softmax and the decoder: the same mentions, in less time.
    """
    starts, ends = enumerate_candidates(n_tokens, max_width)
    logits = ops.to_numpy(logits)
    rows = numpy.flatnonzero(logits[:, NONE_CLASS + 1 :].max(axis=1, initial=-numpy.inf) > logits[:, NONE_CLASS])
    probs = ops.to_numpy(softmax(ops, ops.asarray2f(logits[rows])))
    return decode_spans(probs, starts[rows], ends[rows], threshold, allow_crossing)


def tag_path_to_spans(doc: Doc, path: Sequence[int], tag_labels: Sequence[str]) -> List[Span]:
    """The entity spans of a decoded tag path."""
    return [Span(doc, s, e, label=label) for s, e, label in tag_ids_to_spans(path, tag_labels)]


def mentions_to_spans(doc: Doc, mentions: Sequence[DecodedSpan], entity_labels: Sequence[str]) -> List[Span]:
    """Decoded mentions as spans of ``doc``, labelled with their entity type."""
    return [Span(doc, m.start, m.end, label=entity_labels[m.label]) for m in mentions]


def set_span_group(
    doc: Doc, key: str, spans: Optional[List[Span]], decoded: Optional[Sequence[DecodedSpan]]
) -> None:
    """``doc.spans[key]``: the predicted mentions with ``attrs["scores"]``, else ``doc.ents``."""
    if spans is None or decoded is None:
        doc.spans[key] = list(doc.ents)
        return
    scores = numpy.asarray([m.score for m in decoded], dtype="float32")
    doc.spans[key] = SpanGroup(doc, name=key, spans=spans, attrs={"scores": scores})


def set_ents_keeping_earlier(doc: Doc, predicted: List[Span], overwrite: bool = False) -> None:
    """Set ``doc.ents``; unless ``overwrite``, earlier entities stay and overlapping predictions go."""
    if overwrite:
        doc.set_ents(predicted, default="outside")
        return
    existing = list(doc.ents)
    taken = {t for ent in existing for t in range(ent.start, ent.end)}
    kept = [s for s in predicted if not any(t in taken for t in range(s.start, s.end))]
    doc.set_ents(sorted(existing + kept, key=lambda s: s.start), default="outside")
