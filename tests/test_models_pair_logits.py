"""``pair_logits``: the relation head's prediction without joined pair rows equals the rows' logits."""
import numpy
import pytest

from nerel_spacy.models.pair_logits import linear_output, pair_logits
from nerel_spacy.models.relations import build_relation_scorer_v2, build_relation_scorer_v3, build_relation_scorer_v4
from nerel_spacy.relation_decoding import enumerate_pairs

MENTIONS = [
    numpy.asarray([[0, 3, 0], [1, 2, 1], [4, 5, 2], [6, 9, 1], [8, 9, 0]], dtype="int32"),
    numpy.asarray([[2, 3, 0]], dtype="int32"),  # one mention: no pair
    numpy.asarray([[0, 1, 2], [1, 2, 0], [4, 6, 1]], dtype="int32"),
]


def token_vectors(seed=0, width=6):
    rng = numpy.random.default_rng(seed)
    return [rng.normal(size=(n, width)).astype("float32") for n in (10, 4, 7)]


def built(builder):
    """A scorer from ``builder``, initialized on the test docs with every parameter random; and the docs."""
    Xs = token_vectors()
    model = builder()
    model.initialize(X=(Xs, MENTIONS))
    return randomized(model), Xs


def randomized(model, seed=1):
    """Every parameter drawn from a seeded rng, the output layer included (it starts at zero)."""
    rng = numpy.random.default_rng(seed)
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                shape = node.get_param(name).shape
                node.set_param(name, (rng.normal(size=shape) * 0.5).astype("float32"))
    return model


SCORERS = {
    "v3": lambda: build_relation_scorer_v3(max_distance=3, hidden_width=4, context_width=3, nO=5,
                                           n_entity_types=3, dropout=0.0),
    "v3-margin": lambda: build_relation_scorer_v3(max_distance=3, hidden_width=4, context_width=3, nO=5,
                                                  n_entity_types=3, dropout=0.0, context_margin=2),
    "v4-no-interaction": lambda: build_relation_scorer_v4(max_distance=3, hidden_width=4, context_width=3,
                                                          structure_width=2, nO=5, n_entity_types=3,
                                                          dropout=0.0, interaction=False),
    "v4": lambda: build_relation_scorer_v4(max_distance=3, hidden_width=4, context_width=3, structure_width=2,
                                           nO=5, n_entity_types=3, dropout=0.0),
}


@pytest.mark.parametrize("name", SCORERS)
def test_prediction_equals_the_joined_rows_logits(name):
    model, Xs = built(SCORERS[name])
    features, head = model.layers
    assert linear_output(head) is model.get_ref("relation_output")
    rows = features.predict((Xs, MENTIONS))
    expected = head.predict(rows)  # the joined rows through the output layer
    predicted = model.predict((Xs, MENTIONS))
    assert [p.shape for p in predicted] == [(len(enumerate_pairs(m, 3)[0]), 5) for m in MENTIONS]
    assert predicted[0].shape[0] > 0 and predicted[1].shape[0] == 0
    for a, b in zip(predicted, expected):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # the training forward (no dropout here) still goes through the rows (the representation
    # sums its projections per token there, per mention at prediction: rounding apart)
    trained, _ = model.begin_update((Xs, MENTIONS))
    for a, b in zip(trained, expected):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_small_attention_blocks_give_the_same_logits():
    model, Xs = built(SCORERS["v4"])
    whole = model.predict((Xs, MENTIONS))
    context = model.layers[0].layers[1]
    context.attrs["block"] = 2  # pairs sorted by first token, two at a time
    for a, b in zip(model.predict((Xs, MENTIONS)), whole):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


THROUGH_THE_ROWS = {
    "hidden-layer": lambda: build_relation_scorer_v3(max_distance=3, hidden_width=4, context_width=3, nO=5,
                                                     n_entity_types=3, dropout=0.0, depth=1),
    "no-pair-attention": lambda: build_relation_scorer_v2(max_distance=3, hidden_width=4, nO=5, n_entity_types=3,
                                                          dropout=0.0),
}


@pytest.mark.parametrize("name", THROUGH_THE_ROWS)
def test_heads_pair_logits_cannot_regroup_predict_through_the_rows(name):
    """A hidden layer before the output, or pair features that are not pair_features (v1, v2)."""
    model, Xs = built(THROUGH_THE_ROWS[name])
    features, head = model.layers
    assert name != "hidden-layer" or linear_output(head) is None
    rows_then_output = head.predict(features.predict((Xs, MENTIONS)))
    predicted = model.predict((Xs, MENTIONS))
    assert [p.shape for p in predicted] == [(len(enumerate_pairs(m, 3)[0]), 5) for m in MENTIONS]
    for a, b in zip(predicted, rows_then_output):
        numpy.testing.assert_array_equal(a, b)


def test_pair_logits_refuses_an_output_layer_of_another_width():
    Xs = token_vectors()
    model = SCORERS["v4"]()
    model.initialize(X=(Xs, MENTIONS))
    features, head = model.layers
    too_narrow = build_relation_scorer_v3(max_distance=3, hidden_width=4, context_width=3, nO=5,
                                          n_entity_types=3, dropout=0.0)
    too_narrow.initialize(X=(Xs, MENTIONS))
    with pytest.raises(ValueError, match="columns"):
        pair_logits(features, too_narrow.get_ref("relation_output"), (Xs, MENTIONS))


def test_no_docs_give_no_logits_and_prediction_has_no_backprop():
    Xs = token_vectors()
    model = SCORERS["v4"]()
    model.initialize(X=(Xs, MENTIONS))
    assert model.predict(([], [])) == []
    _, backprop = model((Xs, MENTIONS), is_train=False)
    with pytest.raises(ValueError, match="is_train=True"):
        backprop([])
