"""configs/joint_cnn_rel.cfg (joint_cnn.cfg plus the relation head) and its smaller joint_cnn_fast.cfg train through spaCy's loop."""
import io
from typing import Dict

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config

from nerel_spacy.vectors import prepare_vectors

from conftest import NESTED_DOCS, REPO_ROOT, make_nested_examples
from vectors_helpers import write_fake_navec

CONFIGS = {"joint_cnn_rel": 64, "joint_cnn_fast": 64}  # config name: the relation head's max_distance


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory) -> Dict[str, str]:
    """Fake navec vectors over the fixture words, and corpora of the nested docs with relations."""
    root = tmp_path_factory.mktemp("cnn_rel_project")
    words = sorted({word.lower() for text, _, _ in NESTED_DOCS for word in text.split()})
    counts = {word: 100 - i for i, word in enumerate(words[:20])}
    prepare_vectors(root / "vectors", navec_path=write_fake_navec(root / "navec.tar", counts, dim=300, qdim=100, centroids=8))
    nlp = spacy.blank("ru")
    for split in ("train", "dev"):
        docs = [eg.reference for eg in make_nested_examples(nlp)]
        DocBin(docs=docs, store_user_data=True).to_disk(root / f"{split}.spacy")
    return {"paths.vectors": str(root / "vectors"), "paths.train": str(root / "train.spacy"), "paths.dev": str(root / "dev.spacy")}


@pytest.mark.slow
@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_spacy_train_loop_scores_relations_and_saves_the_relation_head(config_name, tiny_project, tmp_path):
    overrides = {**tiny_project, "training.max_steps": 6, "training.eval_frequency": 3}
    nlp = init_nlp(load_config(REPO_ROOT / "configs" / f"{config_name}.cfg", overrides=overrides))
    pipe = nlp.get_pipe("nerel_joint")
    assert pipe.tasks == ("ner", "spans", "cats", "relations")
    assert pipe.relation_head.attrs["max_distance"] == CONFIGS[config_name]
    (tmp_path / "out").mkdir()
    log = io.StringIO()
    train(nlp, tmp_path / "out", stdout=log, stderr=io.StringIO())
    assert "RELATIONS_F" in log.getvalue() and "SIGMA_RELA" in log.getvalue()
    loaded = spacy.load(tmp_path / "out" / "model-best")
    assert set(loaded.get_pipe("nerel_joint").cfg["sigmas"]) == {"ner", "spans", "cats", "relations"}
    doc = loaded(NESTED_DOCS[0][0])
    assert isinstance(doc._.relations, list)
    assert "relations_f" in loaded.evaluate(make_nested_examples(loaded))


@pytest.mark.slow
def test_relation_head_v3_trains_saves_and_loads_with_the_same_relations(tiny_project, tmp_path):
    head = "components.nerel_joint.model.relation_head"
    overrides = {**tiny_project, "training.max_steps": 6, "training.eval_frequency": 3,
                 f"{head}.@architectures": "nerel.RelationScorer.v3", f"{head}.hidden_width": 16,
                 f"{head}.context_width": 8, f"{head}.context_margin": 2}
    nlp = init_nlp(load_config(REPO_ROOT / "configs" / "joint_cnn_fast.cfg", overrides=overrides))
    (tmp_path / "out").mkdir()
    train(nlp, tmp_path / "out", stdout=io.StringIO(), stderr=io.StringIO())
    loaded = spacy.load(tmp_path / "out" / "model-last")
    head = loaded.get_pipe("nerel_joint").model.get_ref("relation_head")
    assert head.layers[0].layers[1].name == "relation_context"
    loaded.to_disk(tmp_path / "again")
    reloaded_head = spacy.load(tmp_path / "again").get_pipe("nerel_joint").model.get_ref("relation_head")
    rng = numpy.random.default_rng(0)
    tokens = [rng.normal(size=(12, head.layers[0].layers[1].get_dim("nI"))).astype("float32")]
    mentions = [numpy.asarray([[0, 2, 0], [1, 2, 1], [5, 9, 2], [10, 12, 0]], dtype="int32")]
    scores = head.predict((tokens, mentions))[0]
    assert scores.shape[0] == 12 and scores.std() > 0  # every ordered pair within 64 tokens
    numpy.testing.assert_array_equal(scores, reloaded_head.predict((tokens, mentions))[0])
