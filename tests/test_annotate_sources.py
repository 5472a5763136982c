"""``nerel_spacy.annotate.sources.decode_file_bytes``: how a file's bytes become text, or a clear refusal."""
import pytest

from nerel_spacy.annotate.sources import BINARY, NOT_UTF8, InputError, decode_file_bytes

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
