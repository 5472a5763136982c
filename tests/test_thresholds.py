import numpy
import pytest

from nerel_spacy.thresholds import best_threshold, f1_at, tune_thresholds


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
