"""models/joint.py's inference helpers: a batch run in groups of tokens, and their outputs joined."""
import numpy
import pytest
import spacy
from thinc.api import Config

from nerel_spacy.models.joint import LOG_VARIANCES, concat_outputs, predict_in_chunks

from conftest import make_nested_examples

V3_MODEL = """
[model]
@architectures = "nerel.JointTagCat.v3"
hidden_width = 0
dropout = 0.0

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 16
depth = 2
embed_size = 300
window_size = 1
maxout_pieces = 2
subword_features = true

[model.span_head]
@architectures = "nerel.SpanScorer.v1"
max_width = 4
hidden_width = 8
dropout = 0.0

[model.relation_head]
@architectures = "nerel.RelationScorer.v1"
max_distance = 16
hidden_width = 8
prior = 0.01
dropout = 0.0

[model.doc_pooling]
@architectures = "nerel.MeanMaxPooling.v1"
"""


def joint_nlp(**settings):
    """A v3 CNN pipeline on the nested fixtures, its weights made random so that every head predicts."""
    nlp = spacy.blank("ru")
    model = Config().from_str(V3_MODEL)["model"]
    nlp.add_pipe("nerel_joint", config={"model": model, "cats_source": "max", "span_threshold": 0.2,
                                        "relation_threshold": 0.2, **settings})
    nlp.initialize(lambda: make_nested_examples(nlp))
    rng = numpy.random.default_rng(0)
    for node in nlp.get_pipe("nerel_joint").model.walk():
        for name in node.param_names:
            if node.has_param(name):
                param = node.get_param(name)
                node.set_param(name, rng.normal(0, 0.5, param.shape).astype(param.dtype))
    return nlp


@pytest.fixture(scope="module")
def nlp():
    return joint_nlp()


@pytest.fixture(scope="module")
def docs(nlp):
    texts = [eg.reference.text for eg in make_nested_examples(nlp)] * 3
    return [nlp.make_doc(text) for text in texts]


@pytest.mark.parametrize("max_tokens", [1, 11, 12, 25, 40])
def test_groups_give_the_outputs_of_one_pass(nlp, docs, max_tokens):
    model = nlp.get_pipe("nerel_joint").model
    whole = model.predict(docs)
    grouped = predict_in_chunks(model, docs, max_tokens)
    assert set(grouped) == set(whole)
    numpy.testing.assert_allclose(grouped["cats"], whole["cats"], rtol=1e-5, atol=1e-6)
    for task in ("ner", "spans"):
        assert len(grouped[task]) == len(docs)
        for got, expected, doc in zip(grouped[task], whole[task], docs):
            assert got.shape == expected.shape and got.shape[0] >= len(doc)
            numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_runs_one_pass_when_the_batch_fits_or_when_off(nlp, docs):
    model = nlp.get_pipe("nerel_joint").model
    calls = []
    original = model._func

    def counting(model_, X, is_train):
        calls.append(len(X))
        return original(model_, X, is_train)

    model._func = counting
    try:
        predict_in_chunks(model, docs, 0)
        predict_in_chunks(model, docs, sum(len(doc) for doc in docs))
        predict_in_chunks(model, docs, 25)
    finally:
        model._func = original
    # 0 and a budget the batch fits in: one pass each; 25 tokens: docs of 11-12 tokens two by two
    assert calls == [9, 9, 2, 2, 2, 2, 1]


def test_the_component_predicts_the_same_with_and_without_groups(nlp, docs):
    pipe = nlp.get_pipe("nerel_joint")
    whole = pipe.predict(docs)
    pipe.cfg["max_batch_tokens"] = 12
    try:
        grouped = pipe.predict(docs)
    finally:
        pipe.cfg["max_batch_tokens"] = 0
    assert any(whole.spans) and any(whole.relations)  # the random weights do predict
    assert grouped.spans == whole.spans
    assert grouped.relations == whole.relations
    assert grouped.tag_paths == whole.tag_paths
    numpy.testing.assert_allclose(grouped.cat_probs, whole.cat_probs, rtol=1e-5, atol=1e-6)


def test_concat_outputs_joins_lists_and_stacks_cats():
    first = {"ner": ["a"], "cats": numpy.ones((1, 2)), LOG_VARIANCES: "s", "tokens": ["x"]}
    second = {"ner": ["b", "c"], "cats": numpy.zeros((2, 2)), LOG_VARIANCES: "s", "tokens": ["y", "z"]}
    merged = concat_outputs([first, second])
    assert merged["ner"] == ["a", "b", "c"] and merged["tokens"] == ["x", "y", "z"]
    assert merged["cats"].tolist() == [[1, 1], [0, 0], [0, 0]]
    assert merged[LOG_VARIANCES] == "s"


def test_a_negative_budget_is_a_clear_error():
    with pytest.raises(ValueError, match=r"max_batch_tokens must be 0 .* \[components.nerel_joint\]"):
        joint_nlp(max_batch_tokens=-1)
