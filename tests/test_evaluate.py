"""nerel-batch evaluate: a corpus folder's held-out splits (or those named) are scored and written as JSON."""
import json

import pytest
import spacy
from spacy.scorer import Scorer
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.cli.evaluate import ROWS
from nerel_spacy.corpus import read_corpus
from nerel_spacy.evaluate import evaluate_model, predict_and_score

from conftest import unwrapped
from package_helpers import train_tiny_pipeline
from quantize_helpers import save_gold_corpus


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    path = train_tiny_pipeline(root / "model")
    corpus = root / "corpus"
    corpus.mkdir()
    for split in ("dev", "test", "train"):
        save_gold_corpus(corpus / f"{split}.spacy")
    return path, corpus


def test_predict_and_score_returns_spacys_scores_and_the_examples(trained_model):
    model, corpus = trained_model
    nlp = spacy.load(model)
    gold = read_corpus(corpus / "dev.spacy", nlp.vocab)
    scores, examples = predict_and_score(nlp, gold, batch_size=2)
    assert [eg.reference for eg in examples] == gold
    assert [eg.predicted.text for eg in examples] == [doc.text for doc in gold]
    assert all(eg.predicted.ents for eg in examples)  # the pipeline ran
    assert {key: scores[key] for key in Scorer(nlp).score(examples)} == Scorer(nlp).score(examples)
    assert scores["natasha_mapping"]["f"] == 1.0
    assert scores["speed"]["docs"] == len(gold) and scores["speed"]["tokens_per_second"] > 0


def test_evaluate_model_scores_each_split(trained_model, tmp_path):
    model, corpus = trained_model
    results = evaluate_model(model, corpus, output_dir=tmp_path / "metrics")
    assert set(results) == {"dev", "test"}
    dev = json.loads((tmp_path / "metrics" / "dev.json").read_text())
    assert dev["seqeval_f"] == 1.0 and dev["cats_micro_f"] == 1.0
    assert dev["natasha_mapping"]["f"] == 1.0
    assert dev["speed"]["docs"] == 3 and dev["speed"]["docs_per_second"] > 0
    assert dev["meta"]["pipeline"] == ["nerel_joint"]
    assert dev["meta"]["machine"]["cpu"] and dev["meta"]["machine"]["threads"] >= 1


def test_evaluate_cli_table_is_readable_at_80_columns(trained_model, tmp_path):
    """Metrics are rows and splits columns: every label and header whole, nothing cut."""
    model, corpus = trained_model
    result = CliRunner().invoke(app, ["evaluate", str(model), str(corpus), "-o", str(tmp_path)],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dev.json").exists() and (tmp_path / "test.json").exists()
    assert "…" not in result.stdout and max(len(line) for line in result.stdout.splitlines()) <= 80
    header = next(line for line in result.stdout.splitlines() if "metric" in line)
    assert header.split()[1:] == ["metric", "┃", "dev", "┃", "test", "┃"]
    dev = json.loads((tmp_path / "dev.json").read_text())
    for label, read, _ in ROWS:
        if label.strip().startswith(("relations", "in-sentence")):
            # no relation head in this pipeline: its rows are left out
            assert "relations_f" not in dev and f"│ {label} " not in result.stdout, label
        else:
            assert f"│ {label} " in result.stdout, label
    seqeval_row = next(line for line in result.stdout.splitlines() if "NER seqeval F" in line)
    assert f"{100 * dev['seqeval_f']:.1f}" in seqeval_row


def test_train_is_scored_only_when_asked_for(trained_model, tmp_path):
    model, corpus = trained_model
    assert set(evaluate_model(model, corpus, splits=["train"])) == {"train"}
    assert list(evaluate_model(model, corpus, splits=None)) == ["dev", "test", "train"]
    assert set(evaluate_model(model, corpus / "train.spacy")) == {"train"}  # a file is scored as it is
    result = CliRunner().invoke(app, ["evaluate", str(model), str(corpus), "--splits", "dev,train", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dev.json", "train.json"]


def test_splits_that_are_not_there_are_named_with_those_that_are(trained_model, tmp_path):
    model, corpus = trained_model
    with pytest.raises(FileNotFoundError, match=r"no valid\.spacy here \(found: dev\.spacy, test\.spacy, train\.spacy\)"):
        evaluate_model(model, corpus, splits=["valid"])
    result = CliRunner().invoke(app, ["evaluate", str(model), str(corpus), "--splits", "valid"])
    assert result.exit_code == 2 and "found: dev.spacy" in " ".join(result.stderr.split())
    assert CliRunner().invoke(app, ["evaluate", str(model), str(corpus), "--splits", " , "]).exit_code == 2
    # A typo beside a real split is not dropped quietly; --splits means nothing for one file.
    with pytest.raises(FileNotFoundError, match=r"no tset\.spacy here"):
        evaluate_model(model, corpus, splits=["dev", "tset"])
    on_a_file = CliRunner().invoke(app, ["evaluate", str(model), str(corpus / "dev.spacy"), "--splits", "test"])
    assert on_a_file.exit_code == 2 and "is one file" in " ".join(on_a_file.stderr.split())


def test_a_missing_test_split_is_left_out_and_said(trained_model, tmp_path):
    """The public NEREL holds test back: dev,test on a copy without test scores dev and says so."""
    import shutil

    model, corpus = trained_model
    no_test = tmp_path / "corpus"
    no_test.mkdir()
    shutil.copy(corpus / "dev.spacy", no_test / "dev.spacy")
    assert list(evaluate_model(model, no_test, splits=["dev", "test"])) == ["dev"]
    result = CliRunner().invoke(app, ["evaluate", str(model), str(no_test)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "No test.spacy in" in said and "No JSON written: add -o" in said


def test_evaluate_scores_with_the_settings_it_is_given_and_records_them(trained_model, tmp_path):
    model, corpus = trained_model
    result = CliRunner().invoke(app, ["evaluate", str(model), str(corpus / "dev.spacy"), "-o", str(tmp_path),
                                      "--set", "nerel_joint.threshold=1.0"])
    assert result.exit_code == 0, result.output
    dev = json.loads((tmp_path / "dev.json").read_text())
    assert dev["cats_micro_f"] == 0.0 and dev["seqeval_f"] == 1.0  # no score reaches 1.0
    assert dev["meta"]["settings"] == ["nerel_joint.threshold=1.0"]
    refused = CliRunner().invoke(app, ["evaluate", str(model), str(corpus), "--set", "nerel_joint.treshold=1"])
    assert refused.exit_code == 2 and "nerel_joint has no 'treshold'" in unwrapped(refused.output)


def test_evaluate_cli_missing_corpus(trained_model, tmp_path):
    model, _ = trained_model
    missing = CliRunner().invoke(app, ["evaluate", str(model), str(tmp_path / "nope")])
    assert missing.exit_code == 2


def test_a_wrong_corpus_or_output_fails_before_the_pipeline_loads(trained_model, tmp_path, monkeypatch):
    import nerel_spacy.evaluate as evaluate_module

    def no_loading(*args, **kwargs):
        raise AssertionError("the pipeline was loaded before the paths were checked")

    monkeypatch.setattr(evaluate_module, "load_with_settings", no_loading)
    model, corpus = trained_model
    with pytest.raises(FileNotFoundError):
        evaluate_model(model, tmp_path / "nope.spacy")
    a_file = tmp_path / "metrics"
    a_file.write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", str(model), str(corpus), "-o", str(a_file)])
    assert result.exit_code == 2 and "is a file; -o takes a folder" in unwrapped(result.stderr)


@pytest.mark.slow
def test_tune_thresholds_cli_saves_thresholds(trained_model, tmp_path):
    model, corpus = trained_model
    out = tmp_path / "tuned"
    result = CliRunner().invoke(
        app,
        ["tune-thresholds", str(model), str(corpus / "dev.spacy"), "-o", str(out), "--min-positives", "1", "--folds", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "2-fold cross-fitted" in result.output
    pipe = spacy.load(out).get_pipe("nerel_joint")
    assert set(pipe.cfg["thresholds"]) == set(pipe.cats_labels)
    bad = CliRunner().invoke(app, ["tune-thresholds", str(model), str(tmp_path / "none.spacy")])
    assert bad.exit_code == 2
    too_many_folds = CliRunner().invoke(
        app, ["tune-thresholds", str(model), str(corpus / "dev.spacy"), "-o", str(out), "--folds", "100000"]
    )
    assert too_many_folds.exit_code == 2
    assert "--folds" in too_many_folds.output
