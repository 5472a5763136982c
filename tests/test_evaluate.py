"""nerel-batch evaluate: every split in a corpus folder is scored and written as JSON."""
import json

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.evaluate import evaluate_model, find_split_files

from conftest import make_examples


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    nlp = spacy.blank("ru")
    nlp.add_pipe("nerel_joint")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    path = tmp_path_factory.mktemp("model") / "model"
    nlp.to_disk(path)
    corpus = path.parent / "corpus"
    corpus.mkdir()
    for split in ("dev", "test"):
        DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(corpus / f"{split}.spacy")
    return path, corpus


def test_find_split_files_orders_dev_first(tmp_path):
    for name in ("train", "test", "dev"):
        (tmp_path / f"{name}.spacy").write_bytes(b"")
    assert list(find_split_files(tmp_path)) == ["dev", "test", "train"]
    with pytest.raises(FileNotFoundError, match="nerel-batch convert"):
        find_split_files(tmp_path / "missing")


def test_evaluate_model_scores_each_split(trained_model, tmp_path):
    model, corpus = trained_model
    results = evaluate_model(model, corpus, output_dir=tmp_path / "metrics")
    assert set(results) == {"dev", "test"}
    dev = json.loads((tmp_path / "metrics" / "dev.json").read_text())
    assert dev["seqeval_f"] == 1.0 and dev["cats_micro_f"] == 1.0
    assert dev["natasha_mapping"]["f"] == 1.0
    assert dev["speed"]["docs"] == 3 and dev["speed"]["docs_per_second"] > 0
    assert dev["meta"]["pipeline"] == ["nerel_joint"]


def test_evaluate_cli(trained_model, tmp_path):
    model, corpus = trained_model
    result = CliRunner().invoke(app, ["evaluate", str(model), str(corpus / "dev.spacy"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dev.json").exists()
    missing = CliRunner().invoke(app, ["evaluate", str(model), str(tmp_path / "nope")])
    assert missing.exit_code == 2


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
