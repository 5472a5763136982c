"""nerel_spacy.annotation_consistency: counted by hand on three small training docs."""
import pytest
import spacy
from spacy.tokens import Span

from nerel_spacy.annotation_consistency import (
    UNSEEN, bucket_of, recall_by_consistency, surface, train_consistency,
)


def doc_with(nlp, text, mentions):
    doc = nlp.make_doc(text)
    doc.spans["nerel"] = [Span(doc, s, e, label=label) for s, e, label in mentions]
    return doc


@pytest.fixture
def train_docs():
    nlp = spacy.blank("ru")
    return [
        # "выборы" twice, an EVENT once; "Выборы президента" an EVENT (a longer extent)
        doc_with(nlp, "Выборы президента прошли , выборы мэра нет", [(0, 2, "EVENT"), (4, 5, "EVENT")]),
        doc_with(nlp, "выборы скоро", []),
        # "Москва" twice, a CITY both times (one also an ORGANIZATION by mistake)
        doc_with(nlp, "Москва и Москва", [(0, 1, "CITY"), (2, 3, "CITY"), (2, 3, "ORGANIZATION")]),
    ]


def test_occurrences_and_exact_extent_annotations_are_counted(train_docs):
    wanted = [(("выборы",), "EVENT"), (("москва",), "CITY"), (("москва",), "PERSON"),
              (("выборы", "президента"), "EVENT"), (("казань",), "CITY")]
    counts = train_consistency(train_docs, wanted)
    assert counts[(("выборы",), "EVENT")] == (3, 1)  # the longer EVENT does not count for one word
    assert counts[(("москва",), "CITY")] == (2, 2)
    assert counts[(("москва",), "PERSON")] == (2, 0)
    assert counts[(("выборы", "президента"), "EVENT")] == (1, 1)
    assert counts[(("казань",), "CITY")] == (0, 0)


def test_buckets_and_recall_per_bucket(train_docs):
    assert [bucket_of(0, 0), bucket_of(3, 1), bucket_of(2, 2), bucket_of(4, 1)] == [
        UNSEEN, "0.25-0.50", "0.75-1.00", "0.25-0.50"]
    nlp = spacy.blank("ru")
    dev = nlp.make_doc("выборы в Москве")
    assert surface(dev, 0, 1) == ("выборы",)
    gold = [(("выборы",), "EVENT", False), (("выборы",), "EVENT", True), (("москва",), "CITY", True),
            (("казань",), "CITY", False)]
    counts = train_consistency(train_docs, [(text, label) for text, label, _ in gold])
    table = recall_by_consistency(gold, counts)
    assert table["0.25-0.50"] == {"gold": 2, "found": 1, "recall": 0.5}
    assert table["0.75-1.00"] == {"gold": 1, "found": 1, "recall": 1.0}
    assert table[UNSEEN] == {"gold": 1, "found": 0, "recall": 0.0}
    assert table["0.00-0.25"] == {"gold": 0, "found": 0, "recall": 0.0}
    only_cities = recall_by_consistency(gold, counts, label="CITY")
    assert sum(row["gold"] for row in only_cities.values()) == 2
