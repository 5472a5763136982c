"""nerel_spacy.resumable.state: optimizer and random states that outlive the process."""
import random

import numpy
import pytest
import spacy
import torch
from thinc.api import Adam

from nerel_spacy.resumable.state import (
    ResumeError, load_optimizer, load_random_states, save_optimizer, save_random_states, stable_names,
)

from spacy.training import Example

TINY_TOK2VEC = {
    "@architectures": "spacy.HashEmbedCNN.v2", "width": 8, "depth": 1, "embed_size": 50,
    "window_size": 1, "maxout_pieces": 2, "subword_features": False, "pretrained_vectors": None,
}
TAGGED = [("Путин посетил Москву", ["PROPN", "VERB", "PROPN"]), ("Мэр города", ["NOUN", "NOUN"])]


def tiny_nlp(name: str = "tagger"):
    """A small tagger: the state functions only walk the pipes' models, whatever they are."""
    nlp = spacy.blank("ru")
    nlp.add_pipe("tagger", name=name, config={"model": {"tok2vec": TINY_TOK2VEC}})
    return nlp


def tagged_examples(nlp):
    return [Example.from_dict(nlp.make_doc(text), {"tags": tags}) for text, tags in TAGGED]


def trained_nlp(steps: int, use_averages: bool = False):
    nlp = tiny_nlp()
    examples = tagged_examples(nlp)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.001, use_averages=use_averages))
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp, optimizer, examples


def by_name(nlp, table):
    names = stable_names(nlp)
    return {(names[node_id], param): value for (node_id, param), value in table.items()}


def test_two_builds_of_a_pipeline_give_their_nodes_the_same_names_under_other_ids():
    first, _, _ = trained_nlp(0)
    second, _, _ = trained_nlp(0)
    a, b = stable_names(first), stable_names(second)
    assert sorted(a.values()) == sorted(b.values()) and not set(a) & set(b)
    assert all(name.startswith("tagger/") for name in a.values())


@pytest.mark.parametrize("use_averages", [False, True])
def test_optimizer_state_moves_to_a_rebuilt_pipeline(tmp_path, use_averages):
    nlp, optimizer, _ = trained_nlp(3, use_averages)
    save_optimizer(optimizer, nlp, tmp_path)
    rebuilt, _, _ = trained_nlp(0)
    fresh = Adam(0.001, use_averages=use_averages)
    load_optimizer(fresh, rebuilt, tmp_path)
    tables = ("mom1", "mom2", "nr_update") + (("averages",) if use_averages else ())
    for table in tables:
        saved, loaded = by_name(nlp, getattr(optimizer, table)), by_name(rebuilt, getattr(fresh, table))
        assert saved.keys() == loaded.keys() and saved
        for key in saved:
            assert numpy.array_equal(saved[key], loaded[key]), (table, key)
    assert max(fresh.nr_update.values()) == 3


def test_a_key_outside_the_pipeline_cannot_be_saved(tmp_path):
    nlp, optimizer, _ = trained_nlp(1)
    optimizer.mom1[(10**9, "W")] = numpy.zeros(2, dtype="f")
    with pytest.raises(ResumeError, match="belongs to no node"):
        save_optimizer(optimizer, nlp, tmp_path)


def test_state_for_a_node_this_pipeline_lacks_is_refused(tmp_path):
    nlp, optimizer, _ = trained_nlp(1)
    save_optimizer(optimizer, nlp, tmp_path)
    other = tiny_nlp("renamed")
    other.initialize(lambda: tagged_examples(other))
    with pytest.raises(ResumeError, match="which this pipeline does not have"):
        load_optimizer(Adam(0.001), other, tmp_path)


def test_averages_saved_without_averaging_are_refused(tmp_path):
    nlp, optimizer, _ = trained_nlp(1, use_averages=True)
    save_optimizer(optimizer, nlp, tmp_path)
    with pytest.raises(ResumeError, match="use_averages"):
        load_optimizer(Adam(0.001, use_averages=False), nlp, tmp_path)


def test_random_states_come_back_for_python_numpy_and_torch(tmp_path):
    random.seed(1), numpy.random.seed(1), torch.manual_seed(1)
    save_random_states(tmp_path)
    expected = (random.random(), numpy.random.rand(3).tolist(), torch.rand(3).tolist())
    random.seed(2), numpy.random.seed(2), torch.manual_seed(2)
    load_random_states(tmp_path)
    assert (random.random(), numpy.random.rand(3).tolist(), torch.rand(3).tolist()) == expected
