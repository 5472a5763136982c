"""Relation-type thresholds: the grid search, cross-fitting, and the tune-thresholds flow."""
import inspect

import numpy
import pytest
import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.evaluate import predict_and_score
from nerel_spacy.thresholds import (
    DEFAULT_MIN_POSITIVES,
    best_threshold,
    cats_gold_and_scores,
    cross_fitted_predictions,
    f1_at,
    score_at,
    tune_model_thresholds,
    tune_pipeline_thresholds,
    tune_thresholds,
)

from package_helpers import train_tiny_pipeline
from quantize_helpers import save_gold_corpus


def test_f1_at():
    gold = numpy.array([1, 1, 0, 0])
    scores = numpy.array([0.9, 0.4, 0.6, 0.1])
    assert f1_at(gold, scores, 0.5) == (0.5, 1, 1, 1)
    assert f1_at(gold, scores, 0.35)[0] == pytest.approx(0.8)


def test_f1_at_gives_the_closed_form_up_to_rounding():
    rng = numpy.random.default_rng(2)
    for _ in range(50):
        gold = rng.random(40) < 0.3
        scores = rng.random(40)
        f1, tp, fp, fn = f1_at(gold, scores, 0.4)
        assert f1 == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp else 0.0, abs=1e-15)


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


# --- the tune-thresholds flow on a tiny trained pipeline ------------------------------

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    return train_tiny_pipeline(root / "model"), save_gold_corpus(root / "dev.spacy", copies=2)


def test_the_cli_default_min_positives_is_the_librarys():
    from nerel_spacy.cli.tune import tune_thresholds_command

    defaults = inspect.signature(tune_thresholds_command).parameters
    assert defaults["min_positives"].default.default == DEFAULT_MIN_POSITIVES == 50
    assert inspect.signature(tune_thresholds).parameters["min_positives"].default == DEFAULT_MIN_POSITIVES


def test_tune_pipeline_starts_from_the_components_thresholds(tiny_model):
    model, data = tiny_model
    nlp = spacy.load(model)
    pipe = nlp.get_pipe("nerel_joint")
    pipe.set_thresholds({pipe.cats_labels[0]: 0.9})
    gold_docs = read_corpus(data, nlp.vocab)
    own_scores, _ = predict_and_score(nlp, gold_docs)  # the component scores at its cats_thresholds
    result = tune_pipeline_thresholds(nlp, gold_docs, min_positives=1, folds=2)
    for key in ("cats_micro_p", "cats_micro_r", "cats_micro_f", "cats_macro_f"):
        assert result.before[key] == own_scores[key]
    assert pipe.cats_thresholds == result.thresholds and set(result.thresholds) == set(pipe.cats_labels)
    assert result.cross_fitted is not None and result.n_docs == 6 and result.folds == 2
    gold, scores = cats_gold_and_scores(nlp, gold_docs, result.labels)
    assert result.after == score_at(gold, scores, result.thresholds, result.labels)


@pytest.mark.slow
def test_tune_model_saves_to_output_and_checks_its_arguments(tiny_model, tmp_path):
    model, data = tiny_model
    result = tune_model_thresholds(model, data.parent, tmp_path / "tuned", min_positives=1, folds=0)
    assert result.cross_fitted is None and result.destination == tmp_path / "tuned"
    assert spacy.load(tmp_path / "tuned").get_pipe("nerel_joint").cats_thresholds == result.thresholds
    with pytest.raises(ValueError, match="--folds must be 0 or between 2 and 6"):
        tune_model_thresholds(model, data, tmp_path / "x", folds=7)
    with pytest.raises(ValueError, match="no 'joint' nerel_joint component"):
        tune_model_thresholds(model, data, tmp_path / "x", component="joint")
    with pytest.raises(FileNotFoundError, match="nerel-batch convert"):
        tune_model_thresholds(model, tmp_path / "none.spacy")


def fake_pipeline(path):
    path.mkdir(parents=True)
    (path / "config.cfg").write_text("[nlp]\n")
    return path


@pytest.mark.parametrize("output, message", [
    ("run", "holds MODEL"), ("run/model-best/tuned", "inside MODEL"), ("afile", "is a file"),
])
def test_tune_refuses_an_output_that_would_delete_the_model_or_is_a_file(tmp_path, output, message):
    from typer.testing import CliRunner

    from nerel_spacy.cli import app

    model = fake_pipeline(tmp_path / "run" / "model-best")
    (tmp_path / "afile").write_text("keep me")
    with pytest.raises(ValueError, match=message):
        tune_model_thresholds(model, tmp_path / "dev.spacy", tmp_path / output)
    result = CliRunner().invoke(app, ["tune-thresholds", str(model), str(tmp_path / "dev.spacy"),
                                      "-o", str(tmp_path / output)])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (model / "config.cfg").read_text() == "[nlp]\n" and (tmp_path / "afile").read_text() == "keep me"


@pytest.mark.slow
def test_an_in_place_tune_cut_short_by_a_full_disk_leaves_the_model_as_it_was(tiny_model, tmp_path, monkeypatch):
    import shutil

    from spacy.language import Language

    model, data = tiny_model
    model = shutil.copytree(model, tmp_path / "model")
    (model / "retrain_relations.json").write_text("{}")  # beside the pipeline: kept by an in-place write
    before = {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    to_disk = Language.to_disk

    def disk_full(nlp, path, **kwargs):
        to_disk(nlp, path, **kwargs)
        (path / "nerel_joint" / "model").write_bytes(b"")  # the write stopped half way
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Language, "to_disk", disk_full)
    with pytest.raises(OSError, match="No space"):
        tune_model_thresholds(model, data, min_positives=1, folds=0)
    assert {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    monkeypatch.undo()
    result = tune_model_thresholds(model, data, min_positives=1, folds=0)
    assert result.destination == model and (model / "retrain_relations.json").read_text() == "{}"
    assert spacy.load(model).get_pipe("nerel_joint").cats_thresholds == result.thresholds
