"""Relation-type thresholds tuned on held-out data.

One global threshold is tuned first; labels with enough positive documents then get
their own. Rare labels keep the global one: with three positives, a per-label
threshold fits noise. The search is over the observed scores, so it is exact.
"""
from typing import Dict, List, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from .scoring import cats_arrays, multilabel_prf

DEFAULT_GRID = tuple(numpy.round(numpy.arange(0.05, 0.96, 0.05), 2))


def f1_at(gold: numpy.ndarray, scores: numpy.ndarray, threshold: float) -> Tuple[float, int, int, int]:
    """F1 and (tp, fp, fn) of ``scores >= threshold`` against 0/1 ``gold`` (any shape)."""
    predicted = scores >= threshold
    gold = gold.astype(bool)
    tp = int((predicted & gold).sum())
    fp = int((predicted & ~gold).sum())
    fn = int((~predicted & gold).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return f1, tp, fp, fn


def best_threshold(
    gold: numpy.ndarray, scores: numpy.ndarray, grid: Sequence[float] = DEFAULT_GRID
) -> Tuple[float, float]:
    """The grid threshold with the highest F1 (ties go to the one nearest 0.5); ``(t, f1)``."""
    best = (0.5, -1.0)
    for threshold in grid:
        f1 = f1_at(gold, scores, threshold)[0]
        if f1 > best[1] + 1e-12 or (
            abs(f1 - best[1]) <= 1e-12 and abs(threshold - 0.5) < abs(best[0] - 0.5)
        ):
            best = (float(threshold), f1)
    return best


def tune_thresholds(
    gold: numpy.ndarray,
    scores: numpy.ndarray,
    labels: Sequence[str],
    min_positives: int = 5,
    grid: Sequence[float] = DEFAULT_GRID,
) -> Dict[str, float]:
    """Per-label thresholds maximising micro-F1's parts: global first, then labels with
    at least ``min_positives`` gold documents get their own best threshold."""
    gold = numpy.asarray(gold, dtype=bool)
    scores = numpy.asarray(scores, dtype="float64")
    global_threshold, _ = best_threshold(gold, scores, grid)
    thresholds = {}
    for j, label in enumerate(labels):
        if gold[:, j].sum() >= min_positives:
            thresholds[label] = best_threshold(gold[:, j], scores[:, j], grid)[0]
        else:
            thresholds[label] = global_threshold
    return thresholds


def cross_fitted_predictions(
    gold: numpy.ndarray,
    scores: numpy.ndarray,
    labels: Sequence[str],
    n_folds: int = 5,
    seed: int = 0,
    min_positives: int = 5,
    grid: Sequence[float] = DEFAULT_GRID,
) -> numpy.ndarray:
    """0/1 predictions where each document is thresholded by values tuned on the other folds.

    Scoring these against ``gold`` estimates what tuned thresholds give on unseen data:
    tuning and scoring on the same documents overstates it.
    """
    gold = numpy.asarray(gold, dtype=bool)
    scores = numpy.asarray(scores, dtype="float64")
    n_docs = gold.shape[0]
    if not 2 <= n_folds <= n_docs:
        raise ValueError(f"n_folds must be between 2 and the number of documents ({n_docs}), got {n_folds}")
    order = numpy.random.default_rng(seed).permutation(n_docs)
    predicted = numpy.zeros_like(gold)
    for held_out in numpy.array_split(order, n_folds):
        tuning = numpy.setdiff1d(order, held_out)
        thresholds = tune_thresholds(gold[tuning], scores[tuning], labels, min_positives, grid)
        row = numpy.array([thresholds[label] for label in labels])
        predicted[held_out] = scores[held_out] >= row[None, :]
    return predicted


def score_cross_fitted(
    gold: numpy.ndarray,
    scores: numpy.ndarray,
    labels: Sequence[str],
    n_folds: int = 5,
    seed: int = 0,
    min_positives: int = 5,
) -> Dict[str, object]:
    """``multilabel_prf`` of :func:`cross_fitted_predictions`: the tuned scores to expect on unseen data."""
    predicted = cross_fitted_predictions(gold, scores, labels, n_folds, seed, min_positives)
    return multilabel_prf(gold, predicted.astype(float), numpy.full(len(labels), 0.5), labels)


def cats_gold_and_scores(
    nlp: Language, gold_docs: List[Doc], labels: Sequence[str], batch_size: int = 16
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Run ``nlp`` on the texts of ``gold_docs``: 0/1 gold and predicted scores, (n_docs, n_labels)."""
    predicted = nlp.pipe((doc.text for doc in gold_docs), batch_size=batch_size)
    return cats_arrays([Example(p, g) for p, g in zip(predicted, gold_docs)], labels)
