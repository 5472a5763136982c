"""brat writing: read -> write -> read gives back the same doc, on fixtures and on NEREL dev."""
import os

import pytest
from spacy.tokens import Span

from nerel_spacy.brat import (
    FRAGMENTS_KEY,
    find_documents,
    get_fragments,
    parse_ann,
    read_brat_document,
)
from nerel_spacy.brat_writer import (
    BratWriteError,
    atomic_write_bytes,
    atomic_write_text,
    doc_to_ann,
    kb_id_to_link,
    write_brat_document,
)
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import DEV, PROBLEMS, TRAIN
from conftest import NEREL_DIR, needs_nerel

NEREL_DEV = NEREL_DIR / "dev"


@pytest.fixture(scope="module")
def nlp():
    return make_blank_nlp()


def signature(doc):
    """Everything the data contract keeps, in a form that compares exactly."""
    return {
        "text": doc.text,
        "spans": [
            (s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans.get(SPANS_KEY, [])
        ],
        "ents": [(e.start_char, e.end_char, e.label_, e.kb_id_) for e in doc.ents],
        "fragments": get_fragments(doc),
        "relations": list(doc._.relations or []),
        "cats": dict(doc.cats),
    }


def round_trip(doc, folder, nlp, name="doc"):
    txt = folder / f"{name}.txt"
    write_brat_document(doc, txt)
    return read_brat_document(txt, nlp=nlp)


LABEL_WARNINGS = {"unknown_entity_label", "unknown_relation_label"}
FIXTURE_DOCS = [
    TRAIN / "obama.txt", TRAIN / "ministry.txt", DEV / "lavrov.txt",
    PROBLEMS / "bom_counted.txt", PROBLEMS / "bom_not_counted.txt", PROBLEMS / "crlf.txt",
    PROBLEMS / "malformed.txt",
]


@pytest.mark.parametrize("path", FIXTURE_DOCS, ids=lambda p: p.stem)
def test_fixture_round_trip_is_exact(path, tmp_path, nlp):
    original, _ = read_brat_document(path, nlp=nlp)
    again, report = round_trip(original, tmp_path, nlp)
    assert signature(again) == signature(original)
    # What was written is clean brat: nothing dropped or misaligned; labels outside the
    # schema (kept by the reader) are the only warnings that may come back.
    assert {w.kind for w in report.warnings} <= LABEL_WARNINGS
    assert report.entities_misaligned == 0
    assert report.entities_kept == report.entity_lines
    assert report.relations_kept == report.relation_lines
    assert report.links_kept == report.link_lines


def test_obama_keeps_nested_discontinuous_links_and_relations(tmp_path, nlp):
    original, _ = read_brat_document(TRAIN / "obama.txt", nlp=nlp)
    assert original.user_data[FRAGMENTS_KEY]  # the fixture has a discontinuous mention
    ann = doc_to_ann(original)
    parsed, warnings = parse_ann(ann)
    assert warnings == []
    discontinuous = [e for e in parsed.entities if e.is_discontinuous]
    assert [(e.label, e.fragments, e.text) for e in discontinuous] == [
        ("PROFESSION", ((72, 75), (87, 93)), "мэр Москвы")
    ]
    assert {(link.db, link.db_id) for link in parsed.links} == {
        ("Wikidata", "Q30"), ("Wikidata", "Q76"), ("Wikidata", "Q649"),
    }
    # The duplicate T12 and its copy of R1 were merged on reading; NULL links are not kb ids.
    assert len(parsed.relations) == len(original._.relations) == 3
    again, _ = round_trip(original, tmp_path, nlp)
    assert signature(again) == signature(original)


def test_written_text_is_byte_exact(tmp_path, nlp):
    original, _ = read_brat_document(PROBLEMS / "crlf.txt", nlp=nlp)
    write_brat_document(original, tmp_path / "crlf.txt")
    assert "\r\n" in original.text
    assert (tmp_path / "crlf.txt").read_bytes() == original.text.encode("utf-8")


def predicted_doc(nlp):
    doc = nlp.make_doc("Сергей Лавров прилетел в Нью-Йорк\nвчера.")
    person = Span(doc, 0, 2, label="PERSON", kb_id="Q80517")
    first_name = Span(doc, 0, 1, label="PERSON")
    city = doc.char_span(25, 33, label="CITY", kb_id="GeoNames:5128581")
    doc.spans[SPANS_KEY] = [person, first_name, city]
    doc.spans[SPANS_KEY].attrs["scores"] = [0.91, 0.42, 0.88]
    doc.ents = [person, city]
    doc._.relations = [{"head": 0, "tail": 2, "label": "PLACE_RESIDES_IN", "score": 0.7}]
    doc.cats = {"PLACE_RESIDES_IN": 0.7}
    return doc


def test_predicted_doc_writes_scores_as_notes_and_reads_back(tmp_path, nlp):
    doc = predicted_doc(nlp)
    ann = doc_to_ann(doc)
    assert "#1\tAnnotatorNotes T1\tscore=0.9100\n" in ann
    assert "AnnotatorNotes R1\tscore=0.7000" in ann
    assert "N2\tReference T3 GeoNames:5128581\tНью-Йорк\n" in ann
    again, report = round_trip(doc, tmp_path, nlp)
    assert report.warnings == [] and report.ignored_lines["#"] == 4
    assert [(s.text, s.label_, s.kb_id_) for s in again.spans[SPANS_KEY]] == [
        ("Сергей Лавров", "PERSON", "Q80517"), ("Сергей", "PERSON", ""),
        ("Нью-Йорк", "CITY", "GeoNames:5128581"),
    ]
    assert again._.relations == [{"head": 0, "tail": 2, "label": "PLACE_RESIDES_IN"}]


def test_without_span_group_writes_ents(nlp):
    doc = nlp.make_doc("Путин и Си Цзиньпин")
    doc.ents = [Span(doc, 0, 1, label="PERSON"), Span(doc, 2, 4, label="PERSON")]
    assert doc_to_ann(doc) == "T1\tPERSON 0 5\tПутин\nT2\tPERSON 8 19\tСи Цзиньпин\n"


def test_line_break_inside_mention_is_written_as_space(tmp_path, nlp):
    doc = nlp.make_doc("Белый\nдом сообщил")
    doc.spans[SPANS_KEY] = [doc.char_span(0, 9, label="FACILITY")]
    assert doc_to_ann(doc) == "T1\tFACILITY 0 9\tБелый дом\n"
    again, report = round_trip(doc, tmp_path, nlp)
    assert report.warnings == [] and signature(again)["spans"] == [(0, 9, "FACILITY", "")]


def test_fragments_not_matching_their_span_are_ignored(nlp):
    doc = nlp.make_doc("мэр и вице-мэр Москвы")
    doc.spans[SPANS_KEY] = [doc.char_span(0, 21, label="PROFESSION")]
    doc.user_data[FRAGMENTS_KEY] = {"0": [[0, 3], [15, 21]], "5": [[0, 1], [2, 3]]}
    assert doc_to_ann(doc).startswith("T1\tPROFESSION 0 3;15 21\tмэр Москвы\n")
    doc.user_data[FRAGMENTS_KEY] = {"0": [[0, 3], [15, 20]]}  # stale: hull is not the span
    assert doc_to_ann(doc).startswith("T1\tPROFESSION 0 21\t")


@pytest.mark.parametrize(
    "kb_id,expected",
    [("Q42", ("Wikidata", "Q42")), ("P31", ("Wikidata", "P31")),
     ("GeoNames:1:2", ("GeoNames", "1:2"))],
)
def test_kb_id_to_link(kb_id, expected):
    assert kb_id_to_link(kb_id) == expected


@pytest.mark.parametrize("kb_id", ["Albert Einstein", "einstein", ":Q1", "Wikidata:"])
def test_kb_id_that_cannot_round_trip_is_an_error(kb_id):
    with pytest.raises(BratWriteError, match="DB:ID"):
        kb_id_to_link(kb_id)


def test_bad_label_and_bad_relation_are_errors_naming_the_mention(tmp_path, nlp):
    doc = nlp.make_doc("Москва и Питер")
    doc.spans[SPANS_KEY] = [Span(doc, 0, 1, label="BIG CITY")]
    with pytest.raises(BratWriteError, match=r"mention 0 'Москва' \(0-6\).*one word"):
        doc_to_ann(doc)
    doc.spans[SPANS_KEY] = [Span(doc, 0, 1, label="CITY")]
    doc._.relations = [{"head": 0, "tail": 3, "label": "KNOWS"}]
    with pytest.raises(BratWriteError, match="names mention 3, but the doc has 1 mentions"):
        write_brat_document(doc, tmp_path / "bad.txt")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "a.ann"
    atomic_write_text(target, "old\n")

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("nerel_spacy.brat_writer.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.ann"]  # no temporary file left


@pytest.mark.nerel
@needs_nerel
@pytest.mark.slow
def test_nerel_dev_round_trip_is_exact(tmp_path, nlp):
    paths = find_documents(NEREL_DEV)
    assert len(paths) == 94
    totals = {"spans": 0, "relations": 0, "links": 0, "fragments": 0}
    for path in paths:
        original, _ = read_brat_document(path, nlp=nlp)
        again, report = round_trip(original, tmp_path, nlp, name=path.stem)
        assert signature(again) == signature(original), path.name
        assert report.warnings == [], (path.name, report.warnings[:3])
        totals["spans"] += len(original.spans[SPANS_KEY])
        totals["relations"] += len(original._.relations)
        totals["links"] += sum(1 for span in original.spans[SPANS_KEY] if span.kb_id_)
        totals["fragments"] += len(get_fragments(original))
    # Real content went through: thousands of mentions, relations and links, some discontinuous.
    assert totals["spans"] > 5000 and totals["relations"] > 1000 and totals["links"] > 1000
    assert totals["fragments"] > 0


def test_atomic_write_gives_new_files_the_usual_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    os.chmod(tmp_path / "new.txt", 0o600)
    atomic_write_text(tmp_path / "new.txt", "y")  # an existing file keeps its own mode
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o600


def test_atomic_write_takes_the_longest_legal_name(tmp_path, monkeypatch):
    """The temporary file must fit where its target fits: a 255-byte name is legal, and a
    temporary name built from the whole of it was not (ENAMETOOLONG)."""
    name = "д" * 125 + "x.ann"
    assert len(os.fsencode(name)) == 255
    renamed = []
    real_replace = os.replace

    def spy(src, dst):
        renamed.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr("nerel_spacy.brat_writer.os.replace", spy)
    atomic_write_text(tmp_path / name, "текст\n")
    atomic_write_bytes(tmp_path / "part-000001.spacy", b"shard")
    assert (tmp_path / name).read_text(encoding="utf-8") == "текст\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "part-000001.spacy"])
    long_tmp, shard_tmp = renamed
    # A dot-file ending in .tmp beside the target, short enough for any file system ...
    assert long_tmp.startswith(".") and long_tmp.endswith(".tmp") and len(os.fsencode(long_tmp)) <= 255
    # ... named after the target where that fits, as DocBinSink's stale-shard cleanup expects.
    assert shard_tmp.startswith(".part-000001.spacy.") and shard_tmp.endswith(".tmp")
