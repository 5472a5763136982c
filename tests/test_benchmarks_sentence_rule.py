"""benchmarks/sentence_rule.py on a small trained pipeline and its .spacy corpus."""
import importlib.util
import json
import sys

import pytest
import spacy
from spacy.tokens import DocBin

from conftest import REPO_ROOT
from pipeline_helpers import v3_trained_on_nested

SPEC = importlib.util.spec_from_file_location("sentence_rule_bench", REPO_ROOT / "benchmarks" / "sentence_rule.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def test_the_old_rule_ignores_line_breaks_and_the_new_one_does_not():
    doc = spacy.blank("ru").make_doc("Заголовок\nВ. Путин приехал.")  # a title, then a sentence
    assert bench.sentencizer_ids(doc) == [0, 0, 0, 0, 0, 0]
    assert bench.RULES["razdel_and_line_breaks"](doc) == [0, 0, 1, 1, 1, 1]


@pytest.mark.slow
def test_the_report_scores_both_rules(tmp_path, monkeypatch):
    nlp, examples = v3_trained_on_nested(25)
    nlp.to_disk(tmp_path / "model")
    DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(tmp_path / "dev.spacy")
    output = tmp_path / "rules.json"
    monkeypatch.setattr(sys, "argv", ["sentence_rule.py", str(tmp_path / "model"), str(tmp_path / "dev.spacy"),
                                      "-o", str(output)])
    bench.main()
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["gold_triples"] == 3 and set(report["rules"]) == set(bench.RULES)
    for rule in report["rules"].values():
        assert rule["in_sentence_gold_triples"] == 2  # one of the three crosses sentences either way
        assert 0 <= rule["in_sentence"]["f"] <= 1
