"""Gold targets for the joint component's heads, built from ``Example`` objects.

Each function turns the reference side of a batch into arrays aligned with the
predicted tokens (and, for spans, with the span head's candidate rows), plus a mask
of what is known: a token whose gold tag is unknown, a doc without gold cats or
without a gold span group adds nothing to the loss.

The joint component's objective (``pipeline.objective``) trains on them; the
gold-mention relation scores (``scoring_relations``) and a relation head retrained on a
frozen encoder (``relation_retrain``) read the same gold relations.
"""
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy
from spacy.training import Example
from spacy.training.iob_utils import biluo_to_iob

from .span_decoding import n_candidates, span_targets


def gold_tag_ids(
    examples: Sequence[Example], tag_labels: Sequence[str]
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Gold BIO tag id per predicted token, all docs flattened; unknown gold gets mask 0."""
    index = {tag: i for i, tag in enumerate(tag_labels)}
    ids: List[int] = []
    mask: List[float] = []
    for eg in examples:
        biluo = eg.get_aligned_ner()
        known = [tag not in (None, "-") for tag in biluo]
        bio = biluo_to_iob([tag if ok else "O" for tag, ok in zip(biluo, known)])
        for tag, ok in zip(bio, known):
            if ok and tag in index:
                ids.append(index[tag])
                mask.append(1.0)
            else:
                ids.append(0)
                mask.append(0.0)
    return numpy.asarray(ids, dtype="int64"), numpy.asarray(mask, dtype="float32")


def gold_cats(
    examples: Sequence[Example], labels: Sequence[str]
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Gold 0/1 per relation type; labels missing from a doc's gold cats are masked out."""
    truths = numpy.zeros((len(examples), len(labels)), dtype="float32")
    mask = numpy.zeros((len(examples), len(labels)), dtype="float32")
    for i, eg in enumerate(examples):
        for j, label in enumerate(labels):
            if label in eg.reference.cats:
                truths[i, j] = eg.reference.cats[label]
                mask[i, j] = 1.0
    return truths, mask


def gold_span_classes(
    examples: Sequence[Example], entity_labels: Sequence[str], max_width: int, spans_key: str
) -> Tuple[numpy.ndarray, numpy.ndarray, Dict[str, int]]:
    """Gold class per candidate span (0 = none), all docs flattened in candidate order.

    Gold mentions come from ``reference.spans[spans_key]`` aligned to the predicted
    tokens. A doc without that group is masked out (its inner mentions are unknown,
    so its candidates must not be taught "none"). Also returns counts of the gold
    mentions that have no candidate (wider than ``max_width``, or unknown labels).
    """
    label_index = {label: i for i, label in enumerate(entity_labels)}
    classes: List[numpy.ndarray] = []
    masks: List[numpy.ndarray] = []
    counts = {"gold": 0, "too_wide": 0, "unknown_label": 0}
    for eg in examples:
        n_tokens = len(eg.predicted)
        size = n_candidates(n_tokens, max_width)
        if spans_key not in eg.reference.spans:
            classes.append(numpy.zeros((size,), dtype="int64"))
            masks.append(numpy.zeros((size,), dtype="float32"))
            continue
        aligned = eg.get_aligned_spans_y2x(eg.reference.spans[spans_key], allow_overlap=True)
        gold = []
        for span in aligned:
            counts["gold"] += 1
            if span.label_ not in label_index:
                counts["unknown_label"] += 1
            else:
                gold.append((span.start, span.end, label_index[span.label_]))
        doc_classes, too_wide = span_targets(n_tokens, max_width, gold)
        counts["too_wide"] += too_wide
        classes.append(doc_classes)
        masks.append(numpy.ones((size,), dtype="float32"))
    if not classes:
        return numpy.zeros((0,), dtype="int64"), numpy.zeros((0,), dtype="float32"), counts
    return numpy.concatenate(classes), numpy.concatenate(masks), counts


def labels_from_examples(
    examples: Iterable[Example], spans_key: Optional[str]
) -> Tuple[Set[str], List[str]]:
    """Entity types (from ents and the span group) and relation types (cats, in order seen)."""
    entity_labels: Set[str] = set()
    cats_seen: Dict[str, None] = {}
    for eg in examples:
        entity_labels.update(ent.label_ for ent in eg.reference.ents)
        if spans_key and spans_key in eg.reference.spans:
            entity_labels.update(s.label_ for s in eg.reference.spans[spans_key])
        for label in eg.reference.cats:
            cats_seen.setdefault(label, None)
    return entity_labels, list(cats_seen)


class GoldRelations(NamedTuple):
    """One doc's gold mentions as the relation head reads them, and its triples over them."""

    mentions: numpy.ndarray  # (n, 3) int32: start, end (predicted tokens), entity label index
    triples: List[Tuple[int, int, int]]  # (head row, tail row, relation label index)
    known: bool  # False when the doc has no gold relations (None): its pairs are masked out


def gold_relations(
    examples: Sequence[Example],
    entity_labels: Sequence[str],
    relation_labels: Sequence[str],
    spans_key: str,
) -> List[GoldRelations]:
    """The gold mentions of each example aligned to its predicted tokens, and its relations.

    A mention whose characters do not fall on predicted token boundaries, or whose type
    is unknown, is left out with the relations that name it; so are relation types
    outside ``relation_labels``.
    """
    label_index = {label: i for i, label in enumerate(entity_labels)}
    relation_index = {label: i for i, label in enumerate(relation_labels)}
    found = []
    for eg in examples:
        group = eg.reference.spans[spans_key] if spans_key in eg.reference.spans else []
        rows: Dict[int, int] = {}
        mentions = []
        for i, span in enumerate(group):
            aligned = eg.predicted.char_span(span.start_char, span.end_char)
            if aligned is not None and span.label_ in label_index:
                rows[i] = len(mentions)
                mentions.append((aligned.start, aligned.end, label_index[span.label_]))
        relations = eg.reference._.relations if eg.reference.has_extension("relations") else None
        triples = [
            (rows[rel["head"]], rows[rel["tail"]], relation_index[rel["label"]])
            for rel in relations or []
            if rel["head"] in rows and rel["tail"] in rows and rel["label"] in relation_index
        ]
        array = numpy.asarray(mentions, dtype="int32").reshape((-1, 3))
        found.append(GoldRelations(array, triples, relations is not None and spans_key in eg.reference.spans))
    return found
