"""Gold targets for the joint heads, built from hand-made examples with known answers."""
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

import nerel_spacy.spans  # noqa: F401  (registers doc._.relations)
from nerel_spacy.gold_targets import (
    gold_cats,
    gold_relations,
    gold_span_classes,
    gold_tag_ids,
    labels_from_examples,
)
from nerel_spacy.span_decoding import candidate_index

KEY = "nerel"
ENTITY_LABELS = ["PERSON", "COUNTRY", "PROFESSION"]
RELATIONS = ["WORKS_AS", "CITIZEN_OF"]


def _reference(nlp, words, spans, relations=None, ents=None, cats=None):
    doc = Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
    doc.spans[KEY] = [Span(doc, start, end, label=label) for start, end, label in spans]
    if ents is not None:  # tokens outside them stay unannotated, as in a partly labelled doc
        doc.set_ents([Span(doc, start, end, label=label) for start, end, label in ents], default="missing")
    if relations is not None:
        doc._.relations = relations
    if cats is not None:
        doc.cats = cats
    return doc


def _example(nlp, reference, predicted_words=None):
    words = predicted_words or [token.text for token in reference]
    spaces = [True] * (len(words) - 1) + [False]
    return Example(Doc(nlp.vocab, words=words, spaces=spaces), reference)


def test_relations_index_the_aligned_mentions_and_drop_what_names_an_unaligned_one():
    nlp = spacy.blank("ru")
    # "министр Сергей Лавров России": the predicted tokens glue "Сергей" and "Лавров" into one,
    # so the gold PERSON "Лавров" has no predicted boundary and its triple goes with it.
    reference = _reference(
        nlp,
        ["министр", "Сергей", "Лавров", "России"],
        spans=[(0, 1, "PROFESSION"), (1, 3, "PERSON"), (2, 3, "PERSON"), (3, 4, "COUNTRY")],
        relations=[
            {"head": 1, "tail": 0, "label": "WORKS_AS"},
            {"head": 2, "tail": 3, "label": "CITIZEN_OF"},
            {"head": 1, "tail": 3, "label": "CITIZEN_OF"},
            {"head": 1, "tail": 3, "label": "UNKNOWN_TYPE"},
        ],
    )
    example = _example(nlp, reference, ["министр", "Сергей Лавров", "России"])
    (found,) = gold_relations([example], ENTITY_LABELS, RELATIONS, KEY)
    assert found.mentions.tolist() == [[0, 1, 2], [1, 2, 0], [2, 3, 1]]
    assert found.triples == [(1, 0, 0), (1, 2, 1)]  # gold rows 0, 1 and 3 became rows 0, 1 and 2
    assert found.known is True


def test_a_doc_without_gold_relations_or_span_group_is_not_known():
    nlp = spacy.blank("ru")
    no_relations = _reference(nlp, ["Лавров"], spans=[(0, 1, "PERSON")])
    no_group = Doc(nlp.vocab, words=["Лавров"])
    no_group._.relations = []
    found = gold_relations([_example(nlp, no_relations), _example(nlp, no_group)], ENTITY_LABELS, RELATIONS, KEY)
    assert [g.known for g in found] == [False, False]
    assert found[1].mentions.shape == (0, 3) and found[1].triples == []


def test_span_classes_mark_gold_candidates_and_mask_docs_without_the_group():
    nlp = spacy.blank("ru")
    reference = _reference(
        nlp,
        ["министр", "Сергей", "Лавров", "из", "России"],
        spans=[(1, 3, "PERSON"), (4, 5, "COUNTRY"), (0, 3, "ORGANIZATION"), (0, 5, "PERSON")],
    )
    unlabeled = Doc(nlp.vocab, words=["Лавров", "прилетел"])
    classes, mask, counts = gold_span_classes(
        [_example(nlp, reference), _example(nlp, unlabeled)], ENTITY_LABELS, max_width=3, spans_key=KEY
    )
    rows = candidate_index(5, 3)
    assert len(classes) == len(rows) + 3  # 12 candidates, then the second doc's 3
    assert classes[rows[(1, 3)]] == 1 and classes[rows[(4, 5)]] == 2  # class = label index + 1
    assert int((classes[: len(rows)] > 0).sum()) == 2
    assert mask.tolist() == [1.0] * len(rows) + [0.0] * 3
    assert counts == {"gold": 4, "too_wide": 1, "unknown_label": 1}


def test_tag_ids_mask_tokens_whose_gold_is_missing_or_outside_the_labels():
    nlp = spacy.blank("ru")
    reference = _reference(
        nlp, ["Сергей", "Лавров", "и", "Китай"], spans=[], ents=[(0, 2, "PERSON"), (3, 4, "COUNTRY")]
    )
    labels = ["O", "B-PERSON", "I-PERSON"]  # no COUNTRY tags
    ids, mask = gold_tag_ids([_example(nlp, reference)], labels)
    assert ids.tolist() == [1, 2, 0, 0] and mask.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_cats_mask_the_labels_a_doc_does_not_mention():
    nlp = spacy.blank("ru")
    reference = _reference(nlp, ["Лавров"], spans=[], cats={"CITIZEN_OF": 1.0})
    truths, mask = gold_cats([_example(nlp, reference)], RELATIONS)
    assert truths.tolist() == [[0.0, 1.0]] and mask.tolist() == [[0.0, 1.0]]


def test_labels_come_from_ents_spans_and_cats_in_order_seen():
    nlp = spacy.blank("ru")
    first = _reference(nlp, ["Лавров", "России"], spans=[(1, 2, "COUNTRY")], ents=[(0, 1, "PERSON")],
                       cats={"WORKS_AS": 0.0, "CITIZEN_OF": 1.0})
    second = _reference(nlp, ["министр"], spans=[(0, 1, "PROFESSION")], cats={"ORIGINS_FROM": 1.0})
    entities, cats = labels_from_examples([_example(nlp, first), _example(nlp, second)], KEY)
    assert entities == {"PERSON", "COUNTRY", "PROFESSION"}
    assert cats == ["WORKS_AS", "CITIZEN_OF", "ORIGINS_FROM"]
