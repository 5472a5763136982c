import numpy
import pytest

from nerel_spacy.cross_fitting import (
    best_option, bootstrap_interval, choice_report, counts_rows, cross_fitted_choice, micro_f, paired_bootstrap,
)


def test_micro_f_sums_documents_before_dividing():
    assert micro_f(counts_rows([(2, 1, 1)])) == pytest.approx(4 / 6)
    # 1 tp + 3 fp in one doc and 3 tp + 1 fn in another: 8 / (8 + 3 + 1)
    assert micro_f(counts_rows([(1, 3, 0), (3, 0, 1)])) == pytest.approx(8 / 12)
    assert micro_f(counts_rows([(0, 0, 0)])) == 0.0


def test_best_option_breaks_ties_towards_the_first_option():
    same = counts_rows([(1, 1, 0)])
    assert best_option({"shipped": same, "other": same.copy()}, numpy.array([0])) == "shipped"
    assert best_option({"shipped": same, "other": counts_rows([(1, 0, 0)])}, numpy.array([0])) == "other"


def test_leave_one_out_scores_each_document_with_the_choice_of_the_others():
    # Docs 0 and 1 favour A, doc 2 favours B.
    a = counts_rows([(5, 0, 0), (5, 0, 0), (0, 0, 5)])
    b = counts_rows([(0, 0, 5), (0, 0, 5), (5, 0, 0)])
    result = cross_fitted_choice({"A": a, "B": b}, n_folds=3)
    # Holding out doc 0 (or 1), A and B tie on the others at 10/15 and A, listed first,
    # wins; holding out doc 2, A scores 1.0 on the others. Every doc is scored with A:
    # 10 tp and 5 fn.
    assert result["choices"] == ["A", "A", "A"]
    assert result["f"] == pytest.approx(20 / 25)
    assert result["p"] == 1.0 and result["r"] == pytest.approx(10 / 15)
    assert result["chosen_on_all"] == "A" and result["chosen_on_all_f"] == pytest.approx(0.8)


def test_cross_fitting_is_below_the_in_sample_best_when_the_choice_fits_noise():
    # Each document is won by a different option: the in-sample best looks perfect on
    # the doc it won but the choice made without that doc scores it at zero.
    options = {
        name: counts_rows([(4, 0, 0) if doc == k else (0, 0, 1) for doc in range(4)])
        for k, name in enumerate("ABCD")
    }
    result = cross_fitted_choice(options, n_folds=4)
    assert result["chosen_on_all_f"] == pytest.approx(8 / 11)
    assert result["f"] < result["chosen_on_all_f"]


def test_cross_fitting_rejects_bad_folds_and_shapes():
    a = counts_rows([(1, 0, 0), (1, 0, 0)])
    with pytest.raises(ValueError, match="n_folds"):
        cross_fitted_choice({"A": a}, n_folds=3)
    with pytest.raises(ValueError, match="tp, fp, fn"):
        cross_fitted_choice({"A": a, "B": numpy.zeros((3, 3))}, n_folds=2)
    with pytest.raises(ValueError, match="no options"):
        cross_fitted_choice({}, n_folds=2)


def test_paired_bootstrap_of_identical_options_finds_no_gain():
    counts = counts_rows([(3, 1, 2), (0, 2, 1), (5, 0, 0)])
    result = paired_bootstrap(counts, counts.copy(), n_resamples=200)
    assert result["gain"] == 0.0 and result["low"] == 0.0 and result["high"] == 0.0
    assert result["p_better"] == 0.0


def test_paired_bootstrap_of_an_option_better_on_every_document():
    base = counts_rows([(1, 1, 1)] * 5)
    other = counts_rows([(2, 0, 0)] * 5)
    result = paired_bootstrap(base, other, n_resamples=200)
    # Every resample holds only identical documents: F is 1.0 against 0.5 each time.
    assert result["gain"] == pytest.approx(0.5)
    assert result["low"] == pytest.approx(0.5) and result["high"] == pytest.approx(0.5)
    assert result["p_better"] == 1.0


def test_choice_report_lets_the_shipped_option_win_ties_and_compares_the_best_with_it():
    tie = counts_rows([(1, 1, 0)] * 5)
    # Listed after its tie, the shipped option still wins: nothing to gain.
    report = choice_report({"other": tie, "shipped": tie.copy()}, "shipped")
    assert report["cross_fitted"]["choices"] == ["shipped"] * 5
    assert report["bootstrap_best_vs_shipped"]["gain"] == 0.0
    better = counts_rows([(2, 0, 0)] * 5)
    report = choice_report({"shipped": tie, "better": better}, "shipped")
    assert report["shipped_f"] == pytest.approx(round(2 / 3, 4))
    assert report["cross_fitted"]["f"] == 1.0 and report["cross_fitted"]["chosen_on_all"] == "better"
    assert report["bootstrap_best_vs_shipped"]["gain"] == pytest.approx(round(1 / 3, 4))
    with pytest.raises(ValueError, match="not among"):
        choice_report({"a": tie}, "b")


def test_bootstrap_interval_of_identical_documents_has_no_spread():
    result = bootstrap_interval(counts_rows([(1, 1, 1)] * 6), n_resamples=100, target=0.5)
    assert result["f"] == result["low"] == result["high"] == pytest.approx(0.5)
    assert result["p_reached"] == 1.0  # 0.5 reaches a target of 0.5
    assert bootstrap_interval(counts_rows([(1, 1, 1)] * 6), n_resamples=100, target=0.51)["p_reached"] == 0.0


def test_bootstrap_interval_brackets_the_score_and_matches_the_paired_resamples():
    counts = counts_rows([(9, 1, 0), (0, 3, 4), (5, 2, 2), (7, 0, 1), (1, 4, 0)])
    result = bootstrap_interval(counts, n_resamples=500, seed=3, target=micro_f(counts))
    assert result["low"] < result["f"] < result["high"]
    assert 0.0 < result["p_reached"] < 1.0
    # the gain of a paired bootstrap against a constant-F option is this interval, shifted
    constant = counts_rows([(1, 1, 1)] * 5)
    gain = paired_bootstrap(constant, counts, n_resamples=500, seed=3)
    assert gain["low"] == pytest.approx(result["low"] - 0.5) and gain["high"] == pytest.approx(result["high"] - 0.5)
    with pytest.raises(ValueError, match="tp, fp, fn"):
        bootstrap_interval(numpy.zeros((3, 2)))
