"""Per-document ``(tp, fp, fn)`` counts of the joint component's scores.

The micro scores of ``nerel.joint_scorer.v3`` sum these over documents; kept per
document, they feed ``cross_fitting`` (settings chosen on other documents, paired
bootstrap). One ``(n_docs, 3)`` array per score:

- ``entity_counts``: flat entities in ``doc.ents`` (spaCy's ``ents_f``);
- ``mention_counts``: every mention in ``doc.spans[key]`` (``spans_{key}_f``, the
  nested metric of ``scoring_nested``);
- ``cats_counts``: relation types in ``doc.cats`` at the component's thresholds;
- ``relation_counts``: end-to-end strict triples in ``doc._.relations``;
- ``gold_mention_counts``: triples predicted on the gold mentions, all pairs and
  in-sentence pairs.
"""
from typing import Dict, Mapping, Sequence

import numpy
from spacy.training import Example

from .cross_fitting import Counts, counts_rows, micro_f
from .schema import SPANS_KEY
from .scoring import cats_arrays
from .scoring_nested import char_mentions
from .scoring_relations import gold_mention_triples, relation_triples


def set_counts(gold: set, predicted: set) -> tuple:
    """``(tp, fp, fn)`` of one document's predicted set against its gold set."""
    return len(gold & predicted), len(predicted - gold), len(gold - predicted)


def entity_counts(examples: Sequence[Example]) -> Counts:
    """Flat entity counts per document: ``doc.ents`` as exact ``(start_char, end_char, label)``."""
    def entities(doc) -> set:
        return {(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents}

    return counts_rows([set_counts(entities(eg.reference), entities(eg.predicted)) for eg in examples])


def mention_counts(examples: Sequence[Example], key: str = SPANS_KEY) -> Counts:
    """Nested mention counts per document: every mention in ``doc.spans[key]``, exact offsets and label."""
    return counts_rows([
        set_counts(char_mentions(eg.reference, key), char_mentions(eg.predicted, key)) for eg in examples
    ])


def cats_counts(examples: Sequence[Example], labels: Sequence[str], thresholds: Mapping[str, float]) -> Counts:
    """Relation-type counts per document: ``doc.cats[label] >= thresholds[label]`` against the gold cats."""
    gold, scores = cats_arrays(examples, labels)
    predicted = scores >= numpy.array([thresholds[label] for label in labels])[None, :]
    gold = gold.astype(bool)
    return numpy.stack([(gold & predicted).sum(1), (~gold & predicted).sum(1), (gold & ~predicted).sum(1)], axis=1)


def relation_counts(examples: Sequence[Example], spans_key: str = SPANS_KEY) -> Counts:
    """End-to-end strict triple counts per document (``score_relations``'s matching)."""
    return counts_rows([
        set_counts(relation_triples(eg.reference, spans_key), relation_triples(eg.predicted, spans_key))
        for eg in examples
    ])


def gold_mention_counts(examples: Sequence[Example], component, batch_size: int = 16) -> Dict[str, Counts]:
    """``{"all": …, "insent": …}`` counts of ``component``'s triples on each example's gold mentions.

    The examples' predicted docs must have been through the components before
    ``component`` (``nlp.evaluate`` and ``predict_and_score`` leave them so).
    """
    rows = {"all": [], "insent": []}
    for gold, predicted, inside in gold_mention_triples(
        examples, component.predict_relations, component.entity_labels, component.cats_labels,
        spans_key=component.cfg["spans_key"] or SPANS_KEY, batch_size=batch_size,
    ):
        rows["all"].append(set_counts(gold, predicted))
        rows["insent"].append(set_counts(gold & inside, predicted & inside))
    return {scope: counts_rows(values) for scope, values in rows.items()}


def check_against_scores(counts: Mapping[str, Counts], scores: Mapping[str, object], tolerance: float = 1e-6) -> None:
    """Raise unless each ``counts[key]`` sums to the scorer's ``scores[key + "_f"]``.

    Cross-fitting is only as right as the counts it resamples; a benchmark checks them
    against the scores of the same examples before using them.
    """
    for key, array in counts.items():
        if abs(micro_f(array) - float(scores[f"{key}_f"])) > tolerance:
            raise AssertionError(f"{key}: per-document counts give {micro_f(array)}, the scorer {scores[f'{key}_f']}")


__all__ = ["cats_counts", "check_against_scores", "entity_counts", "gold_mention_counts", "mention_counts", "relation_counts", "set_counts"]
