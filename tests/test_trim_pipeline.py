"""Trimming a trained spaCy pipeline, and the ``nerel-batch trim-vocab`` command."""
import json

import pytest
import spacy
from typer.testing import CliRunner

from conftest import TINY_DOCS
from nerel_spacy.cli import app
from nerel_spacy.quantize import find_transformer_shims, quantize_pipeline
from nerel_spacy.trim.encoder import trim_pipeline
from quantize_helpers import save_gold_corpus, save_trained_cnn, save_trained_trf

TEXTS = [text for text, _, _ in TINY_DOCS]


@pytest.fixture(scope="module")
def fp32_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("fp32") / "model")


def annotations(nlp, texts):
    out = []
    for doc in nlp.pipe(texts):
        spans = [(s.start, s.end, s.label_) for s in doc.spans.get("nerel", [])]
        out.append(([(e.start, e.end, e.label_) for e in doc.ents], spans, {k: round(v, 5) for k, v in doc.cats.items()}))
    return out


@pytest.mark.slow
def test_trimmed_pipeline_annotates_its_texts_exactly_as_before_and_round_trips(fp32_dir, tmp_path):
    nlp = spacy.load(fp32_dir)
    before = annotations(nlp, TEXTS)
    [(name, report)] = trim_pipeline(nlp, TEXTS[:3], words=[], numbers=True, single_chars=True)
    assert name == "transformer" and report.rows_after < report.rows_before
    assert annotations(nlp, TEXTS[:3]) == before[:3]
    nlp.to_disk(tmp_path / "trimmed")
    loaded = spacy.load(tmp_path / "trimmed")
    [(_, shim)] = find_transformer_shims(loaded)
    assert shim._hfmodel.transformer.get_input_embeddings().weight.shape[0] == report.rows_after
    assert len(shim._hfmodel.tokenizer) == report.rows_after
    assert annotations(loaded, TEXTS[:3]) == before[:3]
    assert loaded.meta["trimmed_vocabulary"]["transformer"]["rows_after"] == report.rows_after
    # the trimmed copy quantizes like any float32 pipeline
    int8_nlp, _ = quantize_pipeline(loaded, compute="int8")
    int8_nlp.to_disk(tmp_path / "trimmed-int8")
    assert len(list(spacy.load(tmp_path / "trimmed-int8").pipe(TEXTS))) == len(TEXTS)


@pytest.mark.slow
def test_int8_and_cnn_pipelines_are_refused(fp32_dir, tmp_path):
    int8_nlp, _ = quantize_pipeline(spacy.load(fp32_dir), compute="int8")
    with pytest.raises(ValueError, match="int8"):
        trim_pipeline(int8_nlp, TEXTS)
    with pytest.raises(ValueError, match="no transformer"):
        trim_pipeline(spacy.load(save_trained_cnn(tmp_path / "cnn")), TEXTS)


@pytest.mark.slow
def test_cli_trims_a_pipeline_from_a_corpus_and_writes_the_report(fp32_dir, tmp_path):
    corpus = save_gold_corpus(tmp_path / "train.spacy")
    words = tmp_path / "words.txt"
    words.write_text("москва\nпутин\n", encoding="utf8")
    held_out = tmp_path / "held_out.txt"
    held_out.write_text("Вашингтон и Нью-Йорк 2021", encoding="utf8")
    out = tmp_path / "trimmed"
    result = CliRunner().invoke(app, ["trim-vocab", str(fp32_dir), str(out), "--texts", str(corpus),
                                      "--words", str(words), "--held-out", str(held_out),
                                      "--report", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())["transformer"]
    assert report["identity"]["mismatched"] == 0 and report["identity"]["texts"] == len(TINY_DOCS)
    assert report["held_out"]["texts"] == 1
    assert report["sources"]["words"] > 0
    assert "embedding rows" in result.output
    assert spacy.load(out)("Путин посетил Москву.")


def test_cli_trims_an_encoder_folder(tiny_bert_dir, tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    for i, text in enumerate(TEXTS):
        (texts / f"{i}.txt").write_text(text, encoding="utf8")
    result = CliRunner().invoke(app, ["trim-vocab", str(tiny_bert_dir), str(tmp_path / "enc"), "--texts", str(texts),
                                      "--words", "none"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "enc" / "config.json").exists() and not (tmp_path / "enc.partial").exists()


def flat(result) -> str:
    return " ".join(result.output.split())


def test_cli_errors_say_what_to_do(tiny_bert_dir, tmp_path):
    missing = CliRunner().invoke(app, ["trim-vocab", str(tiny_bert_dir), str(tmp_path / "o"), "--texts", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file or folder" in flat(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    no_txt = CliRunner().invoke(app, ["trim-vocab", str(tiny_bert_dir), str(tmp_path / "o"), "--texts", str(empty)])
    assert no_txt.exit_code == 2 and "no .txt files" in flat(no_txt)
    bad_words = CliRunner().invoke(app, ["trim-vocab", str(tiny_bert_dir), str(tmp_path / "o"), "--texts", str(tiny_bert_dir / "config.json"),
                                         "--words", "frequent"])
    assert bad_words.exit_code == 2 and "one word per line" in flat(bad_words)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    exists = CliRunner().invoke(app, ["trim-vocab", str(tiny_bert_dir), str(taken), "--texts", str(empty)])
    assert exists.exit_code == 2 and "--overwrite" in flat(exists)


@pytest.mark.slow
def test_the_trimmed_copy_sets_the_untrimmed_training_scores_aside(fp32_dir):
    nlp = spacy.load(fp32_dir)
    nlp.meta["performance"] = {"ents_f": 0.9}
    trim_pipeline(nlp, TEXTS[:1], words=[])
    assert "performance" not in nlp.meta and nlp.meta["source_performance"] == {"ents_f": 0.9}
    assert "trimmed_vocabulary" in nlp.meta
