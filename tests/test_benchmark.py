"""The benchmark library and CLI on the tiny pipelines: one process per model, the JSON schema."""
import json

import pytest
import spacy
from rich.console import Console
from typer.testing import CliRunner

from nerel_spacy.benchmark import SCHEMA_VERSION, benchmark_models, model_size_bytes
from nerel_spacy.cli import app
from nerel_spacy.cli.benchmark import results_table
from nerel_spacy.quantize import quantize_pipeline

from quantize_helpers import save_gold_corpus, save_trained_trf

MODEL_KEYS = {
    "model", "pipeline", "quantization", "size_mb", "load_seconds", "rss_after_load_mb",
    "peak_rss_mb", "n_docs", "n_tokens", "docs_per_second", "tokens_per_second", "ms_per_doc",
    "ms_per_doc_p50", "ms_per_doc_p95", "docs_per_second_rounds", "scores",
}
COMPARISON_KEYS = {
    "speedup_docs_per_second", "speedup_ms_per_doc_p50", "rss_ratio", "size_ratio",
    "delta_seqeval_f", "delta_ents_f", "delta_cats_micro_f",
}


@pytest.fixture(scope="module")
def models(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    fp32_dir = save_trained_trf(tiny_bert_dir, root / "fp32")
    int8_nlp, _ = quantize_pipeline(spacy.load(fp32_dir), compute="int8")
    int8_nlp.to_disk(root / "int8")
    return {"fp32": str(fp32_dir), "int8": str(root / "int8")}, save_gold_corpus(root / "dev.spacy")


def test_benchmark_writes_json_with_speed_memory_size_and_f1(models, tmp_path):
    paths, data = models
    output = tmp_path / "results" / "quantization.json"
    report = benchmark_models(paths, data, n_docs=3, notes=["tiny random BERT"], output=output)
    assert json.loads(output.read_text(encoding="utf-8")) == report
    assert report["schema_version"] == SCHEMA_VERSION and report["baseline"] == "fp32"
    assert report["notes"] == ["tiny random BERT"]
    assert report["settings"] == {"n_docs": 3, "f1_docs": 0, "threads": 2, "batch_size": 16, "rounds": 1}
    machine = report["machine"]
    for key in ("cpu", "cores", "threads", "torch", "spacy", "spacy-transformers", "date", "load_average"):
        assert key in machine
    assert list(report["models"]) == ["fp32", "int8"]
    for label, result in report["models"].items():
        assert set(result) == MODEL_KEYS
        assert result["n_docs"] == 3 and result["n_tokens"] > 0
        assert result["docs_per_second"] > 0 and result["ms_per_doc_p95"] >= result["ms_per_doc_p50"] > 0
        assert result["peak_rss_mb"] >= result["rss_after_load_mb"] > 0 and result["size_mb"] > 0
        assert result["pipeline"] == ["transformer", "nerel_joint"]
        for key in ("seqeval_f", "ents_f", "cats_micro_f"):
            assert 0.0 <= result["scores"][key] <= 1.0
    assert report["models"]["fp32"]["quantization"] is None
    assert report["models"]["int8"]["quantization"]["format"] == "nerel.int8.v1"
    comparison = report["comparison"]["int8"]
    assert set(comparison) == COMPARISON_KEYS
    assert comparison["size_ratio"] < 1.0 and comparison["speedup_docs_per_second"] > 0

    Console(width=200, record=True).print(results_table(report))


def test_benchmark_cli_needs_a_model_and_a_corpus(tmp_path):
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path)])
    assert result.exit_code == 2 and "--fp32" in result.stderr
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path / "nope.spacy"), "--int8", "x"])
    assert result.exit_code == 2 and "no such corpus" in result.stderr


def test_benchmark_reads_a_corpus_folders_dev_split(models, tmp_path):
    paths, data = models
    report = benchmark_models({"int8": paths["int8"]}, data.parent, n_docs=1, score=False)
    assert report["data"] == str(data) and report["models"]["int8"]["scores"] == {}


def test_model_size_of_a_folder_and_of_an_unknown_name(models):
    paths, _ = models
    assert model_size_bytes(paths["int8"]) > 0
    assert model_size_bytes("no_such_pipeline_package") is None
