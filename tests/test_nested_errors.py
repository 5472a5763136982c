"""Nested-mention errors by class and label, checked against counts worked out by hand."""
from conftest import mention_example
from nerel_spacy.nested_errors import classify_errors, error_kind, errors_by_label, overlaps


def test_overlaps_needs_a_shared_character():
    assert overlaps((0, 5, "A"), (4, 9, "B")) and overlaps((2, 3, "A"), (0, 9, "B"))
    assert not overlaps((0, 5, "A"), (5, 9, "A"))


def test_error_kind_prefers_label_over_boundary():
    other = {(0, 10, "EVENT"), (0, 12, "ORGANIZATION")}
    assert error_kind((0, 12, "EVENT"), other, "missed") == "label"  # same extent, other label
    assert error_kind((2, 8, "EVENT"), other, "missed") == "boundary"  # overlapping, same label
    assert error_kind((2, 8, "CITY"), other, "spurious") == "spurious"
    assert error_kind((20, 30, "EVENT"), other, "missed") == "missed"


def test_classify_errors_leaves_matches_out():
    gold = {(0, 10, "EVENT"), (20, 25, "CITY")}
    predicted = {(0, 10, "EVENT"), (20, 25, "COUNTRY"), (30, 40, "PERSON")}
    assert classify_errors(gold, predicted) == [
        ("fn", "label", (20, 25, "CITY")), ("fp", "label", (20, 25, "COUNTRY")), ("fp", "spurious", (30, 40, "PERSON")),
    ]


def test_errors_by_label_by_hand():
    # tokens: 0 Министр 1 иностранных 2 дел 3 России 4 Сергей 5 Лавров 6 прилетел 7 в 8 Москву
    gold = [(0, 4, "PROFESSION"), (3, 4, "COUNTRY"), (4, 6, "PERSON"), (8, 9, "CITY")]
    # PROFESSION one token short (boundary, both sides); COUNTRY as CITY (label, both sides);
    # PERSON right; CITY missed; a spurious ORGANIZATION.
    predicted = [(0, 3, "PROFESSION"), (3, 4, "CITY"), (4, 6, "PERSON"), (1, 3, "ORGANIZATION")]
    table = errors_by_label([mention_example(gold, predicted)])
    assert table["PROFESSION"] == {"gold": 1, "tp": 0, "fn": 1, "fp": 1, "fn_label": 0, "fn_boundary": 1,
                                   "fn_missed": 0, "fp_label": 0, "fp_boundary": 1, "fp_spurious": 0}
    assert table["COUNTRY"]["fn_label"] == 1 and table["COUNTRY"]["fp"] == 0
    # CITY: the gold one is missed (no CITY overlaps it); the predicted one is a label error
    assert (table["CITY"]["fn_missed"], table["CITY"]["fp_label"], table["CITY"]["gold"]) == (1, 1, 1)
    assert table["PERSON"] == {**dict.fromkeys(table["PERSON"], 0), "gold": 1, "tp": 1}
    assert table["ORGANIZATION"]["fp_spurious"] == 1 and table["ORGANIZATION"]["gold"] == 0
    # most errors first: PROFESSION and CITY have two, then COUNTRY and ORGANIZATION one, PERSON none
    assert list(table) == ["CITY", "PROFESSION", "COUNTRY", "ORGANIZATION", "PERSON"]
