"""The README's quick start, transformer block, as typed on a fresh copy of the repository (quickstart_helpers).

`spacy project run all` trains all four stages on the tiny random BERT, continues them through
a one-round schedule that adds the prepared vectors and ships the result in int8; then
`nerel-batch annotate` without -m finds that pipeline by itself. The stages are checked on the
way: train-heads keeps the encoder frozen and trains fresh heads; the train-more rounds and
the scheduled ones (at learning rate 0 here) source both components unchanged and read the
windows they were given; evaluate writes the metrics.
"""
import json

import pytest
import spacy

from nerel_spacy.models.static_residual import STATIC_VECTORS, WRAPPED

from conftest import model_weights
from quickstart_helpers import fresh_copy, quick_start_blocks, run_block

pytestmark = pytest.mark.slow
RUN = "joint_trf_heads_more_more_rounds"
TINY_ROUNDS = """[rounds]

[rounds.navec]
steps = 2
learn_rate = 0.0
add_vectors = true
"""


def test_transformer_path_then_annotate_with_no_model(tmp_path, tiny_bert_dir):
    clone = fresh_copy(tmp_path)
    (clone / "tiny_rounds.cfg").write_text(TINY_ROUNDS, encoding="utf-8")
    (_, transformer) = quick_start_blocks()
    # trim_words=none: tokenizing navec's 750k word forms adds a minute (tests/test_trim_* cover words)
    tiny = {"encoder": str(tiny_bert_dir), "max_steps": "4", "eval_frequency": "2", "vectors_max_words": "2000",
            "trim_words": "none", "heads_steps": "2", "heads_eval_frequency": "1", "more_steps": "2",
            "more_learn_rate": "0.0", "more_window": "10", "more_stride": "7", "rounds": "tiny_rounds.cfg"}
    run_block(transformer, clone, tiny)
    # `all` trains four stages, each from the previous one, and ships the last
    stages = ("joint_trf", "joint_trf_heads", "joint_trf_heads_more", "joint_trf_heads_more_more",
              "joint_trf_heads_more_more_rounds")
    pipelines = [spacy.load(clone / "training" / stage / "model-best") for stage in stages]
    first, heads, *more = pipelines
    assert all(nlp.pipe_names == first.pipe_names for nlp in pipelines)
    assert_same_weights(first.get_pipe("transformer").model, heads.get_pipe("transformer").model)  # frozen
    assert heads.config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == \
        "nerel.RelationScorer.v3"  # the project var relation_head
    assert any(a.shape != b.shape or abs(a - b).max() > 0 for a, b in zip(
        model_weights(first.get_pipe("nerel_joint").model), model_weights(heads.get_pipe("nerel_joint").model)))
    for before, after in zip([heads, *more], more):
        get_spans = after.config["components"]["transformer"]["model"]["get_spans"]
        assert (get_spans["window"], get_spans["stride"]) == (10, 7)
        assert after.get_pipe("nerel_joint").labels == before.get_pipe("nerel_joint").labels
        for name in before.pipe_names:
            assert_same_weights(before.get_pipe(name).model, after.get_pipe(name).model, atol=1e-6)
    # the last round gave the encoder the vectors `all` prepared
    assert more[-1].config["components"]["nerel_joint"]["model"]["tok2vec"]["@architectures"] == \
        "nerel.WithStaticVectors.v1"
    assert more[-1].vocab.vectors.shape == (2000, 300) and more[-2].vocab.vectors.shape[0] == 0
    metrics = json.loads((clone / "metrics" / RUN / "dev.json").read_text(encoding="utf-8"))
    assert {"seqeval_f", "ents_f", "spans_nerel_f", "cats_micro_f", "natasha_mapping"} <= set(metrics)
    final = clone / "training" / RUN
    assert (final / "model-int8" / "config.cfg").exists()
    trim = json.loads((clone / "metrics" / RUN / "trim_vocab.json").read_text(encoding="utf-8"))
    assert trim["transformer"]["identity"]["mismatched"] == 0  # `all` quantizes the trimmed copy
    shipped = spacy.load(final / "model-int8")
    assert shipped.meta["trimmed_vocabulary"]
    # the configs' decoding settings reach the shipped pipeline through all four stages
    settings = shipped.get_pipe("nerel_joint").cfg
    assert (settings["cats_source"], settings["relation_threshold"], settings["ents_source"]) == ("max", 0.3, "spans")


def assert_same_weights(model, other, atol: float = 0.0) -> None:
    """The same weights, but for ``other``'s static vectors' projection, which must be zero."""
    weights, others = model_weights(model), own_weights(other)
    assert len(weights) == len(others) > 0
    for a, b in zip(weights, others):
        assert a.shape == b.shape and abs(a - b).max() <= atol


def own_weights(model) -> list:
    """model_weights without a ``nerel.WithStaticVectors.v1`` projection, after checking it is at zero."""
    static = None
    if model.has_ref(WRAPPED) and model.get_ref(WRAPPED).has_ref(STATIC_VECTORS):
        static = model.get_ref(WRAPPED).get_ref(STATIC_VECTORS)
        assert abs(static.get_param("W")).max() == 0  # learning rate 0 here
    return [w for node in model.walk() if node is not static for w in model_weights_of_node(node)]


def model_weights_of_node(node) -> list:
    weights = [node.get_param(name) for name in node.param_names if node.has_param(name)]
    return weights + [tensor.detach().numpy() for shim in node.shims for tensor in shim._model.state_dict().values()]
