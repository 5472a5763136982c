"""An int8 pipeline keeps the relation head (nerel.JointTagCat.v3) and its triples."""
import pytest
import spacy
from spacy.util import load_model_from_config

from nerel_spacy.gold_targets import gold_relations
from nerel_spacy.quantize import quantize_pipeline

from conftest import make_nested_examples
from pipeline_helpers import train, trf_nlp


def v3_trf_nlp(bert_dir, relation_head="nerel.RelationScorer.v1"):
    """The tiny transformer pipeline of test_pipeline_joint, with a relation head added."""
    config = trf_nlp(bert_dir).config.copy()
    joint = config["components"]["nerel_joint"]
    joint["model"]["@architectures"] = "nerel.JointTagCat.v3"
    joint["model"]["relation_head"] = {"@architectures": relation_head, "max_distance": 16, "hidden_width": 32}
    if relation_head == "nerel.RelationScorer.v4":
        joint["model"]["relation_head"].update({"context_width": 8, "structure_width": 8})
    joint["scorer"]["@scorers"] = "nerel.joint_scorer.v3"
    joint["fixed_weights"]["relations"] = 1.0
    return load_model_from_config(config, auto_fill=True, validate=True)


@pytest.mark.slow
@pytest.mark.parametrize("relation_head", ["nerel.RelationScorer.v1", "nerel.RelationScorer.v4"])
def test_int8_pipeline_keeps_the_relation_head(tiny_bert_dir, tmp_path, relation_head):
    nlp = v3_trf_nlp(tiny_bert_dir, relation_head)
    examples = make_nested_examples(nlp)
    train(nlp, examples, 8)
    nlp.to_disk(tmp_path / "fp32")
    fp32 = spacy.load(tmp_path / "fp32")
    int8, _ = quantize_pipeline(fp32, compute="int8")
    int8.to_disk(tmp_path / "int8")
    loaded = spacy.load(tmp_path / "int8")
    joint_fp32, joint_int8 = fp32.get_pipe("nerel_joint"), loaded.get_pipe("nerel_joint")
    assert joint_int8.tasks == ("ner", "spans", "cats", "relations")
    head_fp32, head_int8 = joint_fp32.relation_head, joint_int8.relation_head
    for example in examples:
        text = example.reference.text
        doc_fp32, doc_int8 = fp32(text), loaded(text)
        assert isinstance(doc_int8._.relations, list)
        # The relation head reads the int8 encoder's vectors and stays as trained: on the
        # same (gold) mentions its logits stay close to fp32's.
        (gold,) = gold_relations([example], joint_fp32.entity_labels, joint_fp32.cats_labels, "nerel")
        mentions = [gold.mentions]
        logits = []
        for doc, joint, head in ((doc_fp32, joint_fp32, head_fp32), (doc_int8, joint_int8, head_int8)):
            tokens = joint.model.predict([doc])["tokens"]
            logits.append(head.predict((tokens, mentions))[0])
        assert logits[0].shape == logits[1].shape and logits[0].shape[0] > 0
        assert abs(logits[0] - logits[1]).max() < 0.1
