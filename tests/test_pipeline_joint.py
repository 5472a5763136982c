"""The nerel_joint component: training, prediction, serialization, and its options."""
import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam

from nerel_spacy.models.joint import get_log_variances
from nerel_spacy.pipeline.joint import NerelJoint

from conftest import TINY_DOCS, make_examples, make_nested_examples
from pipeline_helpers import cnn_nlp, train, trf_nlp


def gold_ents(example: Example):
    return [(e.start, e.end, e.label_) for e in example.reference.ents]


@pytest.mark.slow
def test_cnn_overfits_three_docs():
    nlp = cnn_nlp()
    examples = make_examples(nlp)
    history = train(nlp, examples, 60)
    assert history[-1]["nerel_joint_ner"] < history[0]["nerel_joint_ner"] / 10
    assert history[-1]["nerel_joint_cats"] < history[0]["nerel_joint_cats"] / 10
    for example, (text, _, cats) in zip(examples, TINY_DOCS):
        doc = nlp(text)
        assert [(e.start, e.end, e.label_) for e in doc.ents] == gold_ents(example)
        assert {k: round(v) for k, v in doc.cats.items()} == cats
        assert [(s.start, s.end, s.label_) for s in doc.spans["nerel"]] == gold_ents(example)
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] == 1.0 and scores["seqeval_f"] == 1.0 and scores["cats_micro_f"] == 1.0


@pytest.mark.slow
def test_listener_transformer_learns_and_round_trips(tiny_bert_dir, tmp_path):
    nlp = trf_nlp(tiny_bert_dir)
    assert nlp.pipe_names == ["transformer", "nerel_joint"]
    examples = make_examples(nlp)
    history = train(nlp, examples, 25)
    assert history[-1]["nerel_joint"] < history[0]["nerel_joint"]
    assert history[-1]["nerel_joint_ner"] < history[0]["nerel_joint_ner"]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    for text, _, _ in TINY_DOCS:
        a, b = nlp(text), loaded(text)
        assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
        assert a.cats == pytest.approx(b.cats)
    assert loaded.get_pipe("nerel_joint").cfg["sigmas"] == pytest.approx(
        nlp.get_pipe("nerel_joint").cfg["sigmas"]
    )


@pytest.mark.slow
def test_inline_transformer_learns(tiny_bert_dir):
    nlp = trf_nlp(tiny_bert_dir, inline=True)
    assert nlp.pipe_names == ["nerel_joint"]
    examples = make_examples(nlp)
    history = train(nlp, examples, 15)
    assert history[-1]["nerel_joint_ner"] < history[0]["nerel_joint_ner"]


def test_frozen_word_embeddings_do_not_move(tiny_bert_dir):
    nlp = trf_nlp(tiny_bert_dir)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.001)
    hf_model = nlp.get_pipe("transformer").model.transformer
    before_embeddings = hf_model.get_input_embeddings().weight.detach().clone()
    before_layer = hf_model.encoder.layer[0].output.dense.weight.detach().clone()
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    assert hf_model.get_input_embeddings().weight.detach().equal(before_embeddings)
    assert not hf_model.encoder.layer[0].output.dense.weight.detach().equal(before_layer)


@pytest.mark.slow
def test_word_embeddings_stay_frozen_after_loading(tiny_bert_dir, tmp_path):
    """Loading rebuilds the Hugging Face model; training a loaded pipeline must not unfreeze
    it (the optimizer skips a weight only when it gets no gradient at all)."""
    nlp = trf_nlp(tiny_bert_dir)
    train(nlp, make_examples(nlp), 3)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    optimizer = loaded.resume_training()
    for _ in range(2):
        loaded.update(make_examples(loaded), sgd=optimizer, drop=0.0)
    hf_model = loaded.get_pipe("transformer").model.transformer
    embeddings = hf_model.get_input_embeddings().weight
    assert not embeddings.requires_grad and embeddings.grad is None
    assert hf_model.encoder.layer[0].output.dense.weight.grad is not None


@pytest.mark.slow
def test_uncertainty_weights_are_learned_and_fixed_weights_are_not():
    learned = cnn_nlp(loss_weighting="uncertainty")
    train(learned, make_examples(learned), 20)
    assert not numpy.allclose(get_log_variances(learned.get_pipe("nerel_joint").model), 0.0)
    sigmas = learned.get_pipe("nerel_joint").cfg["sigmas"]
    assert set(sigmas) == {"ner", "spans", "cats"} and all(s > 0 for s in sigmas.values())

    fixed = cnn_nlp(loss_weighting="fixed", fixed_weights={"ner": 1.0, "cats": 0.5})
    history = train(fixed, make_examples(fixed), 5)
    assert numpy.allclose(get_log_variances(fixed.get_pipe("nerel_joint").model), 0.0)
    first = history[0]
    assert first["nerel_joint"] == pytest.approx(
        first["nerel_joint_ner"] + first["nerel_joint_spans"] + 0.5 * first["nerel_joint_cats"],
        rel=1e-5,
    )


def test_unknown_loss_weighting_is_a_clear_error():
    with pytest.raises(ValueError, match="loss_weighting"):
        cnn_nlp(loss_weighting="magic")


@pytest.mark.slow
def test_earlier_entities_are_respected_unless_overwrite(tmp_path):
    nlp = cnn_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, 40)
    text = TINY_DOCS[0][0]  # "Барак Обама ..." -> PERSON on tokens 0-2
    ruler_nlp = spacy.blank("ru")
    ruler = ruler_nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "VIP", "pattern": "Обама"}])
    ruler_nlp.add_pipe("nerel_joint", source=nlp)
    doc = ruler_nlp(text)
    labels = [(e.text, e.label_) for e in doc.ents]
    assert ("Обама", "VIP") in labels
    assert ("Москву", "CITY") in labels
    assert not any(label == "PERSON" for _, label in labels)  # it overlapped the ruler's VIP

    ruler_nlp.get_pipe("nerel_joint").cfg["overwrite_ents"] = True
    doc = ruler_nlp(text)
    assert ("Барак Обама", "PERSON") in [(e.text, e.label_) for e in doc.ents]


@pytest.mark.slow
def test_per_label_thresholds_are_saved_and_used(tmp_path):
    nlp = cnn_nlp(threshold=0.5)
    train(nlp, make_examples(nlp), 30)
    pipe: NerelJoint = nlp.get_pipe("nerel_joint")
    pipe.set_thresholds({"WORKS_AS": 0.99})
    assert pipe.cats_thresholds["WORKS_AS"] == 0.99
    assert pipe.cats_thresholds["LOCATED_IN"] == 0.5
    with pytest.raises(ValueError, match="unknown relation types"):
        pipe.set_thresholds({"NOT_A_RELATION": 0.2})
    with pytest.raises(ValueError, match=r"thresholds are probabilities, from 0 to 1: \{'WORKS_AS': 7\}"):
        pipe.set_thresholds({"WORKS_AS": 7})
    nlp.to_disk(tmp_path / "m")
    assert spacy.load(tmp_path / "m").get_pipe("nerel_joint").cats_thresholds["WORKS_AS"] == 0.99


def test_empty_and_whitespace_docs():
    nlp = cnn_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, 3)
    for text in ["", "   ", "\n"]:  # no word: nothing to read, so all-zero cats, as for ""
        assert nlp(text).cats == {"WORKS_AS": 0.0, "LOCATED_IN": 0.0, "POINT_IN_TIME": 0.0}
    docs = list(nlp.pipe(["", TINY_DOCS[0][0], " \n "]))
    assert len(docs[1].ents) > 0 and len(docs[0].ents) == len(docs[2].ents) == 0
    assert max(docs[1].cats.values()) > 0 and set(docs[2].cats.values()) == {0.0}
    empty = Example(nlp.make_doc(""), nlp.make_doc(""))
    losses = nlp.update([empty, examples[0]], sgd=nlp.create_optimizer())
    assert losses["nerel_joint"] > 0


def test_initialize_without_annotations_is_a_clear_error():
    nlp = cnn_nlp()
    bare = [Example(nlp.make_doc("Текст"), nlp.make_doc("Текст"))]
    with pytest.raises(ValueError, match="no entities and no cats"):
        nlp.initialize(lambda: bare)


def test_labels_from_initialize_config():
    nlp = cnn_nlp()
    examples = make_examples(nlp)
    nlp.get_pipe("nerel_joint").initialize(
        lambda: examples, nlp=nlp,
        labels={"entity_labels": ["PERSON", "CITY"], "cats_labels": ["SPOUSE"]},
    )
    pipe = nlp.get_pipe("nerel_joint")
    assert pipe.entity_labels == ("CITY", "PERSON")
    assert pipe.cats_labels == ("SPOUSE",)
    assert pipe.label_data == {"entity_labels": ["CITY", "PERSON"], "cats_labels": ["SPOUSE"]}


@pytest.mark.slow
def test_settings_given_at_load_time_override_the_saved_ones(tmp_path):
    nlp = cnn_nlp(threshold=0.5)
    train(nlp, make_examples(nlp), 5)
    nlp.get_pipe("nerel_joint").set_thresholds({"WORKS_AS": 0.9})
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(
        tmp_path / "m", config={"components": {"nerel_joint": {"threshold": 0.3, "overwrite_ents": True}}}
    )
    pipe = loaded.get_pipe("nerel_joint")
    assert pipe.cfg["overwrite_ents"] is True and pipe.cfg["threshold"] == 0.3
    # learned state is still the saved one
    assert pipe.cats_thresholds == {"WORKS_AS": 0.9, "LOCATED_IN": 0.3, "POINT_IN_TIME": 0.3}
    assert pipe.entity_labels == nlp.get_pipe("nerel_joint").entity_labels


def test_listener_without_its_transformer_is_a_clear_error(tiny_bert_dir):
    nlp = trf_nlp(tiny_bert_dir)
    train(nlp, make_examples(nlp), 2)
    bare = spacy.blank("ru")
    bare.add_pipe("nerel_joint", source=nlp)
    with pytest.raises(ValueError, match="source the 'transformer' component"):
        bare("Барак Обама приехал в Москву .")


# ---- nested mentions (nerel.JointTagCat.v2) ---------------------------------------

def mentions(doc):
    return sorted((s.start, s.end, s.label_) for s in doc.spans["nerel"])


@pytest.mark.slow
def test_cnn_overfits_nested_mentions(tmp_path):
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 80)
    for example in examples:
        doc = nlp(example.reference.text)
        assert mentions(doc) == mentions(example.reference)
        group = doc.spans["nerel"]
        assert len(group.attrs["scores"]) == len(group)
        assert all(0.5 <= score <= 1.0 for score in group.attrs["scores"])
    scores = nlp.evaluate(examples)
    assert scores["spans_nerel_f"] == 1.0
    assert scores["spans_nerel_inner_f"] == 1.0 and scores["spans_nerel_outer_f"] == 1.0
    nlp.to_disk(tmp_path / "nested")
    loaded = spacy.load(tmp_path / "nested")
    for example in examples:
        assert mentions(loaded(example.reference.text)) == mentions(example.reference)


@pytest.mark.slow
def test_ents_can_come_from_the_span_head(tmp_path):
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 80)
    nlp.to_disk(tmp_path / "nested")
    from_spans = spacy.load(
        tmp_path / "nested", config={"components": {"nerel_joint": {"ents_source": "spans"}}}
    )
    for example in examples:
        doc = from_spans(example.reference.text)
        outermost = [(e.start, e.end, e.label_) for e in example.reference.ents]
        assert [(e.start, e.end, e.label_) for e in doc.ents] == outermost
    # Nothing reads the BIO head's paths then, so predict does not decode them.
    docs = [from_spans.make_doc(example.reference.text) for example in examples]
    assert all(path == [] for path in from_spans.get_pipe("nerel_joint").predict(docs).tag_paths)
    from_tags = spacy.load(tmp_path / "nested")
    tag_paths = from_tags.get_pipe("nerel_joint").predict(docs).tag_paths
    assert [len(path) for path in tag_paths] == [len(doc) for doc in docs]


def test_ents_from_spans_needs_a_span_head():
    v1 = {"@architectures": "nerel.JointTagCat.v1", "tok2vec": TINY_CNN, "doc_pooling": POOLING}
    with pytest.raises(ValueError, match="span head"):
        cnn_nlp(model=v1, ents_source="spans")


TINY_CNN = {
    "@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, "width": 32,
    "depth": 2, "embed_size": 500, "window_size": 1, "maxout_pieces": 3, "subword_features": True,
}
POOLING = {"@architectures": "nerel.MeanMaxPooling.v1"}


@pytest.mark.slow
def test_v1_model_keeps_flat_spans_and_two_tasks(tmp_path):
    v1 = {"@architectures": "nerel.JointTagCat.v1", "tok2vec": TINY_CNN, "doc_pooling": POOLING}
    nlp = cnn_nlp(model=v1, scorer={"@scorers": "nerel.joint_scorer.v1"})
    pipe = nlp.get_pipe("nerel_joint")
    examples = make_examples(nlp)
    train(nlp, examples, 40)
    assert pipe.tasks == ("ner", "cats") and set(pipe.cfg["sigmas"]) == {"ner", "cats"}
    doc = nlp(TINY_DOCS[0][0])
    assert list(doc.spans["nerel"]) == list(doc.ents)
    nlp.to_disk(tmp_path / "v1")
    assert spacy.load(tmp_path / "v1").get_pipe("nerel_joint").tasks == ("ner", "cats")


def test_update_goes_through_get_loss():
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("nerel_joint")
    outputs = pipe.model.predict([eg.predicted for eg in examples])
    total, gradients = pipe.get_loss(examples, outputs)
    assert set(gradients) >= {"ner", "spans", "cats", "log_variances"}
    losses = pipe.update(examples, drop=0.0, sgd=None)
    assert losses["nerel_joint"] == pytest.approx(total, rel=1e-6)
    raw = gradients["task_losses"]
    assert raw["spans"] == pytest.approx(losses["nerel_joint_spans"], rel=1e-6)


def test_score_has_no_side_effects():
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 3)
    pipe = nlp.get_pipe("nerel_joint")
    cfg_before = repr(pipe.cfg)
    first, second = nlp.evaluate(examples), nlp.evaluate(examples)
    assert repr(pipe.cfg) == cfg_before
    assert {k: v for k, v in first.items() if "speed" not in k} == {
        k: v for k, v in second.items() if "speed" not in k
    }
    assert "loss_ner" not in first and "sigma_ner" not in first


def test_log_variances_get_no_weight_decay():
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("nerel_joint")
    weights = pipe.model.get_ref("loss_weights")
    weights.set_param("log_variances", weights.ops.asarray1f([1.0, 1.0, 1.0]))
    weights.inc_grad("log_variances", weights.ops.alloc1f(3))  # a zero gradient
    head = pipe.model.get_ref("cat_output")
    head.set_param("W", head.ops.alloc(head.get_param("W").shape) + 1.0)
    head.inc_grad("W", head.ops.alloc(head.get_param("W").shape))
    # With a zero gradient Adam does not move a weight: only decay would.
    pipe.finish_update(Adam(0.1, L2=1.0, L2_is_weight_decay=True))
    assert numpy.allclose(weights.get_param("log_variances"), 1.0)
    assert numpy.all(head.get_param("W") < 1.0)  # the other weights still decay


def test_factory_and_component_take_the_same_settings():
    import inspect

    from nerel_spacy.pipeline import factory, joint

    # The factory passes on every setting it takes; a new one must reach NerelJoint too.
    factory_settings = set(inspect.signature(factory.make_nerel_joint).parameters) - {"nlp", "name", "model", "scorer"}
    assert factory_settings == set(joint.SETTINGS)
    assert {"span_threshold", "ents_source", "threshold", "spans_key"} <= set(joint.SETTINGS)
