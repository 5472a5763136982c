"""The JSONL ``relations`` field: schema, offsets of split texts, and a v3 pipeline end to end."""
import json
from typing import Any, Dict

import pytest
import spacy
from spacy.tokens import Span
from typer.testing import CliRunner

from nerel_spacy.annotate.records import Thresholds, build_record, doc_part
from nerel_spacy.cli import app

from test_annotate import check_record, check_span

RELATION_KEYS = {"head", "tail", "label", "head_span", "tail_span"}


def check_relations(record: Dict[str, Any]) -> None:
    """Each relation indexes the record's spans and repeats their offsets, types and texts."""
    check_record({k: v for k, v in record.items() if k != "relations"})
    spans = record["spans"]
    for relation in record["relations"]:
        assert RELATION_KEYS <= set(relation) <= RELATION_KEYS | {"score"}, relation
        assert isinstance(relation["label"], str) and relation["label"]
        for role in ("head", "tail"):
            index = relation[role]
            assert isinstance(index, int) and 0 <= index < len(spans)
            check_span(relation[f"{role}_span"], record["n_chars"])
            assert relation[f"{role}_span"] == {k: v for k, v in spans[index].items() if k != "score"}
        if "score" in relation:
            assert isinstance(relation["score"], float) and 0.0 <= relation["score"] <= 1.0


def part_doc(nlp, text, mentions, relations):
    doc = nlp.make_doc(text)
    doc.spans["nerel"] = [Span(doc, s, e, label=label) for s, e, label in mentions]
    doc._.relations = [{"head": h, "tail": t, "label": label, "score": 0.75} for h, t, label in relations]
    return doc


def test_relations_of_a_split_text_index_the_merged_spans_in_original_offsets():
    nlp = spacy.blank("ru")
    first_text, second_text = "Банк России растёт. ", "Сергей Лавров прилетел в Москву."
    first = part_doc(nlp, first_text, [(0, 2, "ORGANIZATION"), (1, 2, "COUNTRY")], [(0, 1, "LOCATED_IN")])
    second = part_doc(nlp, second_text, [(0, 2, "PERSON"), (4, 5, "CITY")], [(0, 1, "PLACE_OF_RESIDENCE")])
    text = first_text + second_text
    parts = [doc_part(first, 0), doc_part(second, len(first_text))]
    record = build_record(
        "a", len(text), parts, [(0, len(first_text)), (len(first_text), len(text))],
        thresholds=Thresholds(), all_cats=False, model={"name": "ru_test", "version": "0"},
    )
    check_relations(record)
    found = [(r["head"], r["tail"], r["label"], r["score"]) for r in record["relations"]]
    assert found == [(0, 1, "LOCATED_IN", 0.75), (2, 3, "PLACE_OF_RESIDENCE", 0.75)]
    city = record["relations"][1]["tail_span"]
    assert text[city["start"] : city["end"]] == city["text"] == "Москву"
    assert record["relations"][0]["tail_span"]["text"] == "России"


def test_no_relations_field_without_a_relation_model():
    nlp = spacy.blank("ru")
    doc = nlp.make_doc("Москва")
    doc.spans["nerel"] = [Span(doc, 0, 1, label="CITY")]
    record = build_record(
        "a", 6, [doc_part(doc, 0)], [(0, 6)], thresholds=Thresholds(), all_cats=False,
        model={"name": "ru_test", "version": "0"},
    )
    assert "relations" not in record
    doc._.relations = []  # a relation model that found none
    record = build_record(
        "a", 6, [doc_part(doc, 0)], [(0, 6)], thresholds=Thresholds(), all_cats=False,
        model={"name": "ru_test", "version": "0"},
    )
    assert record["relations"] == []


@pytest.mark.slow
def test_annotate_writes_the_predicted_triples(tmp_path):
    from conftest import make_nested_examples
    from pipeline_helpers import train
    from pipeline_helpers import v3_nlp

    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 120)
    nlp.to_disk(tmp_path / "model")
    texts = tmp_path / "texts"
    texts.mkdir()
    for i, example in enumerate(examples):
        (texts / f"{i}.txt").write_text(example.reference.text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["annotate", str(texts), "-m", str(tmp_path / "model"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    for i, example in enumerate(examples):
        record = records[f"{i}.txt"]
        check_relations(record)
        group = example.reference.spans["nerel"]
        gold = {
            ((group[r["head"]].start_char, group[r["head"]].end_char), (group[r["tail"]].start_char, group[r["tail"]].end_char), r["label"])
            for r in example.reference._.relations
        }
        found = {
            ((r["head_span"]["start"], r["head_span"]["end"]), (r["tail_span"]["start"], r["tail_span"]["end"]), r["label"])
            for r in record["relations"]
        }
        assert found == gold
