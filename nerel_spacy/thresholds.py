"""Relation-type thresholds tuned on held-out data.

One global threshold is tuned first; labels with enough positive documents then get
their own. Rare labels keep the global one: with three positives, a per-label
threshold fits noise. Each search is over a fixed grid of thresholds (``DEFAULT_GRID``),
not over every observed score.

``tune_model_thresholds`` is the whole ``nerel-batch tune-thresholds`` flow: load,
annotate the held-out data, tune, estimate the tuned scores on unseen data by
cross-fitting, and save the thresholds in the pipeline.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
from spacy.language import Language
from spacy.scorer import PRFScore
from spacy.tokens import Doc

from .corpus import find_split_file, read_corpus
from .output_folders import pipeline_write_clash, staged_update
from .evaluate import predict_and_score
from .scoring import cats_arrays, multilabel_prf

DEFAULT_GRID = tuple(numpy.round(numpy.arange(0.05, 0.96, 0.05), 2))
# Labels with fewer positive documents keep the global threshold. On NEREL's 94 dev
# documents, per-label thresholds for rarer labels fit noise (benchmarks/thresholds.py).
DEFAULT_MIN_POSITIVES = 50
DEFAULT_FOLDS = 5
PathLike = Union[str, Path]


def f1_at(gold: numpy.ndarray, scores: numpy.ndarray, threshold: float) -> Tuple[float, int, int, int]:
    """F1 and (tp, fp, fn) of ``scores >= threshold`` against 0/1 ``gold`` (any shape)."""
    predicted = scores >= threshold
    gold = gold.astype(bool)
    counts = PRFScore(
        tp=int((predicted & gold).sum()),
        fp=int((predicted & ~gold).sum()),
        fn=int((~predicted & gold).sum()),
    )
    return counts.fscore, counts.tp, counts.fp, counts.fn


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
    min_positives: int = DEFAULT_MIN_POSITIVES,
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
    n_folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    min_positives: int = DEFAULT_MIN_POSITIVES,
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
    n_folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    min_positives: int = DEFAULT_MIN_POSITIVES,
) -> Dict[str, object]:
    """``multilabel_prf`` of :func:`cross_fitted_predictions`: the tuned scores to expect on unseen data."""
    predicted = cross_fitted_predictions(gold, scores, labels, n_folds, seed, min_positives)
    return multilabel_prf(gold, predicted.astype(float), numpy.full(len(labels), 0.5), labels)


def cats_gold_and_scores(
    nlp: Language, gold_docs: List[Doc], labels: Sequence[str], batch_size: int = 16
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Run ``nlp`` on the texts of ``gold_docs``: 0/1 gold and predicted scores, (n_docs, n_labels)."""
    _, examples = predict_and_score(nlp, gold_docs, batch_size=batch_size)
    return cats_arrays(examples, labels)


def score_at(
    gold: numpy.ndarray, scores: numpy.ndarray, thresholds: Dict[str, float], labels: Sequence[str]
) -> Dict[str, object]:
    """``multilabel_prf`` with a complete label -> threshold mapping."""
    return multilabel_prf(gold, scores, numpy.array([thresholds[label] for label in labels]), labels)


@dataclass
class ThresholdTuning:
    """What tuning did: the thresholds, and micro/macro cats scores before and after."""

    labels: List[str]
    thresholds: Dict[str, float]
    # At the pipeline's own thresholds (its component's ``cats_thresholds``).
    before: Dict[str, object]
    # At the tuned thresholds, on the documents they were tuned on: optimistic.
    after: Dict[str, object]
    # Each fold thresholded by values tuned on the others: what to expect on unseen data.
    cross_fitted: Optional[Dict[str, object]]
    folds: int
    n_docs: int
    destination: Optional[Path] = None

    @property
    def fits_noise(self) -> bool:
        """True when the cross-fitted micro F is below the untuned one."""
        return (
            self.cross_fitted is not None
            and self.cross_fitted["cats_micro_f"] < self.before["cats_micro_f"]
        )


def joint_component(nlp: Language, component: str = "nerel_joint", model: object = None):
    """The pipeline's ``nerel_joint`` component called ``component``, else a ValueError."""
    if component not in nlp.pipe_names or not hasattr(nlp.get_pipe(component), "set_thresholds"):
        where = model if model is not None else "the pipeline"
        raise ValueError(f"{where} has no '{component}' nerel_joint component.")
    return nlp.get_pipe(component)


def tune_pipeline_thresholds(
    nlp: Language,
    gold_docs: List[Doc],
    *,
    component: str = "nerel_joint",
    min_positives: int = DEFAULT_MIN_POSITIVES,
    folds: int = DEFAULT_FOLDS,
    batch_size: int = 16,
) -> ThresholdTuning:
    """Tune ``nlp``'s relation-type thresholds on ``gold_docs`` and set them on the component.

    ``folds`` = 0 skips the cross-fitted estimate.
    """
    pipe = joint_component(nlp, component)
    if folds and not 2 <= folds <= len(gold_docs):
        raise ValueError(
            f"--folds must be 0 or between 2 and {len(gold_docs)} (the documents to tune on)."
        )
    labels = list(pipe.cats_labels)
    gold, scores = cats_gold_and_scores(nlp, gold_docs, labels, batch_size=batch_size)
    thresholds = tune_thresholds(gold, scores, labels, min_positives=min_positives)
    before = score_at(gold, scores, pipe.cats_thresholds, labels)
    cross_fitted = (
        score_cross_fitted(gold, scores, labels, n_folds=folds, min_positives=min_positives)
        if folds else None
    )
    pipe.set_thresholds(thresholds)
    return ThresholdTuning(
        labels=labels,
        thresholds=thresholds,
        before=before,
        after=score_at(gold, scores, thresholds, labels),
        cross_fitted=cross_fitted,
        folds=folds,
        n_docs=len(gold_docs),
    )


def tune_model_thresholds(
    model: PathLike,
    data: PathLike,
    output: Optional[PathLike] = None,
    *,
    component: str = "nerel_joint",
    min_positives: int = DEFAULT_MIN_POSITIVES,
    folds: int = DEFAULT_FOLDS,
    batch_size: int = 16,
) -> ThresholdTuning:
    """Load the pipeline at ``model``, tune it on ``data`` and save it to ``output`` (default: ``model``).

    ``data`` is a ``.spacy`` file, or a corpus folder whose ``dev.spacy`` is used.
    Raises ``FileNotFoundError`` or ``OSError`` for missing files and ``ValueError``
    for a pipeline without the component, a bad ``folds``, or an ``output`` that is a file,
    holds ``model`` or lies inside it (``output`` = ``model`` is the in-place update). The
    pipeline is written beside ``output`` first and swapped in once complete, so a failed
    write (a full disk) leaves the earlier pipeline as it was.
    """

    destination = Path(output if output is not None else model)
    clash = pipeline_write_clash(model, destination, in_place=True)
    if clash:
        raise ValueError(clash)
    data = find_split_file(data, "dev")
    nlp = spacy.load(model)
    joint_component(nlp, component, model)
    gold_docs = read_corpus(data, nlp.vocab)
    result = tune_pipeline_thresholds(
        nlp, gold_docs, component=component, min_positives=min_positives, folds=folds,
        batch_size=batch_size,
    )
    result.destination = destination
    with staged_update(destination) as staging:
        nlp.to_disk(staging)
    return result
