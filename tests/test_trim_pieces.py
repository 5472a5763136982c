"""Choosing pieces to keep and measuring what a kept set misses."""
from nerel_spacy.trim.pieces import (
    coverage,
    number_pieces,
    piece_body,
    pieces_in_texts,
    pieces_of_words,
    single_char_pieces,
    word_forms,
)
from test_trim_encoder import unigram_tokenizer


def test_piece_body_drops_word_marks():
    assert piece_body("▁Москва") == "Москва"
    assert piece_body("##ква") == "ква"
    assert piece_body("##") == "##"
    assert piece_body("▁") == ""


def test_number_and_single_char_pieces():
    vocab = {"▁": 0, "▁12": 1, "-2": 2, ":44": 3, "▁Мо": 4, "a": 5, "▁я": 6, "##б": 7, "12a": 8, "%": 9}
    assert number_pieces(vocab) == {1, 2, 3, 9}
    assert single_char_pieces(vocab) == {5, 6, 7, 9}


def test_word_forms_are_the_ways_a_lowercase_word_appears():
    assert word_forms("москва") == ("москва", "Москва", "МОСКВА")


def test_pieces_of_texts_and_words_come_from_the_tokenizer():
    tokenizer = unigram_tokenizer()
    text = "Москва и Казань"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    seen = []
    counts = pieces_in_texts(tokenizer, [text, text], batch_size=1, on_progress=lambda done, total: seen.append((done, total)))
    assert counts == {i: 2 * ids.count(i) for i in ids}
    assert seen == [(1, 2), (2, 2)]
    from_words = pieces_of_words(tokenizer, ["казань"])
    for form in word_forms("казань"):
        assert set(tokenizer(form, add_special_tokens=False)["input_ids"]) <= from_words


def test_coverage_counts_missing_pieces_and_untouched_texts():
    tokenizer = unigram_tokenizer()
    texts = ["Москва", "Казань и Москва"]
    first_ids = tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    first = set(first_ids)
    second = tokenizer(texts[1], add_special_tokens=False)["input_ids"]
    result = coverage(tokenizer, texts, first)
    assert result.texts == 2 and result.covered_texts == 1
    assert result.pieces == len(first_ids) + len(second)
    assert result.missing_pieces == sum(1 for i in second if i not in first)
    assert 0 < result.oov_rate < 1
    assert result.to_dict()["most_missing"]
