"""The relation task of ``nerel_joint`` at inference: mentions in, triples and cats out.

Pure helpers of ``NerelJoint.predict`` and ``set_annotations``: the relation head reads
the span head's decoded mentions; its pair probabilities become triples above
``relation_threshold`` (indexing the mentions, so ``doc.spans["nerel"]``) and, per
relation type, the highest probability over the doc's pairs, a second source of
``doc.cats`` (``cats_source``).
"""
from typing import List, Sequence, Tuple

import numpy
from thinc.api import Model

from ..models.loss import sigmoid
from ..relation_decoding import (
    DecodedRelation,
    best_of_nested_variants,
    decode_relations,
    enumerate_pairs,
    mention_array,
)
from ..span_decoding import DecodedSpan


def decoded_mentions(spans: Sequence[DecodedSpan]) -> numpy.ndarray:
    """The span head's decoded mentions as the relation head's ``(start, end, label)`` rows."""
    return mention_array([(span.start, span.end, span.label) for span in spans])


def predict_relations(
    relation_head: Model,
    token_vectors: List[object],
    rows: Sequence[int],
    mentions: Sequence[numpy.ndarray],
    n_docs: int,
    threshold: float,
    n_labels: int,
    nested_arguments: str = "all",
) -> Tuple[List[List[DecodedRelation]], numpy.ndarray]:
    """Triples above ``threshold`` and each type's highest pair probability, for ``n_docs`` docs.

    ``nested_arguments="best"`` keeps one triple of each nest of alternative arguments
    (``best_of_nested_variants``); the highest probabilities are over every pair.

    ``token_vectors`` and ``mentions`` belong to the docs at ``rows`` (the non-empty
    ones); the other docs get no triples and zero probabilities.
    """
    ops = relation_head.ops
    max_distance = relation_head.attrs["max_distance"]
    relations: List[List[DecodedRelation]] = [[] for _ in range(n_docs)]
    best = numpy.zeros((n_docs, n_labels), dtype="float32")
    if not len(rows):
        return relations, best
    logits = relation_head.predict((token_vectors, list(mentions)))
    for i, doc_logits, doc_mentions in zip(rows, logits, mentions):
        heads, tails = enumerate_pairs(doc_mentions, max_distance)
        if len(heads):
            doc_logits = ops.to_numpy(doc_logits)
            # The logistic function is monotone: each type's best probability is that of
            # its best logit, and only pairs with a logit near the threshold's need one.
            best[i] = ops.to_numpy(sigmoid(ops, doc_logits.max(axis=0)))
            pairs = _pairs_that_may_reach(doc_logits, threshold)
            probs = ops.to_numpy(sigmoid(ops, doc_logits[pairs]))
            relations[i] = decode_relations(probs, heads[pairs], tails[pairs], threshold)
            if nested_arguments == "best":
                relations[i] = best_of_nested_variants(relations[i], doc_mentions)
    return relations, best


def pair_probabilities(
    relation_head: Model,
    token_vectors: List[object],
    rows: Sequence[int],
    mentions: Sequence[numpy.ndarray],
    n_docs: int,
    n_labels: int,
) -> List[Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]]:
    """Per doc, the candidate pairs' heads, tails and ``(n_pairs, n_labels)`` probabilities.

    Unlike ``predict_relations`` nothing is thresholded: every candidate pair of every
    type, for analyses that compare thresholds or protocols (``relation_protocols``).
    ``token_vectors`` and ``mentions`` belong to the docs at ``rows``; the others get no pairs.
    """
    ops = relation_head.ops
    empty = numpy.zeros((0,), dtype="int32")
    found = [(empty, empty, numpy.zeros((0, n_labels), dtype="float32")) for _ in range(n_docs)]
    if not len(rows):
        return found
    logits = relation_head.predict((token_vectors, list(mentions)))
    for i, doc_logits, doc_mentions in zip(rows, logits, mentions):
        heads, tails = enumerate_pairs(doc_mentions, relation_head.attrs["max_distance"])
        if len(heads):
            probs = numpy.asarray(ops.to_numpy(sigmoid(ops, doc_logits)), dtype="float32")
            found[i] = (heads, tails, probs.reshape((len(heads), n_labels)))
    return found


def _pairs_that_may_reach(logits: numpy.ndarray, threshold: float) -> numpy.ndarray:
    """Rows with some logit within float rounding of ``threshold``'s log-odds, or above."""
    if not 0.0 < threshold < 1.0:
        return numpy.arange(len(logits))
    cutoff = numpy.log(threshold / (1.0 - threshold)) - 1e-3
    return numpy.flatnonzero(logits.max(axis=1) >= cutoff)


def relations_to_dicts(relations: Sequence[DecodedRelation], labels: Sequence[str]) -> List[dict]:
    """Decoded triples in the data contract's form: ``{"head", "tail", "label", "score"}``."""
    return [
        {"head": rel.head, "tail": rel.tail, "label": labels[rel.label], "score": rel.score}
        for rel in relations
    ]


def combine_cats(doc_probs: numpy.ndarray, triple_probs: numpy.ndarray, source: str) -> numpy.ndarray:
    """``doc.cats`` scores from the document head ("doc"), the triples ("triples") or both ("max")."""
    if source == "triples":
        return triple_probs
    if source == "max":
        return numpy.maximum(doc_probs, triple_probs)
    return doc_probs
