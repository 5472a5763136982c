"""brat reading and alignment: the data contract, and every kind of bad input."""
import json

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from nerel_spacy.brat import (
    BratFormatError,
    ReadReport,
    check_pairs,
    get_fragments,
    parse_ann,
    read_brat_document,
    read_brat_folder,
)
from nerel_spacy.schema import RELATION_TYPES, SPANS_KEY, Schema
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import DEV, MISSING_ANN, PROBLEMS, TRAIN


@pytest.fixture(scope="module")
def nlp():
    return make_blank_nlp()


@pytest.fixture(scope="module")
def obama(nlp):
    return read_brat_document(TRAIN / "obama.txt", nlp=nlp)


def spans_of(doc):
    return [(span.text, span.label_) for span in doc.spans[SPANS_KEY]]


def index_of(doc, text, label):
    return spans_of(doc).index((text, label))


# --- parsing ---------------------------------------------------------------------


def test_parse_ann_kinds_and_fields():
    text = (
        "T1\tPERSON 0 5\tОбама\n"
        "T2\tPROFESSION 20 25;10 14\tглавы адми\n"
        "R1\tWORKS_AS Arg1:T1 Arg2:T2\t\n"
        "N1\tReference T1 Wikidata:Q76\tБарак Обама\n"
        "A1\tNegated T1\n"
        "E1\tEVENT:T1\n"
        "#1\tAnnotatorNotes T1\tзаметка\n"
        "*\tOverlap T1 T2\n"
    )
    ann, warnings = parse_ann(text, "x.ann")
    assert warnings == []
    first, second = ann.entities
    assert (first.id, first.label, first.fragments, first.text, first.line) == (
        "T1", "PERSON", ((0, 5),), "Обама", 1,
    )
    assert second.fragments == ((20, 25), (10, 14))  # file order is kept
    assert (second.start, second.end, second.is_discontinuous) == (10, 25, True)
    relation = ann.relations[0]
    assert (relation.label, relation.head, relation.tail, relation.line) == ("WORKS_AS", "T1", "T2", 3)
    link = ann.links[0]
    assert (link.target, link.db, link.db_id, link.text) == ("T1", "Wikidata", "Q76", "Барак Обама")
    assert dict(ann.ignored) == {"A": 1, "E": 1, "#": 1, "*": 1}
    assert (ann.entity_lines, ann.relation_lines, ann.link_lines) == (2, 1, 1)


def test_parse_ann_swapped_argument_roles():
    ann, _ = parse_ann("R1\tWORKS_AS Arg2:T2 Arg1:T1\n")
    assert (ann.relations[0].head, ann.relations[0].tail) == ("T1", "T2")


def test_parse_ann_bom_and_crlf():
    ann, warnings = parse_ann("\ufeffT1\tCITY 0 6\tМосква\r\nR1\tKNOWS Arg1:T1 Arg2:T1\r\n")
    assert warnings == []
    assert ann.entities[0].id == "T1" and ann.entities[0].text == "Москва"
    assert ann.relations[0].tail == "T1"


# --- the data contract -------------------------------------------------------------


def test_every_entity_in_spans_with_kb_ids(obama):
    doc, _ = obama
    spans = {(span.text, span.label_): span.kb_id_ for span in doc.spans[SPANS_KEY]}
    assert spans[("США", "COUNTRY")] == "Q30"
    assert spans[("Барак Обама", "PERSON")] == "Q76"
    assert spans[("Москву", "CITY")] == "Q649"
    assert spans[("2006 году", "DATE")] == ""  # Wikidata:NULL: no item
    assert ("Президент США", "PROFESSION") in spans  # the parent of a nested entity
    assert ("9", "NUMBER") in spans  # nested inside a token spaCy would keep whole


def test_flat_view_is_outermost_and_skips_discontinuous(obama):
    doc, report = obama
    ents = [(ent.text, ent.label_) for ent in doc.ents]
    assert ("Президент США", "PROFESSION") in ents
    assert ("США", "COUNTRY") not in ents
    assert ("вице-мэр Москвы", "PROFESSION") in ents
    assert not any(label == "PROFESSION" and text.startswith("мэр") for text, label in ents)
    assert report.entities_flat == len(doc.ents)
    assert report.entities_kept == report.entities_flat + report.entities_nested + 1


def test_cats_has_every_relation_type(obama):
    doc, _ = obama
    assert list(doc.cats) == list(RELATION_TYPES) and len(doc.cats) == 49
    present = {label for label, value in doc.cats.items() if value == 1.0}
    assert present == {"WORKS_AS", "WORKPLACE", "DATE_OF_CREATION"}
    assert set(doc.cats.values()) == {0.0, 1.0}


def test_relations_index_spans_and_duplicates_merge(obama):
    doc, report = obama
    person = index_of(doc, "Барак Обама", "PERSON")
    profession = index_of(doc, "Президент США", "PROFESSION")
    assert {"head": person, "tail": profession, "label": "WORKS_AS"} in doc._.relations
    # T12 repeats T3; R4 (T12 -> T1) repeats R1 once mapped onto the kept span.
    assert spans_of(doc).count(("Барак Обама", "PERSON")) == 1
    assert report.entities_dropped == {"duplicate": 1}
    assert report.relations_dropped == {"duplicate": 1}
    assert len(doc._.relations) == report.relations_kept == 3
    for relation in doc._.relations:
        assert 0 <= relation["head"] < len(doc.spans[SPANS_KEY])
        assert 0 <= relation["tail"] < len(doc.spans[SPANS_KEY])


def test_discontinuous_entity_is_hull_with_fragments(obama):
    doc, report = obama
    i = index_of(doc, "мэр и вице-мэр Москвы", "PROFESSION")
    assert get_fragments(doc) == {i: [(72, 75), (87, 93)]}
    assert [doc.text[s:e] for s, e in get_fragments(doc)[i]] == ["мэр", "Москвы"]
    assert report.entities_discontinuous == 1
    workplace = [r for r in doc._.relations if r["label"] == "WORKPLACE"][0]
    assert workplace["head"] == i
    json.dumps(doc.user_data["nerel_fragments"])  # JSON-safe


def test_out_of_order_fragments(nlp):
    doc, report = read_brat_document(TRAIN / "ministry.txt", nlp=nlp)
    i = index_of(doc, "Министерство финансов и министерство обороны России", "ORGANIZATION")
    assert get_fragments(doc)[i] == [(0, 21), (45, 51)]  # sorted
    assert report.warnings == []  # the mention text follows the line's order
    assert {"head": i, "tail": index_of(doc, "провели встречу", "EVENT"),
            "label": "PARTICIPANT_IN"} in doc._.relations


def test_offset_inside_token_expands(obama):
    doc, report = obama
    assert ("Союз ТМА", "ORGANIZATION") in spans_of(doc)  # annotated as "оюз ТМА"
    assert report.entities_misaligned == 1


def test_report_accounts_for_every_t_line(obama):
    _, report = obama
    assert report.entity_lines == 13
    assert report.unaccounted_entities == 0
    assert (report.links_kept, report.links_nil) == (3, 1)


def test_docbin_round_trip_keeps_contract(obama):
    doc, _ = obama
    doc_bin = DocBin(store_user_data=True)
    doc_bin.add(doc)
    restored = list(DocBin(store_user_data=True).from_bytes(doc_bin.to_bytes()).get_docs(Vocab()))[0]
    assert restored.text == doc.text
    assert [(s.start, s.end, s.label_, s.kb_id_) for s in restored.spans[SPANS_KEY]] == [
        (s.start, s.end, s.label_, s.kb_id_) for s in doc.spans[SPANS_KEY]
    ]
    assert [(e.start, e.end, e.label_) for e in restored.ents] == [
        (e.start, e.end, e.label_) for e in doc.ents
    ]
    assert restored.cats == doc.cats
    assert [dict(r) for r in restored._.relations] == list(doc._.relations)
    assert get_fragments(restored) == get_fragments(doc)
    assert restored.user_data["nerel_doc_id"] == "obama"


def test_default_nlp_and_explicit_ann_path():
    doc, _ = read_brat_document(DEV / "lavrov.txt", DEV / "lavrov.ann")
    assert ("Сергей Лавров", "PERSON") in spans_of(doc)


def test_schema_decides_cats():
    schema = Schema(relation_types=("WORKS_AS", "SPOUSE"))
    doc, _ = read_brat_document(DEV / "lavrov.txt", schema=schema)
    assert doc.cats == {"WORKS_AS": 1.0, "SPOUSE": 0.0}


# --- bad input ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def malformed(nlp):
    return read_brat_document(PROBLEMS / "malformed.txt", nlp=nlp)


def test_malformed_input_becomes_warnings(malformed):
    doc, report = malformed
    kinds = report.warning_counts()
    assert kinds == {
        "malformed_line": 1,
        "malformed_entity": 1,
        "malformed_relation": 1,
        "unknown_entity_label": 1,
        "offset_out_of_range": 1,
        "text_mismatch": 1,
        "unalignable_entity": 1,
        "link_unknown_entity": 1,
        "link_id_repaired": 1,
        "relation_unknown_entity": 1,
        "unknown_relation_label": 1,
    }
    lines = {w.kind: w.line for w in report.warnings}
    assert lines["malformed_line"] == 2
    assert lines["offset_out_of_range"] == 6
    assert lines["relation_unknown_entity"] == 10
    for warning in report.warnings:
        assert warning.path.endswith("malformed.ann")
        assert warning.hint
        assert str(warning).startswith(f"{warning.path}:{warning.line}: ")


def test_malformed_input_accounting(malformed):
    doc, report = malformed
    assert report.entity_lines == 7
    assert report.entities_dropped == {"malformed": 1, "offset_out_of_range": 1, "unalignable": 1}
    assert report.entities_kept == 4 and report.unaccounted_entities == 0
    assert report.relations_dropped == {"malformed": 1, "unknown_entity": 1, "entity_dropped": 1}
    assert report.links_dropped == {"unknown_entity": 1}
    assert dict(report.ignored_lines) == {"A": 1, "#": 1, "*": 1}


def test_malformed_input_keeps_what_it_can(malformed):
    doc, _ = malformed
    spans = {(s.text, s.label_): s.kb_id_ for s in doc.spans[SPANS_KEY]}
    assert spans[("Газпром", "ORGANIZATION")] == "Q102673"
    assert spans[("Москве", "CITY")] == "Q649"  # "(Q649)" repaired
    assert ("Газпром", "WEIRD_LABEL") in spans  # unknown label kept
    assert ("8 млн долларов", "MONEY") in spans  # offsets win over the mention text
    labels = [r["label"] for r in doc._.relations]
    assert labels == ["HEADQUARTERED_IN", "MADE_UP"]
    assert "MADE_UP" not in doc.cats and doc.cats["HEADQUARTERED_IN"] == 1.0


def test_strict_raises_on_first_problem(nlp):
    with pytest.raises(BratFormatError) as excinfo:
        read_brat_document(PROBLEMS / "malformed.txt", nlp=nlp, strict=True)
    err = excinfo.value
    assert err.line == 2 and err.path.endswith("malformed.ann")
    assert str(err).startswith(f"{err.path}:2: not a brat annotation line")


def test_strict_accepts_clean_documents(nlp):
    doc, report = read_brat_document(DEV / "lavrov.txt", nlp=nlp, strict=True)
    assert report.warnings == [] and len(doc.spans[SPANS_KEY]) == 4


@pytest.mark.parametrize("name", ["bom_counted", "bom_not_counted"])
def test_bom_never_reaches_text_and_offsets_match(nlp, name):
    """brat counts a .txt BOM as a character; other tools do not. Both read right."""
    doc, report = read_brat_document(PROBLEMS / f"{name}.txt", nlp=nlp)
    assert not doc.text.startswith("\ufeff")
    assert spans_of(doc) == [
        ("Владимир Путин", "PERSON"), ("Ангелой Меркель", "PERSON"), ("Берлине", "CITY")
    ]
    assert report.warning_counts() == {"bom_in_text": 1}
    assert report.warnings[0].path.endswith(f"{name}.txt")
    assert ("counting it, as brat does" in report.warnings[0].message) == (name == "bom_counted")
    assert report.entities_misaligned == 0


def test_crlf_offsets_count_both_characters(nlp):
    """brat offsets count \\r\\n as two characters; the text keeps them, so spans match."""
    doc, report = read_brat_document(PROBLEMS / "crlf.txt", nlp=nlp)
    assert "\r\n" in doc.text
    assert spans_of(doc) == [
        ("Сбербанк", "ORGANIZATION"), ("Тинькофф", "ORGANIZATION"), ("Москве", "CITY")
    ]
    assert report.warnings == [] and report.entities_misaligned == 0
    assert doc._.relations == [{"head": 1, "tail": 2, "label": "HEADQUARTERED_IN"}]


def test_txt_without_ann_is_an_error(nlp):
    with pytest.raises(BratFormatError, match=r"lonely\.txt: no annotation file lonely\.ann"):
        read_brat_document(MISSING_ANN / "lonely.txt", nlp=nlp)
    with pytest.raises(BratFormatError, match="lonely.txt"):
        next(read_brat_folder(MISSING_ANN, nlp))


def test_ann_without_txt_is_an_error(tmp_path, nlp):
    """An .ann without its .txt fails like a .txt without its .ann, before any reading."""
    (tmp_path / "a.txt").write_text("Москва\n", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tCITY 0 6\tМосква\n", encoding="utf-8")
    (tmp_path / "b.ann").write_text("T1\tCITY 0 4\tКиев\n", encoding="utf-8")
    message = r"b\.ann: no text file b\.txt next to it \(add the \.txt it annotates or remove the \.ann\)"
    with pytest.raises(BratFormatError, match=message):
        check_pairs(tmp_path)
    with pytest.raises(BratFormatError, match=message):
        next(read_brat_folder(tmp_path, nlp))
    # Both kinds at once: the first unpaired file by name is named.
    (tmp_path / "c.txt").write_text("Минск\n", encoding="utf-8")
    (tmp_path / "0.ann").write_text("", encoding="utf-8")
    with pytest.raises(BratFormatError, match=r"0\.ann: no text file 0\.txt"):
        check_pairs(tmp_path)


def test_missing_folder_is_an_error(tmp_path, nlp):
    with pytest.raises(BratFormatError, match="folder not found"):
        list(read_brat_folder(tmp_path / "nope", nlp))


def test_invalid_utf8_is_an_error(tmp_path, nlp):
    (tmp_path / "bad.txt").write_bytes("Москва".encode("cp1251"))
    (tmp_path / "bad.ann").write_text("T1\tCITY 0 6\tМосква\n", encoding="utf-8")
    with pytest.raises(BratFormatError, match="not valid UTF-8"):
        read_brat_document(tmp_path / "bad.txt", nlp=nlp)


def test_invalid_utf8_names_the_bad_file(tmp_path, nlp):
    """A cp1251 .ann beside a good .txt is blamed on the .ann, not the .txt."""
    (tmp_path / "d.txt").write_text("Москва\n", encoding="utf-8")
    (tmp_path / "d.ann").write_bytes("T1\tCITY 0 6\tМосква\n".encode("cp1251"))
    with pytest.raises(BratFormatError) as caught:
        read_brat_document(tmp_path / "d.txt", nlp=nlp)
    assert caught.value.path.endswith("d.ann")
    assert "not valid UTF-8" in caught.value.message and ".ann as UTF-8" in caught.value.hint


def test_bom_warnings_give_offsets_as_written(tmp_path, nlp):
    """With a counted BOM, offsets in warnings are the .ann's, not the shifted ones."""
    text = "\ufeffМосква и Киев\n"  # 15 characters as brat counts them
    (tmp_path / "d.txt").write_text(text, encoding="utf-8")
    (tmp_path / "d.ann").write_text(
        "T1\tCITY 1 7\tМосква\n"  # matches only when the BOM counts
        "T2\tCITY 12 20\tКиев\n"
        "T3\tCITY 9 9\t\n"
        "T4\tCITY 7 8\t \n",
        encoding="utf-8",
    )
    doc, report = read_brat_document(tmp_path / "d.txt", nlp=nlp)
    assert spans_of(doc) == [("Москва", "CITY")]
    messages = {warning.kind: warning.message for warning in report.warnings}
    assert "counting it" in messages["bom_in_text"]
    assert messages["offset_out_of_range"] == (
        "T2 offsets 12-20 lie outside the text (length 15, BOM included)"
    )
    assert messages["empty_span"] == "T3 has an empty or reversed fragment 9-9"
    assert messages["unalignable_entity"] == "T4 ' ' (7-8) covers no token"


def test_conflicting_links_keep_first(tmp_path, nlp):
    (tmp_path / "d.txt").write_text("Россия\n", encoding="utf-8")
    (tmp_path / "d.ann").write_text(
        "T1\tCOUNTRY 0 6\tРоссия\n"
        "N1\tReference T1 Wikidata:NULL\tнет данных\n"
        "N2\tReference T1 Wikidata:Q159\tРоссия\n"
        "N3\tReference T1 Wikidata:Q1\tВселенная\n",
        encoding="utf-8",
    )
    doc, report = read_brat_document(tmp_path / "d.txt", nlp=nlp)
    assert doc.spans[SPANS_KEY][0].kb_id_ == "Q159"  # a real id wins over NULL
    assert report.warning_counts() == {"conflicting_links": 1}
    assert report.warnings[0].line == 4
    assert (report.links_kept, report.links_nil, dict(report.links_dropped)) == (
        1, 1, {"conflicting": 1},
    )


def test_duplicate_ids_and_empty_fragments(tmp_path, nlp):
    (tmp_path / "d.txt").write_text("Москва и Киев\n", encoding="utf-8")
    (tmp_path / "d.ann").write_text(
        "T1\tCITY 0 6\tМосква\nT1\tCITY 9 13\tКиев\nT2\tCITY 5 5\t\n", encoding="utf-8"
    )
    doc, report = read_brat_document(tmp_path / "d.txt", nlp=nlp)
    assert spans_of(doc) == [("Москва", "CITY")]
    assert report.entities_dropped == {"duplicate_id": 1, "empty_span": 1}
    assert report.unaccounted_entities == 0


def test_empty_ann_gives_empty_doc(tmp_path, nlp):
    (tmp_path / "d.txt").write_text("Просто текст.\n", encoding="utf-8")
    (tmp_path / "d.ann").write_text("", encoding="utf-8")
    doc, report = read_brat_document(tmp_path / "d.txt", nlp=nlp)
    assert len(doc.spans[SPANS_KEY]) == 0 and len(doc.ents) == 0
    assert sum(doc.cats.values()) == 0 and doc._.relations == []
    assert report.documents == 1 and report.warnings == []


def test_read_folder_and_merge_reports(nlp):
    total = ReadReport()
    names = []
    for doc, report in read_brat_folder(PROBLEMS, nlp):
        names.append(doc.user_data["nerel_doc_id"])
        total.merge(report)
    assert names == ["bom_counted", "bom_not_counted", "crlf", "malformed"]
    assert total.documents == 4
    assert total.entity_lines == 3 + 3 + 3 + 7
    assert total.unaccounted_entities == 0
    assert total.warning_counts()["bom_in_text"] == 2
    assert total.first_warnings()["bom_in_text"].path.endswith("bom_counted.txt")
    json.dumps(total.to_dict())
