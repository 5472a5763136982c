"""Split discovery, conversion to .spacy, and corpus statistics."""
import json
import shutil

import pytest
from spacy.tokens import DocBin, Span

from nerel_spacy.brat import BratFormatError, get_fragments
from nerel_spacy.corpus import (
    convert_corpus,
    corpus_stats,
    discover_splits,
    find_split_file,
    find_split_files,
    nesting_depths,
    read_corpus,
)
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import DEV, MISSING_ANN, NEREL_ROOT, PROBLEMS, TRAIN


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    reports = convert_corpus(NEREL_ROOT, out)
    return out, reports


def test_discover_nerel_layout():
    assert discover_splits(NEREL_ROOT) == {"train": TRAIN, "dev": DEV}


def test_discover_flat_folder_and_name():
    assert discover_splits(PROBLEMS) == {"problems": PROBLEMS}
    assert discover_splits(PROBLEMS, name="test") == {"test": PROBLEMS}


def test_discover_errors(tmp_path):
    with pytest.raises(BratFormatError, match="input folder not found"):
        discover_splits(tmp_path / "missing")
    with pytest.raises(BratFormatError, match="no train/, dev/ or test/ subfolder"):
        discover_splits(tmp_path)
    with pytest.raises(BratFormatError, match="--name"):
        discover_splits(NEREL_ROOT, name="train")


def test_convert_writes_one_docbin_per_split(converted):
    out, reports = converted
    assert sorted(p.name for p in out.iterdir()) == ["dev.spacy", "train.spacy"]
    assert list(reports) == ["train", "dev"]
    assert reports["train"].documents == 2 and reports["dev"].documents == 1
    for report in reports.values():
        assert report.unaccounted_entities == 0


def test_docbin_keeps_the_contract(converted):
    out, _ = converted
    docs = {doc.user_data["nerel_doc_id"]: doc for doc in read_corpus(out / "train.spacy")}
    assert sorted(docs) == ["ministry", "obama"]
    obama = docs["obama"]
    spans = {(s.text, s.label_): s.kb_id_ for s in obama.spans[SPANS_KEY]}
    assert spans[("Барак Обама", "PERSON")] == "Q76"
    assert len(spans) == 12
    assert [e.text for e in obama.ents][:2] == ["Президент США", "Барак Обама"]
    assert len(obama.cats) == 49 and obama.cats["WORKS_AS"] == 1.0
    assert len(obama._.relations) == 3
    hull = [s.text for s in obama.spans[SPANS_KEY]].index("мэр и вице-мэр Москвы")
    assert get_fragments(obama) == {hull: [(72, 75), (87, 93)]}
    ministry = docs["ministry"]
    assert get_fragments(ministry) == {0: [(0, 21), (45, 51)]}


def test_missing_ann_fails_before_writing(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    shutil.copy(MISSING_ANN / "lonely.txt", root / "dev" / "lonely.txt")
    with pytest.raises(BratFormatError, match="lonely.txt: no annotation file"):
        convert_corpus(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # train was not written either


def test_ann_without_txt_fails_before_writing(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    (root / "dev" / "lavrov.txt").rename(root / "dev" / "lavrov.txt.bak")
    with pytest.raises(BratFormatError, match=r"lavrov\.ann: no text file lavrov\.txt"):
        convert_corpus(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_empty_split_folder_is_an_error(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    (root / "test").mkdir()
    with pytest.raises(BratFormatError, match=r"test: split folder holds no documents"):
        convert_corpus(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failed_split_leaves_outputs_as_they_were(tmp_path):
    """dev fails after train was read: no new train.spacy beside a stale dev.spacy."""
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    (root / "dev" / "lavrov.txt").write_bytes("Москва".encode("cp1251"))  # not UTF-8
    out = tmp_path / "out"
    out.mkdir()
    for split in ("train", "dev"):
        (out / f"{split}.spacy").write_bytes(b"stale " + split.encode())
    with pytest.raises(BratFormatError, match=r"lavrov\.txt: not valid UTF-8"):
        convert_corpus(root, out)
    assert sorted(p.name for p in out.iterdir()) == ["dev.spacy", "train.spacy"]
    assert (out / "train.spacy").read_bytes() == b"stale train"
    assert (out / "dev.spacy").read_bytes() == b"stale dev"
    # The same in strict mode, where the first warning in dev is the error.
    (root / "dev" / "lavrov.txt").write_text((DEV / "lavrov.txt").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    with open(root / "dev" / "lavrov.ann", "a", encoding="utf-8") as ann:
        ann.write("T99\tPERSON 5000 5007\tx\n")
    with pytest.raises(BratFormatError, match="T99 offsets 5000-5007"):
        convert_corpus(root, out, strict=True)
    assert (out / "train.spacy").read_bytes() == b"stale train"
    # Once every split reads, both files are replaced and no temporary file is left.
    convert_corpus(root, out)
    assert sorted(p.name for p in out.iterdir()) == ["dev.spacy", "train.spacy"]
    assert len(read_corpus(out / "dev.spacy")) == 1


def test_write_doc_bins_is_all_or_nothing(tmp_path):
    from nerel_spacy.corpus import write_doc_bins

    first = tmp_path / "a.spacy"
    first.write_bytes(b"old")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(OSError):
        write_doc_bins({first: DocBin(), tmp_path / "blocker" / "b.spacy": DocBin()})
    assert first.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.spacy", "blocker"]


@pytest.mark.parametrize(
    "conf,message",
    [
        ("[relations]\nFOO\tArg1:X, Arg2:Y\n".encode("utf-8"), "no \\[entities\\] section"),
        ("[entities]\nПЕРСОНА\n".encode("cp1251"), "not valid UTF-8"),
    ],
)
def test_bad_annotation_conf_is_a_format_error(tmp_path, conf, message):
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    (root / "annotation.conf").write_bytes(conf)
    with pytest.raises(BratFormatError, match=rf"annotation\.conf: {message}") as caught:
        convert_corpus(root, tmp_path / "out")
    assert "annotation.conf" in caught.value.hint
    assert not (tmp_path / "out").exists()


def test_convert_flat_folder_with_name(tmp_path):
    reports = convert_corpus(DEV, tmp_path, name="test")
    assert list(reports) == ["test"] and (tmp_path / "test.spacy").exists()


def test_convert_strict(tmp_path):
    # Documents are read by name: bom_counted.txt comes first, and a BOM is a warning too.
    with pytest.raises(BratFormatError, match=r"bom_counted\.txt: the text starts with a UTF-8 BOM"):
        convert_corpus(PROBLEMS, tmp_path, strict=True)
    reports = convert_corpus(NEREL_ROOT, tmp_path, strict=True)
    assert all(not report.warnings for report in reports.values())


def test_annotation_conf_sets_cats(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    (root / "annotation.conf").write_text(
        "[entities]\nPERSON\nPROFESSION\n\n[relations]\n"
        "WORKS_AS\tArg1:PERSON, Arg2:PROFESSION\nSPOUSE\tArg1:PERSON, Arg2:PERSON\n",
        encoding="utf-8",
    )
    reports = convert_corpus(root, tmp_path / "out")
    doc = read_corpus(tmp_path / "out" / "dev.spacy")[0]
    assert doc.cats == {"WORKS_AS": 1.0, "SPOUSE": 0.0}
    # CITY, COUNTRY and the WORKPLACE relation are now outside the schema: kept, warned.
    assert reports["dev"].warning_counts() == {
        "unknown_entity_label": 2, "unknown_relation_label": 1,
    }


def test_read_corpus_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nerel-batch convert"):
        read_corpus(tmp_path / "nope.spacy")


def test_nesting_depths():
    nlp = make_blank_nlp()
    doc = nlp.make_doc("Министр иностранных дел России Сергей Лавров")
    doc.spans[SPANS_KEY] = [
        Span(doc, 0, 4, "PROFESSION"),
        Span(doc, 1, 4, "ORGANIZATION"),
        Span(doc, 3, 4, "COUNTRY"),
        Span(doc, 3, 4, "NATIONALITY"),  # same bounds: same depth
        Span(doc, 4, 6, "PERSON"),
    ]
    assert nesting_depths(doc) == [0, 1, 2, 2, 0]


def test_corpus_stats(converted):
    out, reports = converted
    stats = corpus_stats(read_corpus(out / "train.spacy"))
    assert stats.documents == 2
    assert stats.tokens == reports["train"].tokens == sum(stats.doc_lengths)
    assert stats.entities_nested == reports["train"].entities_kept == 16
    assert stats.entities_flat == reports["train"].entities_flat
    assert stats.entity_types_nested["PROFESSION"] == 3
    assert stats.discontinuous == 2
    assert stats.linked == 4
    assert len(stats.relation_docs) == 49
    assert stats.relation_docs["PARTICIPANT_IN"] == 1 and stats.relation_docs["SPOUSE"] == 0
    assert stats.relation_triples["PARTICIPANT_IN"] == 2
    assert stats.nesting_depth[0] > stats.nesting_depth[1] > 0
    assert sum(stats.nesting_depth.values()) == stats.entities_nested
    assert sum(stats.length_histogram().values()) == 2
    assert stats.length_summary()["min"] == min(stats.doc_lengths)
    json.dumps(stats.to_dict())


def test_length_histogram_edges():
    from nerel_spacy.corpus import CorpusStats

    stats = CorpusStats(doc_lengths=[5, 10, 19, 20, 99])
    assert stats.length_histogram(bins=(10, 20)) == {"<10": 1, "10-19": 2, ">=20": 2}
    assert CorpusStats().length_summary()["max"] == 0


def test_find_split_files_orders_dev_first(tmp_path):
    for name in ("train", "extra", "test", "dev"):
        (tmp_path / f"{name}.spacy").write_bytes(b"")
    assert list(find_split_files(tmp_path)) == ["dev", "test", "train", "extra"]
    assert find_split_files(tmp_path / "dev.spacy") == {"dev": tmp_path / "dev.spacy"}
    with pytest.raises(FileNotFoundError, match="nerel-batch convert"):
        find_split_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .spacy files"):
        find_split_files(tmp_path / "empty")


def test_find_split_file_takes_a_file_or_a_folder_with_the_split(tmp_path):
    for name in ("dev", "train"):
        (tmp_path / f"{name}.spacy").write_bytes(b"")
    dev = tmp_path / "dev.spacy"
    assert find_split_file(tmp_path) == dev == find_split_file(dev)
    assert find_split_file(tmp_path, "train") == tmp_path / "train.spacy"
    assert find_split_file(tmp_path / "train.spacy") == tmp_path / "train.spacy"
    (tmp_path / "test.spacy").write_bytes(b"")
    dev.unlink()
    with pytest.raises(FileNotFoundError, match="no dev.spacy and 2 .spacy files; pass the file"):
        find_split_file(tmp_path)
    (tmp_path / "test.spacy").unlink()
    assert find_split_file(tmp_path) == tmp_path / "train.spacy"  # the only file
    with pytest.raises(FileNotFoundError, match="no such corpus"):
        find_split_file(tmp_path / "missing")
