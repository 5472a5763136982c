"""Scores for the joint component: entities, the seqeval metric, and relation types.

``nerel.joint_scorer.v1`` is what ``spacy train`` and ``spacy evaluate`` call. It
reports spaCy's ``ents_*`` (exact flat spans), seqeval's entity F1 over BIO tags
(the reference notebook's metric), and multi-label ``cats_*`` with per-label
thresholds, which spaCy's own ``score_cats`` cannot take.
"""
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy
from seqeval.metrics import f1_score, precision_score, recall_score
from spacy.scorer import Scorer
from spacy.training import Example
from spacy.util import registry

from .bio import OUTSIDE, biluo_to_bio


def doc_bio_tags(doc) -> List[str]:
    """The flat ``doc.ents`` as IOB2 tags, one per token."""
    tags = []
    for token in doc:
        if token.ent_iob_ in ("B", "I") and token.ent_type_:
            tags.append(f"{token.ent_iob_}-{token.ent_type_}")
        else:
            tags.append(OUTSIDE)
    return tags


def score_seqeval(examples: Iterable[Example]) -> Dict[str, float]:
    """seqeval's entity-level P/R/F over BIO tags of the flat entities, on predicted tokens."""
    gold_sequences, pred_sequences = [], []
    for eg in examples:
        gold = [biluo_to_bio(tag) or OUTSIDE for tag in eg.get_aligned_ner()]
        gold_sequences.append(gold)
        pred_sequences.append(doc_bio_tags(eg.predicted))
    if not any(gold_sequences) and not any(pred_sequences):
        return {"seqeval_p": 0.0, "seqeval_r": 0.0, "seqeval_f": 0.0}
    return {
        "seqeval_p": float(precision_score(gold_sequences, pred_sequences, zero_division=0)),
        "seqeval_r": float(recall_score(gold_sequences, pred_sequences, zero_division=0)),
        "seqeval_f": float(f1_score(gold_sequences, pred_sequences, zero_division=0)),
    }


def _prf(tp: float, fp: float, fn: float) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def multilabel_prf(
    gold: numpy.ndarray, scores: numpy.ndarray, thresholds: numpy.ndarray, labels: Sequence[str]
) -> Dict[str, object]:
    """Micro and macro P/R/F and per-label P/R/F of ``scores >= thresholds`` against 0/1 ``gold``.

    ``gold`` and ``scores`` are (n_docs, n_labels); ``thresholds`` is (n_labels,).
    A label with no gold and no predicted positive counts as F = 1 in the macro average
    would be generous; we leave such labels out of the macro mean instead.
    """
    gold = numpy.asarray(gold, dtype=bool)
    predicted = numpy.asarray(scores) >= numpy.asarray(thresholds)[None, :]
    tp = (gold & predicted).sum(axis=0).astype(float)
    fp = (~gold & predicted).sum(axis=0).astype(float)
    fn = (gold & ~predicted).sum(axis=0).astype(float)
    micro = _prf(tp.sum(), fp.sum(), fn.sum())
    per_label = {label: _prf(tp[i], fp[i], fn[i]) for i, label in enumerate(labels)}
    active = [i for i in range(len(labels)) if tp[i] + fp[i] + fn[i] > 0]
    macro = {
        key: float(numpy.mean([per_label[labels[i]][key] for i in active])) if active else 0.0
        for key in ("p", "r", "f")
    }
    return {
        "cats_micro_p": micro["p"],
        "cats_micro_r": micro["r"],
        "cats_micro_f": micro["f"],
        "cats_macro_p": macro["p"],
        "cats_macro_r": macro["r"],
        "cats_macro_f": macro["f"],
        "cats_f_per_type": per_label,
    }


def cats_arrays(
    examples: Iterable[Example], labels: Sequence[str]
) -> "tuple[numpy.ndarray, numpy.ndarray]":
    """Gold 0/1 and predicted scores as (n_docs, n_labels) arrays, in ``labels`` order."""
    gold_rows, score_rows = [], []
    for eg in examples:
        gold_rows.append([float(eg.reference.cats.get(label, 0.0)) for label in labels])
        score_rows.append([float(eg.predicted.cats.get(label, 0.0)) for label in labels])
    shape = (len(gold_rows), len(labels))
    return (
        numpy.asarray(gold_rows, dtype="float32").reshape(shape),
        numpy.asarray(score_rows, dtype="float32").reshape(shape),
    )


def score_joint(
    examples: Iterable[Example],
    *,
    cats_labels: Sequence[str] = (),
    thresholds: Optional[Mapping[str, float]] = None,
    threshold: float = 0.5,
    **kwargs,
) -> Dict[str, object]:
    """All scores of the joint component on ``examples`` (predicted vs. reference docs)."""
    examples = list(examples)
    scores: Dict[str, object] = {}
    scores.update(Scorer.score_spans(examples, "ents", **kwargs))
    scores.update(score_seqeval(examples))
    labels = list(cats_labels)
    if labels:
        gold, predicted = cats_arrays(examples, labels)
        thresholds = thresholds or {}
        label_thresholds = numpy.asarray([thresholds.get(lab, threshold) for lab in labels])
        scores.update(multilabel_prf(gold, predicted, label_thresholds, labels))
        scores["cats_score"] = scores["cats_micro_f"]
        scores["cats_score_desc"] = "micro F"  # what `spacy evaluate` prints next to TEXTCAT
    return scores


@registry.scorers("nerel.joint_scorer.v1")
def make_joint_scorer():
    return score_joint


# NEREL types that natasha's PER/LOC/ORG tagger covers, for a like-for-like comparison.
NATASHA_MAPPING: Dict[str, str] = {
    "PERSON": "PER",
    "ORGANIZATION": "ORG",
    "CITY": "LOC",
    "COUNTRY": "LOC",
    "STATE_OR_PROVINCE": "LOC",
    "LOCATION": "LOC",
    "DISTRICT": "LOC",
}

def map_char_spans(spans: Iterable, mapping: Mapping[str, str]) -> set:
    """``(start_char, end_char, mapped_label)`` for each span whose label is in ``mapping``."""
    return {
        (span.start_char, span.end_char, mapping[span.label_])
        for span in spans
        if span.label_ in mapping
    }


def score_char_spans(gold: Sequence[set], predicted: Sequence[set]) -> Dict[str, object]:
    """Micro P/R/F and per-label P/R/F of exact ``(start, end, label)`` matches, doc by doc."""
    labels = sorted({s[2] for doc in list(gold) + list(predicted) for s in doc})
    tp = {label: 0 for label in labels}
    fp = dict(tp)
    fn = dict(tp)
    for gold_spans, predicted_spans in zip(gold, predicted):
        for span in predicted_spans:
            (tp if span in gold_spans else fp)[span[2]] += 1
        for span in gold_spans - predicted_spans:
            fn[span[2]] += 1
    micro = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return {
        "p": micro["p"],
        "r": micro["r"],
        "f": micro["f"],
        "per_type": {label: _prf(tp[label], fp[label], fn[label]) for label in labels},
    }


def score_natasha_mapping(
    examples: Iterable[Example], spans_key: str = "nerel", mapping: Mapping[str, str] = NATASHA_MAPPING
) -> Dict[str, object]:
    """PER/LOC/ORG scores: predicted ``doc.ents`` mapped by ``mapping``, against ALL gold spans
    of the mapped types (nested ones included) at exact character offsets."""
    gold, predicted = [], []
    for eg in examples:
        reference = eg.reference
        gold_spans = reference.spans[spans_key] if spans_key in reference.spans else reference.ents
        gold.append(map_char_spans(gold_spans, mapping))
        predicted.append(map_char_spans(eg.predicted.ents, mapping))
    return score_char_spans(gold, predicted)
