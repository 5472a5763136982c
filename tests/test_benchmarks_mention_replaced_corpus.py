"""benchmarks/mention_replaced_corpus.py: the docs, then copies with only names swapped, labels kept."""
import importlib.util
import random
import sys

import pytest
import spacy
from spacy.tokens import DocBin, Span

from conftest import REPO_ROOT
from nerel_spacy.corpus import read_corpus
from nerel_spacy.spans import SPANS_KEY, set_flat_entities

SCRIPT = REPO_ROOT / "benchmarks" / "mention_replaced_corpus.py"
SPEC = importlib.util.spec_from_file_location("mention_replaced_corpus", SCRIPT)
mention_replaced_corpus = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mention_replaced_corpus)

DOCS = [
    ("Сергей Лавров прилетел в Москву .", [(0, 2, "PERSON"), (2, 3, "EVENT"), (4, 5, "CITY")]),
    ("Анна Иванова уехала в Казань .", [(0, 2, "PERSON"), (2, 3, "EVENT"), (4, 5, "CITY")]),
]


def gold_docs(nlp):
    docs = []
    for i, (text, mentions) in enumerate(DOCS):
        doc = nlp.make_doc(text)
        doc.spans[SPANS_KEY] = [Span(doc, s, e, label=label) for s, e, label in mentions]
        set_flat_entities(doc, list(doc.spans[SPANS_KEY]))
        doc._.relations = [{"head": 0, "tail": 2, "label": "WORKPLACE"}]
        doc.user_data["nerel_doc_id"] = str(i)
        docs.append(doc)
    return docs


def test_a_copy_swaps_names_for_other_surfaces_of_their_type_and_keeps_the_rest():
    nlp = spacy.blank("ru")
    docs = gold_docs(nlp)
    surfaces = mention_replaced_corpus.mention_surfaces(docs)
    copy = mention_replaced_corpus.replaced_copy(docs[0], surfaces, random.Random(0), rate=1.0)
    assert copy.text == "Анна Иванова прилетел в Казань ."  # EVENT is not a name: it stays
    assert [(s.text, s.label_) for s in copy.spans[SPANS_KEY]] == [
        ("Анна Иванова", "PERSON"), ("прилетел", "EVENT"), ("Казань", "CITY")]
    assert copy._.relations == docs[0]._.relations
    assert mention_replaced_corpus.replaced_copy(docs[0], surfaces, random.Random(0), rate=1.0, types=()) is None


def run_script(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *map(str, args)])
    mention_replaced_corpus.main()


def test_the_script_writes_the_docs_then_their_copies_under_new_ids(tmp_path, monkeypatch, capsys):
    nlp = spacy.blank("ru")
    DocBin(store_user_data=True, docs=gold_docs(nlp)).to_disk(tmp_path / "train.spacy")
    run_script(monkeypatch, tmp_path / "train.spacy", tmp_path / "out.spacy", "--copies", "2", "--rate", "1")
    assert "2 docs and 4 mention-replaced copies" in capsys.readouterr().out
    docs = list(read_corpus(tmp_path / "out.spacy", nlp.vocab))
    assert [doc.user_data["nerel_doc_id"] for doc in docs] == ["0", "1", "0~copy1", "1~copy1", "0~copy2", "1~copy2"]
    assert [doc.text for doc in docs[:2]] == [text for text, _ in DOCS]
    assert docs[2].text == "Анна Иванова прилетел в Казань ."
    with pytest.raises(SystemExit) as exit_info:
        run_script(monkeypatch, tmp_path / "train.spacy", tmp_path / "x.spacy", "--copies", "0")
    assert exit_info.value.code == 2 and "--copies" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_script(monkeypatch, tmp_path / "missing.spacy", tmp_path / "x.spacy")
    assert exit_info.value.code == 2 and "missing.spacy not found" in capsys.readouterr().err
    assert not (tmp_path / "x.spacy").exists()
