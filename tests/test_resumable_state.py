"""nerel_spacy.resumable.state: optimizer and random states that outlive the process."""
import random

import numpy
import pytest
import spacy
import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.training import Example
from thinc.api import Adam, PyTorchWrapper

from nerel_spacy.resumable.state import (
    ResumeError, load_optimizer, load_random_states, save_optimizer, save_random_states, stable_names,
)

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
    return {names.text(key): value for key, value in table.items()}


def test_two_builds_of_a_pipeline_give_their_nodes_the_same_names_under_other_ids():
    first, _, _ = trained_nlp(0)
    second, _, _ = trained_nlp(0)
    a, b = stable_names(first), stable_names(second)
    assert sorted(a.names()) == sorted(b.names()) and not set(a.nodes) & set(b.nodes)
    assert all(name.startswith("tagger/") for name in a.names())


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


class TorchPipe(TrainablePipe):
    """A pipe whose model wraps a PyTorch layer, so its parameters are a shim's."""

    def __init__(self, vocab, model, name="torchy"):
        self.vocab, self.model, self.name = vocab, model, name


@Language.factory("test_resumable_state_torch_pipe")
def make_torch_pipe(nlp, name):
    return TorchPipe(nlp.vocab, PyTorchWrapper(torch.nn.Linear(2, 2)), name)


def torch_nlp():
    nlp = tiny_nlp()
    nlp.initialize(lambda: tagged_examples(nlp))
    nlp.add_pipe("test_resumable_state_torch_pipe", name="torchy")
    return nlp, nlp.get_pipe("torchy").model


def test_a_shim_that_shares_its_id_with_a_node_keeps_its_own_state(tmp_path):
    """thinc counts node ids and shim ids apart: a rebuilt pipeline may give a shim a node's id."""
    nlp, model = torch_nlp()
    shim = next(node for node in model.walk() if node.shims).shims[0]
    optimizer = Adam(0.001)
    for name, param in shim._model.named_parameters():
        optimizer.mom1[(shim.id, name)] = numpy.full(param.numel(), 1.0, dtype="f")  # Adam's moments are flat
    tagger_node = next(node for node in nlp.get_pipe("tagger").model.walk() if node.param_names)
    first_param = tagger_node.get_param(tagger_node.param_names[0])
    optimizer.mom1[(tagger_node.id, tagger_node.param_names[0])] = numpy.full(first_param.size, 2.0, dtype="f")
    save_optimizer(optimizer, nlp, tmp_path)

    rebuilt, rebuilt_model = torch_nlp()
    rebuilt_shim = next(node for node in rebuilt_model.walk() if node.shims).shims[0]
    first_node = next(iter(rebuilt.get_pipe("tagger").model.walk()))
    rebuilt_shim.id = first_node.id  # the collision a new process can meet
    fresh = Adam(0.001)
    load_optimizer(fresh, rebuilt, tmp_path)
    torch_params = {name for name, _ in rebuilt_shim._model.named_parameters()}
    assert {key for key in fresh.mom1 if key[1] in torch_params} == {(rebuilt_shim.id, n) for n in torch_params}
    assert by_name(rebuilt, fresh.mom1).keys() == by_name(nlp, optimizer.mom1).keys()


def test_random_states_come_back_for_python_numpy_and_torch(tmp_path):
    random.seed(1), numpy.random.seed(1), torch.manual_seed(1)
    save_random_states(tmp_path)
    expected = (random.random(), numpy.random.rand(3).tolist(), torch.rand(3).tolist())
    random.seed(2), numpy.random.seed(2), torch.manual_seed(2)
    load_random_states(tmp_path)
    assert (random.random(), numpy.random.rand(3).tolist(), torch.rand(3).tolist()) == expected


def test_moments_of_another_shape_are_refused_with_the_parameter_named(tmp_path):
    """A code change that keeps the config (a wider layer) must not resume onto the old moments."""
    nlp, optimizer, _ = trained_nlp(1, use_averages=True)
    save_optimizer(optimizer, nlp, tmp_path)
    wider = spacy.blank("ru")
    wider.add_pipe("tagger", config={"model": {"tok2vec": {**TINY_TOK2VEC, "width": 12}}})
    wider.initialize(lambda: tagged_examples(wider))
    assert sorted(stable_names(wider).names()) == sorted(stable_names(nlp).names())  # the same nodes
    with pytest.raises(ResumeError, match=r"parameter tagger/\d+:\w+ has shape \(\d+,\)") as err:
        load_optimizer(Adam(0.001, use_averages=True), wider, tmp_path)
    assert "--fresh" in str(err.value)


@Language.factory("test_resumable_state_torch_pipe_wider")
def make_wider_torch_pipe(nlp, name):
    return TorchPipe(nlp.vocab, PyTorchWrapper(torch.nn.Linear(2, 3)), name)


def test_a_torch_parameter_of_another_shape_is_refused(tmp_path):
    nlp, model = torch_nlp()
    shim = next(node for node in model.walk() if node.shims).shims[0]
    optimizer = Adam(0.001, use_averages=True)
    for name, param in shim._model.named_parameters():
        optimizer.mom1[(shim.id, name)] = numpy.zeros(param.numel(), dtype="f")
        optimizer.averages[(shim.id, name)] = numpy.zeros(tuple(param.shape), dtype="f")
    save_optimizer(optimizer, nlp, tmp_path)
    load_optimizer(Adam(0.001, use_averages=True), torch_nlp()[0], tmp_path)  # the same shapes load

    wider = tiny_nlp()
    wider.initialize(lambda: tagged_examples(wider))
    wider.add_pipe("test_resumable_state_torch_pipe_wider", name="torchy")
    with pytest.raises(ResumeError, match=r"parameter torchy/0/shim0:(weight|bias)"):
        load_optimizer(Adam(0.001, use_averages=True), wider, tmp_path)
