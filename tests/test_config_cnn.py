"""configs/joint_cnn.cfg: the CNN + navec vectors pipeline builds, initializes with the vectors and learns."""
import io
from typing import Dict

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config, registry, resolve_dot_names

from nerel_spacy.vectors import prepare_vectors

from conftest import REPO_ROOT, TINY_DOCS, make_examples
from vectors_helpers import write_fake_navec

CNN_CFG = REPO_ROOT / "configs" / "joint_cnn.cfg"
DIMS = 300


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory) -> Dict[str, str]:
    """Path overrides for the config: 300-d fake navec vectors over the fixture words, and tiny corpora."""
    root = tmp_path_factory.mktemp("cnn_project")
    words = sorted({word.lower() for text, _, _ in TINY_DOCS for word in text.split()})
    counts = {word: 100 - i for i, word in enumerate(words[:20])}
    navec_path = write_fake_navec(root / "navec.tar", counts, dim=DIMS, qdim=100, centroids=8)
    prepare_vectors(root / "vectors", navec_path=navec_path)
    nlp = spacy.blank("ru")
    for split in ("train", "dev"):
        DocBin(docs=[eg.reference for eg in make_examples(nlp)]).to_disk(root / f"{split}.spacy")
    return {
        "paths.vectors": str(root / "vectors"),
        "paths.train": str(root / "train.spacy"),
        "paths.dev": str(root / "dev.spacy"),
    }


def cnn_config(overrides: Dict[str, object]):
    return load_config(CNN_CFG, overrides=overrides)


@pytest.mark.slow
def test_config_loads_vectors_into_the_static_vectors_layer(tiny_project):
    nlp = init_nlp(cnn_config(tiny_project))
    assert nlp.pipe_names == ["nerel_joint"]
    assert nlp.vocab.vectors.shape == (20, DIMS)
    static = [node for node in nlp.get_pipe("nerel_joint").model.walk() if node.name == "static_vectors"]
    assert len(static) == 1 and static[0].get_param("W").shape == (256, DIMS)
    pipe = nlp.get_pipe("nerel_joint")
    assert set(pipe.entity_labels) == {label for _, ents, _ in TINY_DOCS for _, _, label in ents}
    assert pipe.cfg["head_learn_rate_scale"] == 1.0
    # The capitalized form finds the lowercase word's row once loaded through [initialize].
    doc = nlp.make_doc("Барак Москву")
    assert doc[0].has_vector and numpy.allclose(doc[0].vector, nlp.vocab.get_vector("барак"))


def test_config_without_vectors_is_an_error(tiny_project):
    overrides = {**tiny_project, "paths.vectors": None}
    with pytest.raises(ValueError, match="prepare-vectors"):
        init_nlp(cnn_config(overrides))


@pytest.mark.slow
def test_loss_falls_with_the_config_optimizer(tiny_project):
    config = cnn_config({**tiny_project, "training.optimizer.learn_rate.warmup_steps": 1})
    nlp = init_nlp(config)
    resolved = nlp.config.interpolate()
    training = registry.resolve(resolved["training"])
    optimizer = training["optimizer"]
    (train_corpus,) = resolve_dot_names(resolved, [training["train_corpus"]])
    examples = list(train_corpus(nlp))
    history = []
    for _ in range(25):
        losses: Dict[str, float] = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
        optimizer.step_schedules()
        history.append(losses)
    assert history[-1]["nerel_joint_ner"] < history[0]["nerel_joint_ner"] / 2
    assert history[-1]["nerel_joint_cats"] < history[0]["nerel_joint_cats"]


@pytest.mark.slow
def test_spacy_train_loop_saves_a_pipeline_with_the_vectors(tiny_project, tmp_path):
    overrides = {**tiny_project, "training.max_steps": 6, "training.eval_frequency": 3}
    nlp = init_nlp(cnn_config(overrides))
    (tmp_path / "out").mkdir()
    train(nlp, tmp_path / "out", stdout=io.StringIO(), stderr=io.StringIO())
    loaded = spacy.load(tmp_path / "out" / "model-best")
    assert loaded.vocab.vectors.shape == (20, DIMS)
    assert loaded.make_doc("Москву")[0].has_vector  # case variants survive the saved pipeline
    doc = loaded(TINY_DOCS[0][0])
    assert set(doc.cats) == {"WORKS_AS", "LOCATED_IN", "POINT_IN_TIME"}
