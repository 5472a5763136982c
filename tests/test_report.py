"""``nerel-batch report``: streaming summary of an annotate run and its self-contained page."""
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from typer.testing import CliRunner

from nerel_spacy.annotate import AnnotateOptions, RunManifest, span_record, write_manifest
from nerel_spacy.brat import read_brat_document
from nerel_spacy.cli import app
from nerel_spacy.report import (
    BoundedCounter,
    bar_chart_svg,
    record_to_doc,
    render_report,
    summarize_run,
    write_report,
)
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import NEREL_ROOT
from conftest import unwrapped
from test_render import check_page

FIXTURE_IDS = ["train/obama.txt", "train/ministry.txt", "dev/lavrov.txt"]
MODEL = {"name": "ru_nerel_gold", "version": "1.1.0"}


def gold_record(doc_id: str, doc) -> Dict[str, Any]:
    """The annotate record of a gold doc, with its relations, as a relation-aware model would write it."""
    return {
        "id": doc_id,
        "n_chars": len(doc.text),
        "ents": [span_record(ent) for ent in doc.ents],
        "spans": [span_record(span) for span in doc.spans[SPANS_KEY]],
        "relations": [dict(relation) for relation in doc._.relations],
        "cats": {label: score for label, score in doc.cats.items() if score >= 0.5},
        "model": MODEL,
    }


def write_jsonl(path: Path, lines: List[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as file:
        for line in lines:
            file.write(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def nlp():
    return make_blank_nlp()


@pytest.fixture(scope="module")
def gold(nlp):
    return {doc_id: read_brat_document(NEREL_ROOT / doc_id, nlp=nlp)[0] for doc_id in FIXTURE_IDS}


@pytest.fixture
def run(tmp_path, gold):
    """An output JSONL with a malformed line and a cut-off last line, and its errors JSONL."""
    records = [gold_record(doc_id, doc) for doc_id, doc in gold.items()]
    out = write_jsonl(tmp_path / "out.jsonl", [records[0], "{not json\n", records[1], records[2], '{"id": "x", "n_c'])
    write_jsonl(tmp_path / "out.errors.jsonl", [
        {"id": "b.bin", "reason": "binary", "message": "b.bin: binary (NUL bytes in the first 8 KiB)"},
        {"id": "e.txt", "reason": "empty", "message": "e.txt: empty or only whitespace"},
        {"id": "f.txt", "reason": "empty", "message": "f.txt: empty or only whitespace"},
        "[1, 2]\n",
    ])
    return out


def test_summary_counts_everything_and_names_bad_lines(run, gold):
    summary = summarize_run(run, texts=NEREL_ROOT)
    docs = list(gold.values())
    assert summary.documents == 3
    assert summary.mentions == sum(len(doc.spans[SPANS_KEY]) for doc in docs)
    assert summary.ents == sum(len(doc.ents) for doc in docs)
    assert summary.relations == sum(len(doc._.relations) for doc in docs) == 7
    assert summary.relation_types["WORKS_AS"] == 2
    assert summary.entity_types["PROFESSION"] == sum(
        1 for doc in docs for span in doc.spans[SPANS_KEY] if span.label_ == "PROFESSION"
    )
    assert summary.top_entities["COUNTRY"].most_common(1) == [("России", 2)]
    assert summary.models == {"ru_nerel_gold 1.1.0": 3}
    assert summary.errors == {"empty": 2, "binary": 1}
    assert summary.n_malformed == 3
    messages = [str(item) for item in summary.malformed]
    assert messages[0].startswith(f"{run}, line 2: not JSON")
    assert messages[1].startswith(f"{run}, line 5: not JSON") and "cut off" in messages[1]
    assert messages[2] == f"{run.with_name('out.errors.jsonl')}, line 4: not a JSON object with an \"id\""
    assert summary.docs_per_second is None
    # Samples: the most varied documents first, read back from the input folder.
    assert [record["id"] for record, _ in summary.samples] == ["train/obama.txt", "dev/lavrov.txt", "train/ministry.txt"]


def test_record_to_doc_rebuilds_the_gold_doc(gold, nlp):
    doc = gold["train/obama.txt"]
    rebuilt = record_to_doc(json.loads(json.dumps(gold_record("o", doc))), doc.text, nlp)
    key = lambda d: [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in d.spans[SPANS_KEY]]  # noqa: E731
    assert key(rebuilt) == key(doc)
    assert [(e.start_char, e.end_char, e.label_) for e in rebuilt.ents] == [
        (e.start_char, e.end_char, e.label_) for e in doc.ents
    ]
    assert rebuilt._.relations == list(doc._.relations)
    assert rebuilt.cats == {label: 1.0 for label, score in doc.cats.items() if score}


def test_record_with_offsets_inside_tokens_expands_and_drops_orphan_relations(nlp):
    record = {
        "id": "x", "n_chars": 20,
        "spans": [{"start": 1, "end": 6, "label": "CITY"}, {"start": 50, "end": 60, "label": "X"}],
        "ents": [{"start": 1, "end": 6, "label": "CITY"}],
        "relations": [{"head": 0, "tail": 1, "label": "LOCATED_IN"}],
    }
    doc = record_to_doc(record, "Москва и Петербург.", nlp)
    assert [(s.text, s.label_) for s in doc.spans[SPANS_KEY]] == [("Москва", "CITY")]
    assert doc._.relations == [] and doc.cats == {}


def test_report_page(run, tmp_path):
    summary = write_report(run, tmp_path / "report.html", texts=NEREL_ROOT)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    checker = check_page(page)
    text = " ".join(checker.text)
    assert summary.documents == 3
    assert page.count("<svg") == 4  # entity types, relation triples, relation docs, errors
    for label in ("PROFESSION", "COUNTRY", "WORKS_AS", "PARTICIPANT_IN", "binary", "empty"):
        assert label in text
    assert "России" in text and "Барак Обама" in text
    assert "line 2: not JSON" in text
    assert text.count("Mentions, nested included") == 3  # three sample documents
    assert "docs/s" not in text  # the records carry no times


def test_report_page_names_the_pipeline_and_settings_of_the_run(run, tmp_path):
    assert "pipeline" not in " ".join(check_page(render_report(summarize_run(run))).text)  # no manifest
    options = AnnotateOptions(threshold=0.3)
    manifest = RunManifest.for_run("ru_nerel_joint", {"name": "ru_nerel_joint", "version": "0.1.0"},
                                   ["nerel_joint.nested_arguments=best", "nerel_joint.span_threshold=0.4"], options)
    write_manifest(tmp_path / "out.run.json", manifest)
    summary = summarize_run(run)
    assert summary.manifest == manifest
    text = " ".join(check_page(render_report(summary)).text)
    assert "pipeline ru_nerel_joint" in text
    assert 'settings (--set) nerel_joint.nested_arguments="best" nerel_joint.span_threshold=0.4' in text
    assert "cats threshold (--threshold) 0.3" in text
    (tmp_path / "out.run.json").write_text("{broken", encoding="utf-8")
    assert summarize_run(run).manifest is None  # the page goes on without those rows


def test_old_records_without_spans_relations_or_cats(tmp_path):
    records = [
        {"id": f"{i}.txt", "n_chars": 12, "ents": [{"start": 0, "end": 6, "label": "CITY", "text": "Москва"}],
         "model": MODEL, "time": 1000.0 + i / 4}
        for i in range(9)
    ]
    out = write_jsonl(tmp_path / "old.jsonl", records)
    summary = summarize_run(out)
    assert (summary.has_spans, summary.has_relations, summary.mentions) == (False, False, 9)
    assert not summary.errors_found and summary.relation_docs == {}
    assert summary.docs_per_second == pytest.approx(9 / 2.0)
    assert summary.samples == [] and summary.sample_notes == []
    page = render_report(summary)
    check_page(page)
    assert "mentions (flat entities)" in page and "docs/s" in page and "4.5" in page
    assert "No errors file at" in page and "give the input folder with --texts" in page
    assert page.count("<svg") == 1


def test_sample_whose_text_changed_is_passed_over(tmp_path, gold):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "lavrov.txt").write_text("Совсем другой текст.", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("не показывать", encoding="utf-8")
    record = gold_record("lavrov.txt", gold["dev/lavrov.txt"])
    out = write_jsonl(tmp_path / "out.jsonl", [record, dict(record, id="../secret.txt")])
    summary = summarize_run(out, texts=tmp_path / "in")
    assert summary.samples == []
    assert sorted(summary.sample_notes) == [
        f"../secret.txt: text not found under {tmp_path / 'in'}",
        "lavrov.txt: the text differs from the one annotated",
    ]


def test_record_text_field_is_used_when_present(tmp_path, gold):
    doc = gold["dev/lavrov.txt"]
    out = write_jsonl(tmp_path / "out.jsonl", [dict(gold_record("l", doc), text=doc.text)])
    assert summarize_run(out).samples[0][1] == doc.text


def test_bounded_counter_keeps_the_frequent_items():
    counter = BoundedCounter(capacity=3)
    for i in range(100):
        counter.add("Москва")
        counter.add(f"rare {i}")
        if i % 2:
            counter.add("Россия")
    assert len(counter.counts) <= 6 and not counter.exact
    assert counter.most_common(2)[0] == ("Москва", 100)
    assert counter.most_common(2)[1][0] == "Россия"


def test_summary_memory_is_bounded(tmp_path):
    lines = (
        {"id": str(i), "n_chars": 5, "ents": [{"start": 0, "end": 5, "label": "PERSON", "text": f"P{i}"}]}
        for i in range(3000)
    )
    out = write_jsonl(tmp_path / "big.jsonl", list(lines))
    summary = summarize_run(out, samples=2, top_capacity=50)
    assert summary.documents == 3000 and summary.entity_types == {"PERSON": 3000}
    assert len(summary.top_entities["PERSON"].counts) <= 100


def test_bar_chart_escapes_labels():
    svg = bar_chart_svg([("<A&B>", 3), ("C", 1)], title="x<y")
    assert "&lt;A&amp;B&gt;" in svg and "<A&B>" not in svg and 'aria-label="x&lt;y"' in svg
    assert bar_chart_svg([], title="t") == '<p class="empty">Nothing to chart.</p>'


def test_cli_report(run, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "r.html"), "--samples", "1",
                                 "--texts", str(NEREL_ROOT)])
    assert result.exit_code == 0, result.output
    said = unwrapped(result.output)
    assert "3 documents" in said and "3 malformed lines" in said
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count("Mentions, nested included") == 1
    missing = runner.invoke(app, ["report", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "r.html")])
    assert missing.exit_code == 2 and "no such file" in unwrapped(missing.output)
    same = runner.invoke(app, ["report", str(run), "-o", str(run)])
    assert same.exit_code == 2 and "can't overwrite" in unwrapped(same.output)


def test_cli_report_never_overwrites_what_it_reads(run, tmp_path):
    """-o the run's errors file (default or --errors), its manifest or a --texts file is refused."""
    runner = CliRunner()
    errors = (tmp_path / "out.errors.jsonl").read_bytes()
    (tmp_path / "mine.jsonl").write_text("{}\n")
    (tmp_path / "texts.txt").write_text("Текст.")
    (tmp_path / "out.run.json").write_text("{}")
    cases = [([], "out.errors.jsonl", "errors file"), ([], "out.run.json", "manifest"),
             (["--errors", str(tmp_path / "mine.jsonl")], "mine.jsonl", "errors file"),
             (["--texts", str(tmp_path / "texts.txt")], "texts.txt", "--texts")]
    for extra, target, what in cases:
        before = (tmp_path / target).read_bytes()
        result = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / target), *extra])
        said = unwrapped(result.output)
        assert result.exit_code == 2 and "can't overwrite" in said and what in said, result.output
        assert (tmp_path / target).read_bytes() == before
    assert (tmp_path / "out.errors.jsonl").read_bytes() == errors
    (tmp_path / "pages").mkdir()
    folder = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "pages")])
    assert folder.exit_code == 2 and "is a folder" in unwrapped(folder.output), folder.output
    assert folder.exception is None or isinstance(folder.exception, SystemExit)  # no IsADirectoryError
    assert not any((tmp_path / "pages").iterdir())
