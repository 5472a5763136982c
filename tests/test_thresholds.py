import numpy
import pytest

from nerel_spacy.thresholds import best_threshold, cross_fitted_predictions, f1_at, tune_thresholds


def test_f1_at():
    gold = numpy.array([1, 1, 0, 0])
    scores = numpy.array([0.9, 0.4, 0.6, 0.1])
    assert f1_at(gold, scores, 0.5) == (0.5, 1, 1, 1)
    assert f1_at(gold, scores, 0.35)[0] == pytest.approx(0.8)


def test_best_threshold_prefers_values_near_half_on_ties():
    gold = numpy.array([1, 0])
    scores = numpy.array([0.9, 0.1])
    threshold, f1 = best_threshold(gold, scores)
    assert f1 == 1.0 and threshold == 0.5


def test_rare_labels_keep_the_global_threshold():
    rng = numpy.random.default_rng(0)
    gold = numpy.zeros((40, 2), dtype=bool)
    gold[:20, 0] = True  # frequent label: positives score ~0.3, negatives ~0.1
    gold[0, 1] = True    # rare label
    scores = numpy.where(gold, 0.3, 0.1) + rng.normal(scale=0.01, size=gold.shape)
    thresholds = tune_thresholds(gold, scores, ["FREQ", "RARE"], min_positives=5)
    assert 0.1 < thresholds["FREQ"] <= 0.3
    assert thresholds["RARE"] == best_threshold(gold, scores)[0]


def test_cross_fitted_predictions_threshold_each_fold_with_values_tuned_elsewhere():
    # Positives score 0.3, negatives 0.1: any fold's tuning finds a threshold in
    # (0.1, 0.3], so every document is classified correctly.
    gold = numpy.zeros((20, 1), dtype=bool)
    gold[::2, 0] = True
    scores = numpy.where(gold, 0.3, 0.1)
    predicted = cross_fitted_predictions(gold, scores, ["A"], n_folds=4)
    assert (predicted == gold).all()


def test_cross_fitting_is_less_optimistic_than_tuning_on_the_same_documents():
    # Pure noise: tuning on the scored documents finds a lucky threshold; cross-fitting cannot.
    rng = numpy.random.default_rng(1)
    gold = rng.random((200, 3)) < 0.3
    scores = rng.random((200, 3))
    labels = ["A", "B", "C"]
    tuned = tune_thresholds(gold, scores, labels)
    in_sample = f1_at(gold, scores, numpy.array([tuned[label] for label in labels])[None, :])[0]
    predicted = cross_fitted_predictions(gold, scores, labels, n_folds=5)
    cross_fitted = f1_at(gold, predicted.astype(float), 0.5)[0]
    assert cross_fitted < in_sample


def test_cross_fitting_needs_at_least_two_folds():
    with pytest.raises(ValueError, match="n_folds"):
        cross_fitted_predictions(numpy.zeros((3, 1)), numpy.zeros((3, 1)), ["A"], n_folds=1)
