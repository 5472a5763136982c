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
    "ms_per_doc_p50", "ms_per_doc_p95", "docs_per_second_rounds", "scores", "cold_start_seconds",
    "torch_imported",
}
COMPARISON_KEYS = {
    "speedup_docs_per_second", "speedup_ms_per_doc_p50", "rss_ratio", "size_ratio",
    "delta_seqeval_f", "delta_ents_f", "delta_spans_nerel_f", "delta_cats_micro_f",
    "delta_relations_f", "delta_relations_gold_insent_f",
}


@pytest.fixture(scope="module")
def models(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    fp32_dir = save_trained_trf(tiny_bert_dir, root / "fp32")
    int8_nlp, _ = quantize_pipeline(spacy.load(fp32_dir), compute="int8")
    int8_nlp.to_disk(root / "int8")
    return {"fp32": str(fp32_dir), "int8": str(root / "int8")}, save_gold_corpus(root / "dev.spacy")


@pytest.mark.slow
def test_benchmark_writes_json_with_speed_memory_size_and_f1(models, tmp_path):
    paths, data = models
    output = tmp_path / "results" / "quantization.json"
    report = benchmark_models(paths, data, n_docs=3, notes=["tiny random BERT"], output=output)
    assert json.loads(output.read_text(encoding="utf-8")) == report
    assert report["schema_version"] == SCHEMA_VERSION and report["baseline"] == "fp32"
    assert report["notes"] == ["tiny random BERT"]
    assert report["settings"] == {
        "n_docs": 3, "f1_docs": 0, "threads": 2, "batch_size": 16, "max_batch_chars": 25_000, "rounds": 1,
    }
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
        assert result["torch_imported"] is True and result["cold_start_seconds"] > result["load_seconds"] > 0
        for key in ("seqeval_f", "ents_f", "cats_micro_f"):
            assert 0.0 <= result["scores"][key] <= 1.0
    assert report["models"]["fp32"]["quantization"] is None
    assert report["models"]["int8"]["quantization"]["format"] == "nerel.int8.v1"
    comparison = report["comparison"]["int8"]
    assert set(comparison) == COMPARISON_KEYS
    assert comparison["size_ratio"] < 1.0 and comparison["speedup_docs_per_second"] > 0

    console = Console(width=80, record=True)
    console.print(results_table(report))
    text = console.export_text()
    assert "…" not in text and "int8 vs fp32: speed-up" in text
    for label, result in report["models"].items():
        assert f"{result['docs_per_second']:.2f}" in text and f"{result['scores']['seqeval_f']:.4f}" in text


def test_benchmark_cli_needs_a_model_and_a_corpus(tmp_path):
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path)])
    assert result.exit_code == 2 and "--fp32" in result.stderr
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path / "nope.spacy"), "--int8", "x"])
    assert result.exit_code == 2 and "no such corpus" in result.stderr


@pytest.mark.slow
def test_benchmark_reads_a_corpus_folders_dev_split(models, tmp_path):
    paths, data = models
    report = benchmark_models({"int8": paths["int8"]}, data.parent, n_docs=1, score=False)
    assert report["data"] == str(data) and report["models"]["int8"]["scores"] == {}


def test_model_size_of_a_folder_and_of_an_unknown_name(tmp_path):
    (tmp_path / "component").mkdir()
    (tmp_path / "config.cfg").write_bytes(b"x" * 100)
    (tmp_path / "component" / "model").write_bytes(b"y" * 23)
    assert model_size_bytes(str(tmp_path)) == 123
    assert model_size_bytes("no_such_pipeline_package") is None


def test_results_table_is_readable_at_80_columns():
    """Metrics are rows and models columns: every label and header whole, nothing cut."""
    model = {
        "docs_per_second": 4.78, "tokens_per_second": 1286.0, "ms_per_doc_p50": 208.0,
        "ms_per_doc_p95": 335.0, "peak_rss_mb": 3044.0, "size_mb": 468.0, "load_seconds": 4.8,
        "scores": {"seqeval_f": 0.7654, "cats_micro_f": 0.7779},
    }
    report = {
        "data": "corpus/dev.spacy", "settings": {"n_docs": 94}, "baseline": "fp32",
        "machine": {"threads": 2, "cpu": "Intel(R) Xeon(R) Platinum 8480+ Processor", "cores": 16,
                    "load_average": [1.2, 1.0, 0.9]},
        "models": {"fp32": model, "int8": dict(model, docs_per_second=13.46, size_mb=None)},
        "comparison": {"int8": {"speedup_docs_per_second": 2.82, "speedup_ms_per_doc_p50": 1.88,
                                "size_ratio": 0.28, "rss_ratio": 0.51, "delta_seqeval_f": 0.0005,
                                "delta_cats_micro_f": 0.0004}},
    }
    console = Console(width=80, record=True)
    console.print(results_table(report))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for word in ("metric", "fp32", "int8", "docs/s", "tokens/s", "ms/doc p50", "ms/doc p95", "peak RSS MB",
                 "size MB", "load s", "NER seqeval F1", "relation types micro F1", "13.46", "0.7779", "Platinum 8480+",
                 "speed-up 2.82x"):
        assert word in text, word
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:4]]
            for line in text.splitlines() if line.startswith("│")}
    assert rows["docs/s"] == ["4.78", "13.46"] and rows["size MB"] == ["468", "-"]


def test_benchmark_cli_model_labels_must_be_label_equals_model(tmp_path):
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path), "--model", "just-a-path"])
    assert result.exit_code == 2 and "LABEL=MODEL" in result.stderr
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path), "--fp32", "a", "--model", "fp32=b"])
    assert result.exit_code == 2 and "own label" in result.stderr


@pytest.mark.slow
def test_benchmark_cli_puts_any_number_of_models_side_by_side(models, tmp_path):
    paths, data = models
    out = tmp_path / "side_by_side.json"
    result = CliRunner().invoke(app, ["benchmark", str(data), "--int8", paths["int8"], "--model", f"again={paths['int8']}",
                                      "--model", f"float={paths['fp32']}", "--n-docs", "1", "--no-f1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert list(report["models"]) == ["int8", "again", "float"] and report["baseline"] == "int8"
    assert set(report["comparison"]) == {"again", "float"}


@pytest.mark.slow
def test_natasha_is_measured_like_a_pipeline_and_scored_on_its_three_types(tmp_path):
    from nerel_spacy.benchmark import measure_model

    data = save_gold_corpus(tmp_path / "dev.spacy")
    result = measure_model("natasha", data, n_docs=2)
    assert MODEL_KEYS - {"size_mb", "docs_per_second_rounds"} <= set(result)
    assert result["n_docs"] == 2 and result["docs_per_second"] > 0 and result["n_tokens"] > 0
    assert 0.0 <= result["scores"]["per_loc_org_f"] <= 1.0 and result["scores"]["n_docs"] == 3
    assert 20 < model_size_bytes("natasha") / 2**20 < 60  # navec news embeddings + the NER model


@pytest.mark.slow
def test_benchmark_puts_natasha_beside_a_pipeline_with_the_same_f1_column(models, tmp_path):
    paths, data = models
    report = benchmark_models({"int8": paths["int8"], "natasha": "natasha"}, data, n_docs=1,
                              output=tmp_path / "b.json")
    assert report["models"]["natasha"]["pipeline"] == ["natasha.Segmenter", "natasha.NewsNERTagger"]
    assert all("per_loc_org_f" in report["models"][label]["scores"] for label in ("int8", "natasha"))
    assert "PER/LOC/ORG" in str(results_table(report).columns[0]._cells)


def test_benchmark_cli_refuses_a_baseline_that_is_not_a_model(tmp_path):
    data = save_gold_corpus(tmp_path / "dev.spacy")
    result = CliRunner().invoke(app, ["benchmark", str(data), "--model", "a=natasha", "--baseline", "b", "--no-f1"])
    assert result.exit_code == 2 and "baseline 'b'" in result.stderr
