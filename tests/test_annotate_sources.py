"""``nerel_spacy.annotate.sources``: how a file's bytes and stdin's lines become texts, or clear refusals."""
import io
import json

import pytest

from nerel_spacy.annotate.sources import (
    BAD_JSONL,
    BINARY,
    EMPTY,
    NOT_UTF8,
    InputError,
    Source,
    decode_file_bytes,
    iter_stdin,
    load_text,
)

TEXT = "Иван Петров из Москвы."


def decode(data: bytes, encoding=None):
    return decode_file_bytes("a.txt", "docs/a.txt", data, encoding)


def test_utf8_with_or_without_a_byte_order_mark_needs_no_fallback():
    assert decode(TEXT.encode("utf-8")) == (TEXT, None)
    assert decode(b"\xef\xbb\xbf" + TEXT.encode("utf-8")) == (TEXT, None)


@pytest.mark.parametrize("name", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_unicode_byte_order_mark_names_the_encoding(name):
    assert decode("\ufeff".encode(name) + TEXT.encode(name)) == (TEXT, name)


def test_a_byte_order_mark_wins_over_the_fallback_encoding():
    assert decode("\ufeff".encode("utf-16-le") + TEXT.encode("utf-16-le"), "cp1251") == (TEXT, "utf-16-le")


def test_a_byte_order_mark_followed_by_something_else_is_refused_with_the_offset():
    data = "\ufeff".encode("utf-16-be") + "Москва".encode("utf-16-be") + b"\xd8\x00"  # a lone surrogate
    with pytest.raises(InputError) as caught:
        decode(data)
    assert caught.value.reason == NOT_UTF8 and caught.value.path == "docs/a.txt"
    assert caught.value.message == ("docs/a.txt: starts with a utf-16-be byte order mark, but byte 0xd8 at "
                                    "offset 14 is not utf-16-be; convert it to UTF-8")


def test_utf16_without_a_byte_order_mark_is_binary_with_a_hint():
    with pytest.raises(InputError) as caught:
        decode(TEXT.encode("utf-16-le"))
    assert caught.value.reason == BINARY and "UTF-16 text without a byte order mark" in caught.value.message


def test_cp1251_needs_the_fallback():
    with pytest.raises(InputError) as caught:
        decode(TEXT.encode("cp1251"))
    assert caught.value.reason == NOT_UTF8 and "try --encoding cp1251" in caught.value.message
    assert decode(TEXT.encode("cp1251"), "cp1251") == (TEXT, "cp1251")


def stdin(data: bytes):
    return list(iter_stdin(io.BytesIO(data)))


LINES = ["Иван Петров из Москвы.", "", json.dumps({"id": "j3", "text": "Банк России"}, ensure_ascii=False),
         '{"id": "j4", "text": "Москва и Санкт-Пе']


def test_stdin_lines_are_texts_jsonl_or_errors_that_name_their_line():
    found = stdin("\n".join(LINES).encode("utf-8") + b"\n")
    assert [(s.id, s.text, s.line) for s in found[:2]] == [("stdin:1", LINES[0], 1), ("j3", "Банк России", 3)]
    assert isinstance(found[2], InputError) and found[2].reason == BAD_JSONL and found[2].id == "stdin:4"
    assert found[2].message.startswith("stdin line 4: starts with '{' but is not JSON (Unterminated string")
    assert len(found) == 3
    assert found[1].where == "stdin line 3 (id 'j3')" and found[0].where == "stdin line 1"


@pytest.mark.parametrize("name", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_stdin_in_utf16_or_utf32_with_a_byte_order_mark_is_decoded_line_by_line(name):
    found = stdin(("\ufeff" + "\r\n".join(LINES)).encode(name))
    assert [(s.id, s.text, s.line, s.encoding) for s in found[:2]] == [
        ("stdin:1", LINES[0], 1, name), ("j3", "Банк России", 3, name)]
    assert isinstance(found[2], InputError) and found[2].id == "stdin:4" and len(found) == 3


def test_stdin_in_utf16_without_a_mark_is_refused_after_its_first_line():
    # split at b"\n", each line after the first starts with the newline's "\x00"; the first is
    # UTF-16-LE Cyrillic, whose bytes are also valid (control-character) UTF-8: no rule tells them apart
    found = stdin("Москва\nNATO\nМосква\n".encode("utf-16-le"))
    assert [getattr(e, "reason", None) for e in found] == [None, BINARY, BINARY, BINARY]  # the last: "\x00"
    assert found[1].message == "stdin line 2: NUL bytes (UTF-16 without a byte order mark?); send UTF-8"


def test_an_empty_stdin_text_names_its_line_and_id():
    with pytest.raises(InputError) as caught:
        load_text(Source(id="j6", text="  ", line=6))
    assert caught.value.reason == EMPTY and caught.value.message.startswith("stdin line 6 (id 'j6'): empty")
