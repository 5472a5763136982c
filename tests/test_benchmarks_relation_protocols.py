"""benchmarks/relation_protocols.py on a small trained pipeline and its .spacy corpus."""
import importlib.util
import json
import sys

import pytest
from spacy.tokens import DocBin

from conftest import REPO_ROOT
from pipeline_helpers import v3_trained_on_nested

SPEC = importlib.util.spec_from_file_location("relation_protocols_bench", REPO_ROOT / "benchmarks" / "relation_protocols.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def test_ratio_arguments():
    assert bench.parse_ratio("all") is None and bench.parse_ratio("0.5") == 0.5
    with pytest.raises(Exception, match="0 or more"):
        bench.parse_ratio("-1")


@pytest.mark.slow
def test_the_report_holds_both_protocols(tmp_path, monkeypatch):
    nlp, examples = v3_trained_on_nested(25)
    nlp.to_disk(tmp_path / "model")
    DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(tmp_path / "dev.spacy")
    output = tmp_path / "protocols.json"
    monkeypatch.setattr(sys, "argv", [
        "relation_protocols.py", str(tmp_path / "model"), str(tmp_path / "dev.spacy"),
        "--ratios", "0", "1", "all", "--thresholds", "0", "0.5", "--seeds", "2", "-o", str(output),
    ])
    bench.main()
    report = json.loads(output.read_text(encoding="utf-8"))
    shipped = str(report["shipped_threshold"])
    inside, nested = report["in_sentence"], report["nested"]
    assert inside["gold_triples"] == 2 and inside["unrelated_pairs"] > 0
    assert nested["gold_triples"] <= inside["gold_triples"] and nested["unrelated_pairs"] < inside["unrelated_pairs"]
    assert set(inside["extraction"]) == set(inside["extraction_nested_arguments_best"]) == {"0.0", "0.5", shipped}
    assert set(inside["classification"]) == {"0.0", "1.0", "all"}
    no_na = inside["classification"]["0.0"]["by_threshold"]
    assert no_na["0.0"]["na_instances"] == 0 and no_na["0.0"]["draws"] == 1
    every = inside["classification"]["all"]["by_threshold"]["0.0"]
    assert every["na_instances"] == inside["unrelated_pairs"]
    # never answering NA, every NA instance is a false positive: precision can only fall
    assert every["p"] <= no_na["0.0"]["p"] and every["r"] == no_na["0.0"]["r"]
    assert inside["classification"]["1.0"]["by_threshold"]["0.5"]["draws"] == 2
