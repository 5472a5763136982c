"""nerel_spacy.brat.conf: a corpus's own annotation.conf, else NEREL v1.1's types."""
import pytest

from nerel_spacy.brat import BratFormatError, load_schema
from nerel_spacy.schema import Schema


def test_no_annotation_conf_gives_nerels_types(tmp_path):
    assert load_schema(None) == Schema() == load_schema(tmp_path)


def test_a_folders_own_annotation_conf_gives_its_types(tmp_path):
    (tmp_path / "annotation.conf").write_text("[entities]\nPERSON\nCITY\n[relations]\nLIVES_IN\tArg1:PERSON, Arg2:CITY\n",
                                              encoding="utf-8")
    schema = load_schema(tmp_path)
    assert schema.entity_types == ("PERSON", "CITY") and schema.relation_types == ("LIVES_IN",)
    assert load_schema(tmp_path / "annotation.conf") == schema


@pytest.mark.parametrize("data, reason", [
    ("[relations]\nFOO\tArg1:X, Arg2:Y\n".encode("utf-8"), "no [entities] section"),
    ("[entities]\nПЕРСОНА\n".encode("cp1251"), "not valid UTF-8"),
])
def test_a_bad_annotation_conf_is_named_with_what_to_do(tmp_path, data, reason):
    (tmp_path / "annotation.conf").write_bytes(data)
    with pytest.raises(BratFormatError, match="annotation.conf") as raised:
        load_schema(tmp_path)
    assert reason in str(raised.value) and raised.value.hint
