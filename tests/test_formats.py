"""Output formats of annotate: ids as paths, brat/spacy/html sinks, resume, and join_parts."""
import os

import numpy
import pytest
import spacy
from hypothesis import example, given
from hypothesis import strategies as st
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus

from nerel_spacy.annotate import OutputError, split_text
from nerel_spacy.brat import DOC_ID_KEY, FRAGMENTS_KEY, get_fragments, read_brat_document
from nerel_spacy.corpus import convert_split
from nerel_spacy.formats import (
    BratSink,
    DocBinSink,
    DocSink,
    HtmlSink,
    annotation_conf_for,
    id_to_relpath,
    join_parts,
    open_sink,
    read_docbin_output,
    relpath_to_ids,
    shard_paths,
)
from nerel_spacy.schema import SPANS_KEY, parse_annotation_conf
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import DEV, TRAIN

FIXTURES = [TRAIN / "obama.txt", TRAIN / "ministry.txt", DEV / "lavrov.txt"]


@pytest.fixture(scope="module")
def brat_nlp():
    return make_blank_nlp()


@pytest.fixture(scope="module")
def gold_docs(brat_nlp):
    return [read_brat_document(path, nlp=brat_nlp)[0] for path in FIXTURES]


def signature(doc):
    return (
        doc.text,
        [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans.get(SPANS_KEY, [])],
        [(e.start_char, e.end_char, e.label_) for e in doc.ents],
        get_fragments(doc),
        list(doc._.relations or []),
    )


# --- ids as paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc_id,relpath",
    [
        ("sub/dir/file.txt", "sub/dir/file"),
        ("новости/статья.txt", "новости/статья"),
        ("notes.md", "notes.md"),
        ("stdin:3", "stdin:3"),
        ("a%b", "a%25b"),
        ("back\\slash", "back%5Cslash"),
        ("../etc/passwd", "..%2Fetc%2Fpasswd"),
        ("/abs/x.txt", "%2Fabs%2Fx"),
        ("a//b", "a%2F%2Fb"),
        ("..", "%2E%2E"),
        (".txt", ".txt"),
    ],
)
def test_id_to_relpath(doc_id, relpath):
    assert id_to_relpath(doc_id) == relpath
    assert doc_id in relpath_to_ids(relpath)


def test_empty_id_is_an_error():
    with pytest.raises(ValueError, match="must not be empty"):
        id_to_relpath("")


@given(st.text(min_size=1, max_size=30))
def test_every_id_stays_inside_and_comes_back(doc_id):
    relpath = id_to_relpath(doc_id)
    parts = relpath.split("/")
    assert not relpath.startswith("/")
    assert all(part not in ("", ".", "..") and "\\" not in part for part in parts)
    assert not any(ord(ch) < 32 for ch in relpath)
    assert doc_id in relpath_to_ids(relpath)


def _without_txt(doc_id: str) -> str:
    return doc_id[:-4] if doc_id.endswith(".txt") and doc_id != ".txt" else doc_id


@given(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12))
def test_only_a_txt_suffix_makes_two_ids_share_a_path(first, second):
    if id_to_relpath(first) == id_to_relpath(second):
        assert _without_txt(first) == _without_txt(second)


@example("a", "", ".txt")
@example("news/a", ".txt", "")
@given(st.text(min_size=1, max_size=12), st.sampled_from(["", ".txt"]), st.sampled_from(["", ".txt"]))
def test_an_id_and_the_same_id_with_txt_share_a_path(stem, first_suffix, second_suffix):
    first, second = stem + first_suffix, stem + second_suffix
    assert (id_to_relpath(first) == id_to_relpath(second)) == (_without_txt(first) == _without_txt(second))


def test_ids_differing_only_in_case_are_one_file_where_the_folder_ignores_case(tmp_path, monkeypatch):
    from nerel_spacy.formats import base

    assert base.folder_ignores_case(tmp_path) is False  # Linux: case matters
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    sensitive = base.PathRegistry()
    assert sensitive.claim("A.txt") != sensitive.claim("a.txt")
    insensitive = base.PathRegistry(ignore_case=True)
    insensitive.claim("news/Москва.txt")
    with pytest.raises(OutputError, match="nor does case on this file system"):
        insensitive.claim("NEWS/МОСКВА")
    insensitive.claim("Йошкар-Ола")
    with pytest.raises(OutputError):  # the same name with Й decomposed, as macOS may spell it
        insensitive.claim("Йошкар-Ола".replace("Й", "И\u0306"))
    monkeypatch.setattr(base, "folder_ignores_case", lambda folder: True)
    sink = base.FolderSink(tmp_path / "out")
    sink.suffixes = (".txt",)
    sink.paths_for("A")
    with pytest.raises(OutputError):
        sink.paths_for("a.txt")


# --- brat ------------------------------------------------------------------------------


def test_brat_sink_writes_pairs_that_convert_reads_back_exactly(tmp_path, gold_docs, brat_nlp):
    out = tmp_path / "out"
    with BratSink(out, annotation_conf=annotation_conf_for()) as sink:
        assert isinstance(sink, DocSink)
        for path, doc in zip(FIXTURES, gold_docs):
            sink.write(path.name, doc)
    assert sorted(p.name for p in out.iterdir()) == [
        "annotation.conf", "lavrov.ann", "lavrov.txt", "ministry.ann", "ministry.txt",
        "obama.ann", "obama.txt",
    ]
    assert parse_annotation_conf((out / "annotation.conf").read_text()).entity_types[0] == "AGE"
    # nerel-batch convert's reader gives back exactly what went in.
    convert_split(out, tmp_path / "back.spacy", brat_nlp)
    back = list(DocBin().from_disk(tmp_path / "back.spacy").get_docs(brat_nlp.vocab))
    by_text = {doc.text: doc for doc in back}
    for doc in gold_docs:
        assert signature(by_text[doc.text]) == signature(doc)
        assert by_text[doc.text].cats == doc.cats


def test_brat_sink_subfolders_resume_and_incomplete_pairs(tmp_path, gold_docs):
    out = tmp_path / "out"
    sink = BratSink(out)
    sink.write("news/2020/obama.txt", gold_docs[0])
    sink.write("stdin:7", gold_docs[2])
    sink.close()
    assert (out / "news" / "2020" / "obama.ann").is_file()
    assert (out / "stdin:7.txt").is_file() and (out / "stdin:7.ann").is_file()
    # A crash between the .txt and the .ann leaves a pair that is not done.
    (out / "half.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="add --resume"):
        BratSink(out)
    resumed = BratSink(out, resume=True)
    done = resumed.done_ids()
    assert {"news/2020/obama.txt", "stdin:7"} <= done
    assert "half.txt" not in done and "half" not in done



def test_a_crash_while_overwriting_a_pair_leaves_it_to_be_written_again(tmp_path, gold_docs, monkeypatch):
    """--overwrite then a crash between the new .txt and the new .ann: the old .ann must not
    make the document count as done beside a .txt it does not belong to."""
    import nerel_spacy.brat_writer as brat_writer

    out = tmp_path / "out"
    with BratSink(out) as sink:
        sink.write("a.txt", gold_docs[0])
    real_write = brat_writer.atomic_write_text

    def crash_on_ann(path, text):
        if str(path).endswith(".ann"):
            raise KeyboardInterrupt
        real_write(path, text)

    monkeypatch.setattr(brat_writer, "atomic_write_text", crash_on_ann)
    with pytest.raises(KeyboardInterrupt):
        BratSink(out, overwrite=True).write("a.txt", gold_docs[1])
    assert (out / "a.txt").read_text(encoding="utf-8") == gold_docs[1].text
    assert BratSink(out, resume=True).done_ids() == set()


def test_atomic_writes_fsync_the_folder_after_the_rename(tmp_path, monkeypatch):
    import os

    from nerel_spacy.brat_writer import atomic_write_text

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.path.isdir(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    atomic_write_text(tmp_path / "x.txt", "новый")
    assert (tmp_path / "x.txt").read_text(encoding="utf-8") == "новый"
    assert synced == [False, True]  # the file's data, then the folder's entry


@pytest.mark.parametrize("sink_class", [BratSink, HtmlSink])
def test_dot_named_documents_are_done_and_other_files_are_not(sink_class, tmp_path, gold_docs):
    """A document named ".hidden.txt" is done once written, so --resume doesn't write it again
    (over a hand-corrected .ann); temporary files, the manifest and the errors file never count."""
    out = tmp_path / "out"
    with sink_class(out) as sink:
        sink.write(".hidden.txt", gold_docs[2])
        sink.write("sub/.dot", gold_docs[1])
    last = sink_class.suffixes[-1]
    assert (out / (".hidden" + last)).is_file()
    # What else lives in an output folder: a temporary file of a write cut short, the manifest,
    # the errors file, brat's annotation.conf, and a temporary of each suffix.
    for name in ["annotate-run.json", "annotate-errors.jsonl", "annotation.conf", ".annotate-run.json.k2j4.tmp"]:
        (out / name).write_text("{}", encoding="utf-8")
    for suffix in sink_class.suffixes:
        (out / f".half{suffix}.a1b2c3d4.tmp").write_text("x", encoding="utf-8")
        (out / f".tmpa1b2c3d4{suffix}.tmp").write_text("x", encoding="utf-8")
    assert sink_class(out, resume=True).done_ids() == {".hidden.txt", ".hidden", "sub/.dot.txt", "sub/.dot"}


def test_brat_sink_writes_the_longest_legal_name(tmp_path, gold_docs):
    doc_id = "д" * 125 + "x.txt"  # the .txt and the .ann are 255 bytes, the most a name may have
    with BratSink(tmp_path / "out") as sink:
        sink.write(doc_id, gold_docs[2])
    assert len(os.fsencode(doc_id)) == 255
    assert (tmp_path / "out" / doc_id).read_text(encoding="utf-8") == gold_docs[2].text
    assert BratSink(tmp_path / "out", resume=True).done_ids() == {doc_id, doc_id[:-4]}
    assert not list((tmp_path / "out").glob(".*"))

def test_brat_sink_refuses_two_ids_for_one_file(tmp_path, gold_docs):
    sink = BratSink(tmp_path / "out")
    sink.write("a.txt", gold_docs[2])
    sink.write("a.txt", gold_docs[2])  # the same id again replaces its own files
    with pytest.raises(OutputError, match="'a.txt' and 'a' would be written to the same file"):
        sink.write("a", gold_docs[2])


def test_folder_output_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        BratSink(tmp_path / "file")
    with pytest.raises(OutputError, match="contradict"):
        HtmlSink(tmp_path / "new", resume=True, overwrite=True)
    with pytest.raises(ValueError, match="unknown output format 'xml'; choose one of jsonl, spacy"):
        open_sink("xml", tmp_path / "x")


# --- spacy (DocBin shards) -------------------------------------------------------------


def predicted(nlp, text, n):
    """A doc like a predicting pipeline makes: scores in attrs, scored relations, cats."""
    doc = nlp.make_doc(text)
    spans = [doc[i : i + 1] for i in range(0, min(len(doc), 2 * n), 2)]
    for span in spans:
        span.label_ = "PERSON"
    doc.spans[SPANS_KEY] = spans
    doc.spans[SPANS_KEY].attrs["scores"] = numpy.asarray([0.5 + i / 10 for i in range(len(spans))], dtype="float32")
    doc.ents = spans
    doc._.relations = [{"head": 0, "tail": len(spans) - 1, "label": "KNOWS", "score": 0.75}]
    doc.cats = {"KNOWS": 0.75, "SPOUSE": 0.1}
    return doc


def test_docbin_sink_shards_and_reads_everything_back(tmp_path, brat_nlp):
    out = tmp_path / "out"
    docs = [predicted(brat_nlp, f"Иван {i} и Пётр {i} знакомы .", 2) for i in range(5)]
    with DocBinSink(out, docs_per_shard=2) as sink:
        for i, doc in enumerate(docs):
            sink.write(f"doc{i}.txt", doc)
    assert [p.name for p in shard_paths(out)] == [
        "part-000000.spacy", "part-000001.spacy", "part-000002.spacy",
    ]
    back = list(read_docbin_output(out, brat_nlp.vocab))
    assert [doc.user_data[DOC_ID_KEY] for doc in back] == [f"doc{i}.txt" for i in range(5)]
    for original, doc in zip(docs, back):
        assert signature(doc) == signature(original)
        assert doc.cats == pytest.approx(original.cats)
        assert list(doc.spans[SPANS_KEY].attrs["scores"]) == pytest.approx([0.5, 0.6])
        assert list(doc._.relations) == [{"head": 0, "tail": 1, "label": "KNOWS", "score": 0.75}]
    # One shard through DocBin itself, the whole folder through spaCy's corpus reader.
    assert len(DocBin().from_disk(shard_paths(out)[0])) == 2
    assert len(list(Corpus(out)(brat_nlp))) == 5


def test_docbin_sink_resume_continues_and_overwrite_starts_again(tmp_path, brat_nlp):
    out = tmp_path / "out"
    sink = DocBinSink(out, docs_per_shard=2)
    for i in range(3):
        sink.write(f"d{i}", predicted(brat_nlp, f"Анна {i} видела Олега .", 1))
    # Killed before close: only the full shard is on disk; its docs are done, d2 is not.
    (out / ".part-000001.spacy.x1.tmp").write_bytes(b"half a shard")
    resumed = DocBinSink(out, resume=True, docs_per_shard=2)
    assert resumed.done_ids() == {"d0", "d1"}
    assert not list(out.glob("*.tmp"))
    resumed.write("d2", predicted(brat_nlp, "Анна 2 видела Олега .", 1))
    resumed.close()
    assert [p.name for p in shard_paths(out)] == ["part-000000.spacy", "part-000001.spacy"]
    assert [d.user_data[DOC_ID_KEY] for d in read_docbin_output(out, brat_nlp.vocab)] == ["d0", "d1", "d2"]
    fresh = DocBinSink(out, overwrite=True)
    assert fresh.done_ids() == set() and shard_paths(out) == []


def test_docbin_sink_names_a_corrupt_shard(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-000000.spacy").write_bytes(b"not a docbin")
    with pytest.raises(OutputError, match=r"part-000000.spacy: not a readable DocBin.*delete that shard"):
        DocBinSink(out, resume=True).done_ids()


# --- html ------------------------------------------------------------------------------


def test_html_sink_writes_one_page_per_document(tmp_path, gold_docs):
    out = tmp_path / "out"
    sink = open_sink("html", out)
    sink.write("sub/obama.txt", gold_docs[0])
    sink.close()
    page = (out / "sub" / "obama.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page and "<title>sub/obama.txt</title>" in page
    assert "PROFESSION" in page and "Барак Обама" in page
    assert HtmlSink(out, resume=True).done_ids() >= {"sub/obama.txt"}


# --- join_parts ------------------------------------------------------------------------


@Language.component("formats_test_relations")
def _relations_component(doc: Doc) -> Doc:
    """Scores every mention, relates each mention to the next, scores two relation types."""
    group = doc.spans[SPANS_KEY]
    group.attrs["scores"] = [round(0.5 + 0.001 * span.start_char, 4) for span in group]
    doc._.relations = [
        {"head": i, "tail": i + 1, "label": "KNOWS", "score": 0.9} for i in range(len(group) - 1)
    ]
    doc.cats = {"KNOWS": 0.2 + 0.01 * len(doc), "SPOUSE": 0.3}
    return doc


@pytest.fixture(scope="module")
def part_nlp():
    nlp = spacy.blank("ru")
    patterns = [
        {"label": "PERSON", "pattern": [{"TEXT": "Иван"}, {"TEXT": "Петров"}]},
        {"label": "CITY", "pattern": "Москве"},
        {"label": "ORGANIZATION", "pattern": [{"TEXT": "Банк"}, {"TEXT": "России"}]},
        {"label": "COUNTRY", "pattern": "России"},
    ]
    nlp.add_pipe("span_ruler", config={"spans_key": SPANS_KEY}).add_patterns(patterns)
    nlp.add_pipe("entity_ruler").add_patterns(patterns[:3])
    nlp.add_pipe("formats_test_relations")
    return nlp


TEXT = (
    "Иван Петров работает в Москве.\n\nБанк России находится в Москве. "
    "Иван Петров любит Банк России.\r\nКонец."
)


def test_join_parts_equals_the_parts_put_together(part_nlp):
    ranges = split_text(TEXT, 40)
    assert len(ranges) >= 3
    parts = [(part_nlp(TEXT[start:end]), start) for start, end in ranges]
    for doc, _ in parts:
        doc.user_data[FRAGMENTS_KEY] = {"0": [[0, 2], [5, 8]]} if len(doc.spans[SPANS_KEY]) else {}
    joined = join_parts(parts)
    assert joined.text == TEXT
    expected_spans, expected_scores, expected_relations, expected_fragments = [], [], [], {}
    for doc, start in parts:
        base = len(expected_spans)
        expected_spans += [(s.start_char + start, s.end_char + start, s.label_) for s in doc.spans[SPANS_KEY]]
        expected_scores += doc.spans[SPANS_KEY].attrs["scores"]
        expected_relations += [dict(r, head=r["head"] + base, tail=r["tail"] + base) for r in doc._.relations]
        for i, frags in get_fragments(doc).items():
            expected_fragments[i + base] = [(s + start, e + start) for s, e in frags]
    group = joined.spans[SPANS_KEY]
    assert [(s.start_char, s.end_char, s.label_) for s in group] == expected_spans
    whole = part_nlp(TEXT)  # no cut falls inside a mention, so the whole text agrees
    assert [(s.start_char, s.end_char, s.label_) for s in whole.spans[SPANS_KEY]] == expected_spans
    assert len(group) == 8 and group.attrs["scores"] == expected_scores
    assert joined._.relations == expected_relations
    part_of = lambda span: next(i for i, (s, e) in enumerate(ranges) if s <= span.start_char < e)  # noqa: E731
    for relation in joined._.relations:  # shifted indices name two mentions of one part
        assert part_of(group[relation["head"]]) == part_of(group[relation["tail"]])
    assert get_fragments(joined) == expected_fragments
    ents = [(e.start_char, e.end_char, e.label_) for e in joined.ents]
    assert ents == [(s + o, e + o, lbl) for d, o in parts for s, e, lbl in
                    [(x.start_char, x.end_char, x.label_) for x in d.ents]]
    assert joined.cats == {
        "KNOWS": max(doc.cats["KNOWS"] for doc, _ in parts), "SPOUSE": 0.3,
    }


def test_join_parts_single_part_and_numpy_scores(part_nlp):
    doc = part_nlp("Иван Петров в Москве.")
    assert join_parts([(doc, 0)]) is doc
    first, second = part_nlp("Иван Петров. "), part_nlp("Банк России.")
    first.spans[SPANS_KEY].attrs["scores"] = numpy.asarray([0.25], dtype="float32")
    second.spans[SPANS_KEY].attrs["scores"] = numpy.asarray([0.5, 0.75], dtype="float32")
    joined = join_parts([(first, 0), (second, 13)])
    assert isinstance(joined.spans[SPANS_KEY].attrs["scores"], numpy.ndarray)
    assert list(joined.spans[SPANS_KEY].attrs["scores"]) == [0.25, 0.5, 0.75]


def test_join_parts_refuses_gaps(part_nlp):
    first, second = part_nlp("Иван Петров. "), part_nlp("Банк России.")
    with pytest.raises(ValueError, match="part 1 starts at character 20, but the parts before it end at 13"):
        join_parts([(first, 0), (second, 20)])
    with pytest.raises(ValueError, match="at least one part"):
        join_parts([])
