"""The relation head: shapes, the pair representation, and gradients against finite differences."""
import numpy
import pytest

from nerel_spacy.models.relations import build_relation_representation, build_relation_scorer, build_relation_scorer_v2
from nerel_spacy.relation_decoding import distance_buckets, enumerate_pairs

from gradient_helpers import assert_input_gradients, assert_param_gradients

# (start, end, entity type) per doc: nested, adjacent, far apart, and a doc of one mention.
MENTIONS = [
    numpy.asarray([[0, 3, 0], [1, 2, 1], [4, 5, 2], [6, 9, 1]], dtype="int32"),
    numpy.asarray([[2, 3, 0]], dtype="int32"),
    numpy.asarray([[0, 1, 2], [1, 2, 0], [4, 6, 1]], dtype="int32"),
]


@pytest.fixture(params=[False, True], ids=["additive", "interaction"])
def representation(request):
    model = build_relation_representation(max_distance=2, hidden_width=5, n_entity_types=3, interaction=request.param)
    rng = numpy.random.default_rng(0)
    docs = [rng.normal(size=(n, 3)).astype("float32") for n in (9, 4, 7)]
    model.initialize(X=(docs, MENTIONS))
    # Every weight from the seeded rng: initialize draws W from the process-wide random state, which
    # depends on the tests run before this one on the same worker, and a draw that put a ReLU input
    # within a finite-difference step of 0 made the gradient check fail once in a few hundred runs.
    for name in ("W", "b", "head_types", "tail_types", "distances"):
        shape = model.get_param(name).shape
        model.set_param(name, rng.normal(size=shape).astype("float32") * 0.3)
    return model, docs


def test_one_row_per_candidate_pair(representation):
    model, docs = representation
    outputs = model.predict((docs, MENTIONS))
    expected = [len(enumerate_pairs(m, 2)[0]) for m in MENTIONS]
    assert expected == [8, 0, 4]  # (0,3)-(6,9) is 3 tokens apart; one mention has no pair
    width = 10 if model.attrs["interaction"] else 5
    assert [o.shape for o in outputs] == [(n, width) for n in expected]


def test_a_pair_sees_both_roles_the_tokens_between_and_the_distance(representation):
    model, docs = representation
    X, mentions = docs[0], MENTIONS[0]
    W, b = model.get_param("W"), model.get_param("b")
    heads, tails = enumerate_pairs(mentions, 2)
    row = list(zip(heads, tails)).index((3, 2))  # head [6, 9) after tail [4, 5): between = token 5
    P = X @ W.T
    (hs, he, hl), (ts, te, tl) = mentions[3], mentions[2]
    head = P[hs, 0:5] + P[he - 1, 5:10] + P[hs:he, 10:15].mean(axis=0) + model.get_param("head_types")[hl]
    tail = P[ts, 15:20] + P[te - 1, 20:25] + P[ts:te, 25:30].mean(axis=0) + model.get_param("tail_types")[tl]
    between = P[5:6, 30:35].mean(axis=0)
    bucket = distance_buckets(mentions, heads, tails)[row]
    expected = numpy.maximum(head + tail + between + model.get_param("distances")[bucket] + b, 0)
    if model.attrs["interaction"]:
        expected = numpy.concatenate([expected, head * tail])
    numpy.testing.assert_allclose(model.predict((docs, MENTIONS))[0][row], expected, rtol=1e-5, atol=1e-6)


def test_gradients_match_finite_differences(representation):
    model, docs = representation
    rng = numpy.random.default_rng(1)
    outputs, backprop = model.begin_update((docs, MENTIONS))
    d_outputs = [rng.normal(size=o.shape).astype("float32") for o in outputs]
    d_docs = [d.copy() for d in backprop(d_outputs)[0]]
    assert not d_docs[1].any()  # a doc without pairs gets no gradient

    def objective(xs):
        predicted = model.predict((xs, MENTIONS))
        return sum(float((o.astype("float64") * d).sum()) for o, d in zip(predicted, d_outputs))

    assert_input_gradients(objective, docs, d_docs)
    assert_param_gradients(model, ("W", "b", "head_types", "tail_types", "distances"), lambda: objective(docs))


def test_scorer_outputs_relation_types_and_rejects_a_bad_distance():
    model = build_relation_scorer(max_distance=2, hidden_width=8, nO=4, n_entity_types=3)
    docs = [numpy.ones((9, 6), dtype="float32"), numpy.ones((4, 6), dtype="float32")]
    model.initialize(X=(docs, MENTIONS[:2]))
    assert [o.shape for o in model.predict((docs, MENTIONS[:2]))] == [(8, 4), (0, 4)]
    assert model.attrs["max_distance"] == 2
    with pytest.raises(ValueError, match="max_distance"):
        build_relation_scorer(max_distance=-1)


def test_prior_sets_the_starting_probability_of_every_pair_and_type():
    docs = [numpy.ones((9, 6), dtype="float32"), numpy.ones((4, 6), dtype="float32")]
    default = build_relation_scorer(max_distance=2, hidden_width=8, nO=4, n_entity_types=3)
    default.initialize(X=(docs, MENTIONS[:2]))
    numpy.testing.assert_allclose(default.predict((docs, MENTIONS[:2]))[0], 0.0)
    model = build_relation_scorer(max_distance=2, hidden_width=8, nO=4, n_entity_types=3, prior=0.01)
    model.initialize(X=(docs, MENTIONS[:2]))
    probabilities = 1 / (1 + numpy.exp(-model.predict((docs, MENTIONS[:2]))[0]))
    numpy.testing.assert_allclose(probabilities, 0.01, rtol=1e-5)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="prior"):
            build_relation_scorer(prior=bad)


def test_v1_is_v2_without_interaction_or_hidden_layers():
    docs = [numpy.random.default_rng(2).normal(size=(9, 6)).astype("float32")]
    v1 = build_relation_scorer(max_distance=2, hidden_width=8, nO=4, n_entity_types=3)
    v1.initialize(X=(docs, MENTIONS[:1]))
    assert not v1.get_ref("relation_representation").attrs["interaction"]
    assert [layer.name for layer in v1.walk() if layer.name == "relu"] == []
    v2 = build_relation_scorer_v2(max_distance=2, hidden_width=8, nO=4, n_entity_types=3, depth=2)
    v2.initialize(X=(docs, MENTIONS[:1]))
    assert v2.get_ref("relation_representation").attrs["interaction"]
    assert len([layer for layer in v2.walk() if layer.name == "relu"]) == 2
    assert v2.predict((docs, MENTIONS[:1]))[0].shape == (8, 4)
    with pytest.raises(ValueError, match="depth"):
        build_relation_scorer_v2(depth=-1)


def test_prediction_per_mention_agrees_with_training_per_token(representation):
    """``predict`` projects mentions, ``begin_update`` every token: the same sums, regrouped."""
    model, docs = representation
    predicted = model.predict((docs, MENTIONS))
    trained, _ = model.begin_update((docs, MENTIONS))
    assert len(predicted) == len(trained) == len(docs)
    for got, want in zip(predicted, trained):
        assert got.shape == want.shape
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_prediction_has_no_backprop(representation):
    model, docs = representation
    _, backprop = model((docs, MENTIONS), is_train=False)
    with pytest.raises(ValueError, match="is_train=True"):
        backprop([])
