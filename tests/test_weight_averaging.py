"""nerel_spacy.weight_averaging: the mean of several pipelines' weights, transformer included."""
import numpy
import pytest
import spacy
import torch

from nerel_spacy.weight_averaging import average_pipelines, average_state_dicts, parameters_and_shims

from conftest import make_examples, model_weights
from quantize_helpers import save_trained_trf


@pytest.fixture(scope="module")
def trained_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("avg") / "model")


def all_weights(nlp):
    return [w.copy() for _, pipe in nlp.components for w in model_weights(pipe.model)]


def shifted(nlp, amount: float):
    """Every float weight of ``nlp`` (thinc params and torch tensors) plus ``amount``."""
    params, shims = parameters_and_shims(nlp)
    for node, name in params.values():
        node.set_param(name, node.get_param(name) + amount)
    for shim in shims.values():
        state = shim._model.state_dict()
        shim._model.load_state_dict({k: v + amount if v.is_floating_point() else v for k, v in state.items()})
    return nlp


def test_every_weight_is_the_mean_and_the_averaged_pipeline_still_predicts(trained_dir):
    original = all_weights(spacy.load(trained_dir))
    parts = [shifted(spacy.load(trained_dir), amount) for amount in (0.0, 0.3, 0.9)]
    averaged = average_pipelines(parts)
    assert averaged is parts[0]
    params, shims = parameters_and_shims(averaged)
    assert len(params) > 5 and len(shims) == 1  # the heads' params and the transformer's shim
    for before, after in zip(original, all_weights(averaged)):
        if numpy.issubdtype(before.dtype, numpy.floating):
            numpy.testing.assert_allclose(after, before + 0.4, rtol=1e-5, atol=1e-5)
        else:
            numpy.testing.assert_array_equal(after, before)  # position ids stay whole numbers
    docs = list(averaged.pipe(eg.reference.text for eg in make_examples(averaged)))
    assert len(docs) == 3 and all(doc.cats for doc in docs)


def test_one_pipeline_averages_to_itself(trained_dir):
    original = all_weights(spacy.load(trained_dir))
    averaged = all_weights(average_pipelines([spacy.load(trained_dir)]))
    assert len(averaged) == len(original) > 0
    for before, after in zip(original, averaged):
        numpy.testing.assert_array_equal(before, after)


def test_state_dicts_of_other_shapes_are_refused():
    with pytest.raises(ValueError, match="one architecture"):
        average_state_dicts([{"w": torch.zeros(2, 3)}, {"w": torch.zeros(3, 2)}], "encoder")
    with pytest.raises(ValueError, match="no pipelines"):
        average_pipelines([])


def test_pipelines_with_other_layers_are_refused(trained_dir):
    other = spacy.blank("ru")
    with pytest.raises(ValueError, match="pipeline 2 has other layers"):
        average_pipelines([spacy.load(trained_dir), other])
