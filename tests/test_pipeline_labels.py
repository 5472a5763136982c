"""nerel_spacy.pipeline.labels: label inventories and the head widths they set."""
import pytest
from thinc.api import Model

from nerel_spacy.pipeline.labels import size_heads

DIMS = ("nO_tags", "nO_cats", "nO_spans", "nO_relations", "n_entity_types")


def bare_model():
    return Model("joint", lambda model, X, is_train: (X, lambda dY: dY), dims={name: None for name in DIMS})


@pytest.mark.parametrize("tasks, expected", [
    (("ner", "cats"), {"nO_tags": 9, "nO_cats": 5, "nO_spans": None, "nO_relations": None, "n_entity_types": None}),
    (("ner", "spans", "cats", "relations"),
     {"nO_tags": 9, "nO_cats": 5, "nO_spans": 5, "nO_relations": 5, "n_entity_types": 4}),
])
def test_each_head_gets_the_width_of_its_labels(tasks, expected):
    model = bare_model()
    size_heads(model, tasks, n_tags=9, n_entity_labels=4, n_cats=5)
    assert {name: model.maybe_get_dim(name) for name in DIMS} == expected


def test_no_relation_types_still_gives_the_heads_one_output():
    model = bare_model()
    size_heads(model, ("ner", "cats", "relations"), n_tags=1, n_entity_labels=0, n_cats=0)
    assert (model.get_dim("nO_cats"), model.get_dim("nO_relations"), model.get_dim("n_entity_types")) == (1, 1, 1)
