"""Scores for the joint component: entities, the seqeval metric, and relation types.

``nerel.joint_scorer.v1`` is what ``spacy train`` and ``spacy evaluate`` call. It
reports spaCy's ``ents_*`` (exact flat spans), seqeval's entity F1 over BIO tags
(the reference notebook's metric), and multi-label ``cats_*`` with per-label
thresholds, which spaCy's own ``score_cats`` cannot take.
"""
from collections import defaultdict
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy
from spacy.scorer import PRFScore, Scorer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.iob_utils import biluo_to_iob, doc_to_biluo_tags
from spacy.util import registry

from .bio import OUTSIDE
from .seqeval_metric import entity_prf

# What ``Example.get_aligned_ner`` gives a token whose gold tag is unknown.
_MISSING_TAGS = (None, "", "-")


def doc_bio_tags(doc: Doc) -> List[str]:
    """The flat ``doc.ents`` as IOB2 tags, one per token."""
    return biluo_to_iob(doc_to_biluo_tags(doc))


def score_seqeval(examples: Iterable[Example]) -> Dict[str, float]:
    """seqeval's entity-level P/R/F over BIO tags of the flat entities, on predicted tokens
    (``seqeval_metric``, the same numbers as the seqeval package).

    Gold tokens whose tag is unknown (misaligned tokenization) count as ``O``.
    """
    gold_sequences, pred_sequences = [], []
    for eg in examples:
        gold = [OUTSIDE if tag in _MISSING_TAGS else tag for tag in biluo_to_iob(eg.get_aligned_ner())]
        gold_sequences.append(gold)
        pred_sequences.append(doc_bio_tags(eg.predicted))
    precision, recall, f1 = entity_prf(gold_sequences, pred_sequences)
    return {"seqeval_p": precision, "seqeval_r": recall, "seqeval_f": f1}


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
    micro = PRFScore(tp=tp.sum(), fp=fp.sum(), fn=fn.sum()).to_dict()
    per_label = {
        label: PRFScore(tp=tp[i], fp=fp[i], fn=fn[i]).to_dict() for i, label in enumerate(labels)
    }
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
    """All scores of the joint component on ``examples`` (predicted vs. reference docs).

    ``thresholds``: the relation-type threshold for each label, complete as the
    component's ``cats_thresholds`` gives it; ``threshold`` is the fallback for a label
    not in it. ``cats_labels`` defaults to the labels of ``thresholds``.
    """
    examples = list(examples)
    scores: Dict[str, object] = {}
    scores.update(Scorer.score_spans(examples, "ents", **kwargs))
    scores.update(score_seqeval(examples))
    labels = list(cats_labels) or list(thresholds or {})
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
    micro = PRFScore()
    per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    for gold_spans, predicted_spans in zip(gold, predicted):
        micro.score_set(set(predicted_spans), set(gold_spans))
        for label in {span[2] for span in gold_spans} | {span[2] for span in predicted_spans}:
            per_type[label].score_set(
                {span for span in predicted_spans if span[2] == label},
                {span for span in gold_spans if span[2] == label},
            )
    return {
        **micro.to_dict(),
        "per_type": {label: per_type[label].to_dict() for label in sorted(per_type)},
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
