"""nerel_spacy.augment: mention replacement keeps nesting, indices, relations and cats right."""
import random

import spacy
from spacy.tokens import DocBin, Span
from spacy.training import Example

from nerel_spacy.augment import (
    augment_example, create_mention_replacement, eligible_mentions, mention_surfaces, replace_mentions,
)
from nerel_spacy.spans import SPANS_KEY, set_flat_entities

TEXT = "Министр иностранных дел России Сергей Лавров прилетел в Москву ."
#         0        1          2   3      4      5      6        7 8      9
MENTIONS = [(0, 4, "PROFESSION"), (1, 3, "ORGANIZATION"), (3, 4, "COUNTRY"), (4, 6, "PERSON"),
            (8, 9, "CITY")]


def gold_doc(nlp, text=TEXT, mentions=MENTIONS):
    doc = nlp.make_doc(text)
    doc.spans[SPANS_KEY] = [Span(doc, s, e, label=label, kb_id="Q1" if label == "PERSON" else "")
                            for s, e, label in mentions]
    set_flat_entities(doc, [span for span in doc.spans[SPANS_KEY] if span.label_ != "NAME"])
    doc.cats = {"WORKS_AS": 1.0, "SPOUSE": 0.0}
    doc._.relations = [{"head": 3, "tail": 0, "label": "WORKS_AS"}]
    doc.user_data["nerel_doc_id"] = "42"
    return doc


def triples(doc):
    return [(s.text, s.label_) for s in doc.spans[SPANS_KEY]]


def test_only_leaves_that_cross_nothing_are_eligible():
    nlp = spacy.blank("ru")
    assert eligible_mentions(gold_doc(nlp)) == [1, 2, 3, 4]  # not the PROFESSION around two others
    crossing = gold_doc(nlp, mentions=[(0, 2, "A"), (1, 3, "B"), (4, 6, "PERSON"), (4, 6, "NAME")])
    assert eligible_mentions(crossing) == []  # a crossing pair, and two labels on one extent
    with_fragments = gold_doc(nlp)
    with_fragments.user_data["nerel_fragments"] = {"0": ((0, 7), (30, 36))}
    assert eligible_mentions(with_fragments) == []


def test_replacing_an_inner_and_an_outer_mention_moves_every_offset():
    nlp = spacy.blank("ru")
    doc = gold_doc(nlp)
    new = replace_mentions(doc, {2: ["Российской", "Федерации"], 4: ["Нижний", "Новгород"]})
    assert new.text == "Министр иностранных дел Российской Федерации Сергей Лавров прилетел в Нижний Новгород ."
    assert triples(new) == [("Министр иностранных дел Российской Федерации", "PROFESSION"),
                            ("иностранных дел", "ORGANIZATION"), ("Российской Федерации", "COUNTRY"),
                            ("Сергей Лавров", "PERSON"), ("Нижний Новгород", "CITY")]
    assert [(e.text, e.label_) for e in new.ents] == [
        ("Министр иностранных дел Российской Федерации", "PROFESSION"), ("Сергей Лавров", "PERSON"),
        ("Нижний Новгород", "CITY")]
    assert new.spans[SPANS_KEY][3].kb_id_ == "Q1"
    assert new._.relations == doc._.relations and new.cats == doc.cats and new.user_data["nerel_doc_id"] == "42"
    shorter = replace_mentions(doc, {3: ["Путин"]})
    assert shorter.text == "Министр иностранных дел России Путин прилетел в Москву ."
    assert triples(shorter)[3:] == [("Путин", "PERSON"), ("Москву", "CITY")]


def test_augmented_examples_align_and_round_trip_through_a_docbin(tmp_path):
    nlp = spacy.blank("ru")
    source = [gold_doc(nlp), gold_doc(nlp, "Сергей Шойгу прибыл в Казань .", [(0, 2, "PERSON"), (4, 5, "CITY")])]
    surfaces = mention_surfaces(source)
    assert surfaces["CITY"] == [("Казань",), ("Москву",)] and "PROFESSION" not in surfaces
    example = Example(nlp.make_doc(TEXT), gold_doc(nlp))
    augmented = augment_example(nlp, example, surfaces, random.Random(1), rate=1.0)
    assert augmented.predicted.text == augmented.reference.text
    labels = [label for _, label in triples(augmented.reference)]
    assert labels == [label for *_, label in MENTIONS]
    path = tmp_path / "train.spacy"
    DocBin(docs=source, store_user_data=True).to_disk(path)
    augmenter = create_mention_replacement(str(path), level=1.0, rate=1.0, seed=0)
    seen = {next(iter(augmenter(nlp, example))).reference.text for _ in range(30)}
    assert len(seen) > 1 and all(text.endswith(".") for text in seen)
    never = create_mention_replacement(str(path), level=0.0)
    assert next(iter(never(nlp, example))) is example
