"""Where trim-vocab reads its texts and words from, and what it says when it cannot."""
import pytest
import spacy
from spacy.tokens import DocBin

from nerel_spacy.trim.texts import TextSourceError, count_characters, read_all_texts, read_texts, read_words


def test_a_folder_a_txt_file_and_a_spacy_corpus(tmp_path):
    (tmp_path / "news" / "a").mkdir(parents=True)
    (tmp_path / "news" / "a" / "1.txt").write_text("Путин посетил Казань.", encoding="utf8")
    (tmp_path / "news" / "2.txt").write_text("Банк России", encoding="utf8")
    (tmp_path / "news" / "2.ann").write_text("T1\tORGANIZATION 0 11\tБанк России\n", encoding="utf8")
    nlp = spacy.blank("xx")  # the language does not matter to a text, and "ru" takes seconds to build
    DocBin(docs=[nlp("Москва"), nlp("Китай")]).to_disk(tmp_path / "dev.spacy")
    assert read_texts(tmp_path / "news") == ["Банк России", "Путин посетил Казань."]  # sorted paths, .txt only
    assert read_texts(tmp_path / "news" / "2.txt") == ["Банк России"]
    assert read_all_texts([tmp_path / "dev.spacy", tmp_path / "news" / "2.txt"]) == ["Москва", "Китай", "Банк России"]
    assert count_characters(["Москва", "Китай"]) == 11


def test_a_file_that_is_not_utf8_is_named_with_the_fix(tmp_path):
    (tmp_path / "old.txt").write_bytes("Москва".encode("cp1251"))
    with pytest.raises(TextSourceError, match=r"old.txt: not UTF-8 \(byte 0.*iconv -f cp1251"):
        read_texts(tmp_path)


def test_missing_and_empty_sources_say_what_to_pass(tmp_path):
    with pytest.raises(TextSourceError, match="no such file or folder"):
        read_texts(tmp_path / "nope")
    with pytest.raises(TextSourceError, match="no .txt files below this folder"):
        read_texts(tmp_path)


def test_words_from_a_file_none_or_an_unknown_name(tmp_path):
    (tmp_path / "words.txt").write_text("Москва\n\n  Китай  \n", encoding="utf8")
    assert read_words(str(tmp_path / "words.txt")) == ["Москва", "Китай"]
    assert read_words("none") == []
    with pytest.raises(TextSourceError, match="not 'navec', 'none' or a file"):
        read_words("frequent")
