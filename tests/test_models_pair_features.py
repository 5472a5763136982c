"""``pair_features``: the pair-feature layers' columns side by side, as row ranges of one buffer."""
import numpy
import pytest
from thinc.api import Model, NumpyOps, chain, with_array

from nerel_spacy.models.flat_rows import adjacent_rows
from nerel_spacy.models.pair_features import join_pair_rows, pair_features
from nerel_spacy.models.relations import build_relation_scorer_v4

OPS = NumpyOps()
MENTIONS = [
    numpy.asarray([[0, 3, 0], [1, 2, 1], [4, 5, 2], [6, 9, 1]], dtype="int32"),
    numpy.asarray([[2, 3, 0]], dtype="int32"),  # one mention: no pair
    numpy.asarray([[0, 1, 2], [1, 2, 0], [4, 6, 1]], dtype="int32"),
]


def token_vectors(seed=0, width=6):
    rng = numpy.random.default_rng(seed)
    return [rng.normal(size=(n, width)).astype("float32") for n in (9, 4, 7)]


def test_joined_rows_are_each_layers_columns_in_order_and_one_buffer():
    rng = numpy.random.default_rng(0)
    counts = (3, 0, 2)
    first = [rng.normal(size=(n, 2)).astype("float32") for n in counts]
    second = [rng.normal(size=(n, 4)).astype("float32") for n in counts]
    joined = join_pair_rows(OPS, [first, second], [2, 4])
    assert [j.shape for j in joined] == [(3, 6), (0, 6), (2, 6)]
    for j, a, b in zip(joined, first, second):
        numpy.testing.assert_array_equal(j, numpy.concatenate([a, b], axis=1))
    assert adjacent_rows(joined) is not None  # what with_flat_rows reads without a copy
    assert join_pair_rows(OPS, [[], []], [0, 0]) == []


def test_docs_with_different_pair_counts_per_layer_are_refused():
    with pytest.raises(ValueError, match="one row per pair"):
        join_pair_rows(OPS, [[OPS.alloc2f(2, 1)], [OPS.alloc2f(3, 1)]], [1, 1])


def scaled_layer(name, width, scale):
    """A pair-feature layer: per doc, one row per token pair (i < j) of ``scale`` × the first
    ``width`` columns of x_i + x_j; the gradient goes back to both tokens."""
    def forward(model, inputs, is_train):
        Xs, _ = inputs
        pairs = [numpy.asarray([(i, j) for i in range(len(X)) for j in range(i + 1, len(X))], "int64").reshape(-1, 2)
                 for X in Xs]
        Ys = [scale * (X[p[:, 0], :width] + X[p[:, 1], :width]) for X, p in zip(Xs, pairs)]

        def backprop(dYs):
            dXs = []
            for X, p, dY in zip(Xs, pairs, dYs):
                dX = numpy.zeros_like(X)
                numpy.add.at(dX[:, :width], p[:, 0], scale * dY)
                numpy.add.at(dX[:, :width], p[:, 1], scale * dY)
                dXs.append(dX)
            return dXs, inputs[1]
        return Ys, backprop
    return Model(name, forward)


def test_gradients_are_split_by_columns_and_summed_over_the_layers():
    Xs = [numpy.arange(n * 3, dtype="float32").reshape(n, 3) for n in (3, 1, 2)]
    model = pair_features(scaled_layer("a", 2, 1.0), scaled_layer("b", 3, 10.0))
    Ys, backprop = model((Xs, None), is_train=True)
    assert [Y.shape for Y in Ys] == [(3, 5), (0, 5), (1, 5)]
    dYs = [numpy.ones_like(Y) for Y in Ys]
    dXs, _ = backprop(dYs)
    # doc 0: each token is in 2 of the 3 pairs; layer a's columns get 1 per pair, b's 10
    numpy.testing.assert_array_equal(dXs[0], numpy.full((3, 3), 2.0) * [11.0, 11.0, 10.0])
    numpy.testing.assert_array_equal(dXs[1], numpy.zeros((1, 3)))


def test_a_v4_scorer_saved_with_with_array_loads_and_scores_the_same():
    """Pipelines saved before the pair rows became one buffer had ``with_array`` there:
    the same nodes, so their weights load and score as before, with and without gradients."""
    Xs = token_vectors()
    new = build_relation_scorer_v4(max_distance=2, hidden_width=4, context_width=3, structure_width=2, nO=5,
                                   n_entity_types=3, dropout=0.0)
    new.initialize(X=(Xs, MENTIONS))
    features, output_layers = new.layers[0], new.layers[1].layers[0]
    old = chain(features, with_array(output_layers))  # the old structure, sharing the layers
    rng = numpy.random.default_rng(3)
    linear = output_layers.layers[-1]
    linear.set_param("W", rng.normal(size=linear.get_param("W").shape).astype("float32"))
    assert len(list(old.walk())) == len(list(new.walk()))
    predicted = new.predict((Xs, MENTIONS))
    assert [p.shape for p in predicted] == [(8, 5), (0, 5), (4, 5)]
    for a, b in zip(predicted, old.predict((Xs, MENTIONS))):  # pair_logits' sums, regrouped
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    Ys, backprop = new((Xs, MENTIONS), is_train=True)
    old_Ys, old_backprop = old((Xs, MENTIONS), is_train=True)
    for a, b in zip(Ys, old_Ys):
        numpy.testing.assert_array_equal(a, b)
    dYs = [rng.normal(size=Y.shape).astype("float32") for Y in Ys]
    for a, b in zip(backprop(dYs)[0], old_backprop(dYs)[0]):
        numpy.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
