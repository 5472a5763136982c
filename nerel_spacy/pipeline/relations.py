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
from ..relation_decoding import DecodedRelation, decode_relations, enumerate_pairs, mention_array
from ..span_decoding import DecodedSpan


def decoded_mentions(spans: Sequence[DecodedSpan]) -> numpy.ndarray:
    """The span head's decoded mentions as the relation head's ``(start, end, label)`` rows."""
    return mention_array([(span.start, span.end, span.label) for span in spans])


def predict_relations(
    relation_head: Model,
    token_vectors: List[object],
    mentions: Sequence[numpy.ndarray],
    threshold: float,
    n_labels: int,
) -> Tuple[List[List[DecodedRelation]], numpy.ndarray]:
    """Triples per doc above ``threshold``, and per doc and type the highest pair probability."""
    ops = relation_head.ops
    max_distance = relation_head.attrs["max_distance"]
    logits = relation_head.predict((token_vectors, list(mentions)))
    relations: List[List[DecodedRelation]] = []
    best = numpy.zeros((len(mentions), n_labels), dtype="float32")
    for i, (doc_logits, doc_mentions) in enumerate(zip(logits, mentions)):
        heads, tails = enumerate_pairs(doc_mentions, max_distance)
        probs = ops.to_numpy(sigmoid(ops, doc_logits)) if len(heads) else numpy.zeros((0, n_labels))
        relations.append(decode_relations(probs, heads, tails, threshold))
        if len(heads):
            best[i] = probs.max(axis=0)
    return relations, best


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
