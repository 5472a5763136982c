"""The runtime's windows, word-piece alignment and pooling against spacy-transformers' own."""
import numpy
import pytest
import spacy
from spacy_transformers.align import get_alignment_via_offset_mapping
from spacy_transformers.span_getters import get_strided_spans
from transformers import AutoTokenizer

from nerel_spacy.runtime.alignment import (
    char_to_token,
    piece_token_pairs,
    pool_token_vectors,
    strided_windows,
    window_text,
)

TEXTS = [
    "Министр иностранных дел России Сергей Лавров прилетел в Москву.",
    "В 2020 году «Газпром»  (ПАО) объявил:\nНью-Йорк, Вашингтон!",
    "",
    "Путин",
]


@pytest.mark.parametrize("n_tokens", [0, 1, 5, 6, 7, 8, 12, 13, 30])
@pytest.mark.parametrize("window,stride", [(8, 6), (4, 4), (5, 2)])
def test_windows_are_strided_spans(n_tokens, window, stride):
    doc = spacy.blank("ru").make_doc(" ".join(["слово"] * n_tokens))
    expected = [(span.start, span.end) for span in get_strided_spans([doc], window, stride)[0]]
    assert strided_windows(n_tokens, window, stride) == expected


def test_character_table_gives_each_token_its_characters_and_the_space_after():
    doc = spacy.blank("ru").make_doc("Банк России,  ПАО")
    table = char_to_token(doc, (0, len(doc)))
    # Банк=0 (chars 0-3, space 4), России=1 (5-10; the comma starts at 11), ","=2 (11, space 12),
    # the extra space is a token of its own (13), ПАО=4 (14-16, and one past the end)
    assert table.tolist() == [0] * 5 + [1] * 6 + [2, 2, 3] + [4] * 4


def test_alignment_matches_spacy_transformers(tiny_bert_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    nlp = spacy.blank("ru")
    docs = [nlp.make_doc(text) for text in TEXTS]
    spans = [span for doc_spans in get_strided_spans(docs, 4, 3) for span in doc_spans]
    encoded = tokenizer([span.text for span in spans], add_special_tokens=True, return_offsets_mapping=True,
                        padding="longest", return_tensors="np")
    expected = get_alignment_via_offset_mapping(spans, encoded["offset_mapping"])
    width = encoded["offset_mapping"].shape[1]
    # the runtime's pairs, as flat row numbers over the padded batch like spacy-transformers'
    found = {}
    token_base, flat_base, index = 0, 0, 0
    for doc in docs:
        for window in strided_windows(len(doc), 4, 3):
            assert window_text(doc, window) == spans[index].text
            pieces, tokens = piece_token_pairs(char_to_token(doc, window), encoded["offset_mapping"][index], 10**6)
            for piece, token in zip(pieces, tokens):
                found.setdefault(token_base + window[0] + token, set()).add(flat_base + piece)
            flat_base += width
            index += 1
        token_base += len(doc)
    lengths, flat = expected.lengths.tolist(), expected.data.ravel().tolist()
    assert sum(lengths) > len(lengths) > 0  # tokens of several pieces, or in two windows
    start = 0
    for position, length in enumerate(lengths):
        assert found.get(position, set()) == set(flat[start : start + length]), position
        start += length


def test_pieces_past_max_length_are_dropped():
    table = numpy.asarray([0, 0, 1, 1, -1])
    offsets = numpy.asarray([[0, 0], [0, 2], [2, 3], [3, 4], [0, 0]])
    assert [p.tolist() for p in piece_token_pairs(table, offsets, 5)] == [[1, 2, 3], [0, 1, 1]]
    assert [p.tolist() for p in piece_token_pairs(table, offsets, 3)] == [[1, 2], [0, 1]]


def test_pooling_averages_every_aligned_row_and_leaves_zeros_elsewhere():
    rows = [numpy.asarray([[1.0, 2.0], [3.0, 4.0]], dtype="float32"), numpy.asarray([[5.0, 6.0]], dtype="float32")]
    tokens = [numpy.asarray([2, 0]), numpy.asarray([2])]
    pooled = pool_token_vectors(4, 2, rows, tokens)
    assert pooled.tolist() == [[3.0, 4.0], [0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]
    assert pool_token_vectors(0, 2, [], []).shape == (0, 2)
