"""Sentence boundaries for the in-sentence relation scores, on NEREL-shaped texts."""
import spacy

from nerel_spacy.sentences import sentence_ids, sentence_start_chars

# A NEREL text opens like this: a title and a caption, each on its own line, no full stop.
NEWS = "Семья Обамы приобрела дом\n\nБарак Обама\nБывший президент США купил дом. Он стоит 8 млн."


def words(doc, ids):
    """Each sentence's words, whitespace tokens left out."""
    found = {}
    for token, sentence in zip(doc, ids):
        if not token.is_space:
            found.setdefault(sentence, []).append(token.text)
    return [" ".join(found[key]) for key in sorted(found)]


def test_a_sentence_starts_after_every_line_break_and_every_full_stop():
    doc = spacy.blank("ru").make_doc(NEWS)
    ids = sentence_ids(doc)
    assert words(doc, ids) == [
        "Семья Обамы приобрела дом",
        "Барак Обама",
        "Бывший президент США купил дом .",
        "Он стоит 8 млн .",
    ]
    assert ids == sorted(ids) and set(ids) == set(range(4))  # numbered 0, 1, … with no gap


def test_initials_and_abbreviations_do_not_end_a_sentence():
    doc = spacy.blank("ru").make_doc("В. В. Путин прилетел в г. Москву. Встреча прошла там же.")
    assert words(doc, sentence_ids(doc)) == ["В. В. Путин прилетел в г. Москву .", "Встреча прошла там же ."]


def test_whitespace_tokens_stay_with_the_sentence_before_them():
    doc = spacy.blank("ru").make_doc("Один.\n\nДва.")
    assert [(token.text, sentence) for token, sentence in zip(doc, sentence_ids(doc))] == [
        ("Один", 0), (".", 0), ("\n\n", 0), ("Два", 1), (".", 1),
    ]
    assert sentence_start_chars("Один.\n\nДва.") == [0, 6, 7]


def test_the_docs_own_boundaries_win():
    doc = spacy.blank("ru").make_doc("Один . Два три .")
    doc[1].is_sent_start = True
    for token in doc[2:]:
        token.is_sent_start = False
    assert sentence_ids(doc) == [0, 1, 1, 1, 1]


def test_empty_and_blank_docs():
    nlp = spacy.blank("ru")
    assert sentence_ids(nlp.make_doc("")) == []
    assert sentence_ids(nlp.make_doc("\n")) == [0]
