"""The README's quick start, transformer block, as typed on a fresh copy of the repository (quickstart_helpers).

`spacy project run all` trains all four stages on the tiny random BERT and ships the last
one in int8; then `nerel-batch annotate` without -m finds that pipeline by itself.
"""
import json

import pytest
import spacy

from quickstart_helpers import fresh_copy, quick_start_blocks, run_block

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=200)]


def test_transformer_path_then_annotate_with_no_model(tmp_path, tiny_bert_dir):
    clone = fresh_copy(tmp_path)
    (_, transformer) = quick_start_blocks()
    # trim_words=none: tokenizing navec's 750k word forms adds a minute (tests/test_trim_* cover words)
    tiny = {"encoder": str(tiny_bert_dir), "max_steps": "4", "eval_frequency": "2", "vectors_max_words": "2000",
            "trim_words": "none", "heads_steps": "2", "heads_eval_frequency": "1", "more_steps": "2"}
    run_block(transformer, clone, tiny)
    # `all` trains four stages, each from the previous one, and ships the last
    for stage in ("joint_trf", "joint_trf_heads", "joint_trf_heads_more", "joint_trf_heads_more_more"):
        assert (clone / "training" / stage / "model-best" / "config.cfg").exists(), stage
    final = clone / "training" / "joint_trf_heads_more_more"
    assert (final / "model-int8" / "config.cfg").exists()
    trim = json.loads((clone / "metrics" / "joint_trf_heads_more_more" / "trim_vocab.json").read_text(encoding="utf-8"))
    assert trim["transformer"]["identity"]["mismatched"] == 0  # `all` quantizes the trimmed copy
    shipped = spacy.load(final / "model-int8")
    assert shipped.meta["trimmed_vocabulary"]
    # the configs' decoding settings reach the shipped pipeline through all four stages
    settings = shipped.get_pipe("nerel_joint").cfg
    assert (settings["cats_source"], settings["relation_threshold"], settings["ents_source"]) == ("max", 0.3, "spans")
