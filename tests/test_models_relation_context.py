"""The relation head's pair attention: what each pair reads, and gradients against finite differences."""
import numpy
import pytest
from thinc.api import NumpyOps

from nerel_spacy.models.relation_context import (
    attend_over_ranges, build_relation_context, pair_token_ranges, projected_context,
)
from nerel_spacy.models.relations import build_relation_scorer_v3
from nerel_spacy.relation_decoding import enumerate_pairs

from gradient_helpers import assert_input_gradients, assert_param_gradients

MENTIONS = [
    numpy.asarray([[0, 3, 0], [1, 2, 1], [4, 5, 2], [6, 9, 1]], dtype="int32"),
    numpy.asarray([[2, 3, 0]], dtype="int32"),
    numpy.asarray([[0, 1, 2], [1, 2, 0], [4, 6, 1]], dtype="int32"),
]


def make_docs(seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.normal(size=(n, 3)).astype("float32") for n in (9, 4, 7)]


@pytest.fixture(params=[(0, 512), (1, 2)], ids=["no-margin", "margin-small-blocks"])
def context(request):
    margin, block = request.param
    model = build_relation_context(max_distance=2, hidden_width=4, attention_width=3, margin=margin, block=block)
    docs = make_docs()
    model.initialize(X=(docs, MENTIONS))
    rng = numpy.random.default_rng(3)  # fixed weights: glorot's draw would differ per run
    for name in ("Q", "bq", "K", "V"):
        model.set_param(name, rng.normal(size=model.get_param(name).shape).astype("float32") * 0.5)
    return model, docs


def test_token_ranges_cover_both_arguments_and_the_margin():
    mentions = MENTIONS[0]
    heads, tails = numpy.asarray([3, 1]), numpy.asarray([2, 0])
    lo, hi = pair_token_ranges(mentions, heads, tails, margin=0, n_tokens=9)
    assert lo.tolist() == [4, 0] and hi.tolist() == [9, 3]
    lo, hi = pair_token_ranges(mentions, heads, tails, margin=2, n_tokens=9)
    assert lo.tolist() == [2, 0] and hi.tolist() == [9, 5]  # clipped to the doc


def test_a_pair_attends_over_its_own_tokens(context):
    model, docs = context
    margin = model.attrs["margin"]
    outputs = model.predict((docs, MENTIONS))
    assert [o.shape for o in outputs] == [(len(enumerate_pairs(m, 2)[0]), 4) for m in MENTIONS]
    X, mentions = docs[0], MENTIONS[0]
    heads, tails = enumerate_pairs(mentions, 2)
    Q, bq, K, V = (model.get_param(n) for n in ("Q", "bq", "K", "V"))
    for row, (h, t) in enumerate(zip(heads, tails)):
        (hs, he, _), (ts, te, _) = mentions[h], mentions[t]
        query = Q[:3] @ X[hs:he].mean(axis=0) + Q[3:] @ X[ts:te].mean(axis=0) + bq
        lo, hi = max(min(hs, ts) - margin, 0), min(max(he, te) + margin, 9)
        scores = (X[lo:hi] @ K.T) @ query / numpy.sqrt(3)
        weights = numpy.exp(scores - scores.max())
        expected = (weights / weights.sum()) @ (X[lo:hi] @ V.T)
        numpy.testing.assert_allclose(outputs[0][row], expected, rtol=1e-5, atol=1e-6)


def test_training_forward_equals_prediction(context):
    model, docs = context
    trained, _ = model.begin_update((docs, MENTIONS))
    predicted = model.predict((docs, MENTIONS))
    assert len(trained) == len(predicted) == len(docs)
    for a, b in zip(trained, predicted):
        numpy.testing.assert_array_equal(a, b)


def test_gradients_match_finite_differences(context):
    model, docs = context
    rng = numpy.random.default_rng(1)
    outputs, backprop = model.begin_update((docs, MENTIONS))
    targets = [rng.normal(size=o.shape).astype("float32") for o in outputs]

    def objective(inputs=None):
        predicted = model.predict((inputs if inputs is not None else docs, MENTIONS))
        return float(sum((p * t).sum() for p, t in zip(predicted, targets)))

    d_docs, _ = backprop(targets)
    # float32 softmax: rounding alone moves a 2e-4 central difference by up to ~5e-3 here
    assert_input_gradients(lambda inputs: objective(inputs), docs, d_docs, tol=1e-2)
    assert_param_gradients(model, ["Q", "bq", "K", "V"], objective, tol=1e-2)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="attention_width"):
        build_relation_context(max_distance=2, hidden_width=4, attention_width=0)
    with pytest.raises(ValueError, match="margin"):
        build_relation_context(max_distance=2, hidden_width=4, attention_width=2, margin=-1)


def test_v3_scores_every_pair_and_its_gradients_reach_both_feature_layers():
    model = build_relation_scorer_v3(max_distance=2, hidden_width=4, dropout=0.0, nO=5, n_entity_types=3,
                                     context_width=3)
    docs = make_docs()
    model.initialize(X=(docs, MENTIONS))
    outputs, backprop = model.begin_update((docs, MENTIONS))
    assert [o.shape for o in outputs] == [(len(enumerate_pairs(m, 2)[0]), 5) for m in MENTIONS]
    rng = numpy.random.default_rng(2)
    output_layer = model.get_ref("relation_output")
    output_layer.set_param("W", rng.normal(size=output_layer.get_param("W").shape).astype("float32"))
    outputs, backprop = model.begin_update((docs, MENTIONS))
    d_docs, mentions = backprop([numpy.ones_like(o) for o in outputs])
    assert mentions is MENTIONS
    assert [d.shape for d in d_docs] == [d.shape for d in docs]
    context = model.layers[0].layers[1]
    representation = model.get_ref("relation_representation")
    assert context.get_grad("V").any() and representation.get_grad("W").any()


def test_projected_context_is_the_context_through_the_projection(context):
    model, docs = context
    rng = numpy.random.default_rng(4)
    projection = rng.normal(size=(5, 4)).astype("float32")
    outputs = model.predict((docs, MENTIONS))
    projected = projected_context(model, (docs, MENTIONS), projection)
    assert [p.shape for p in projected] == [(o.shape[0], 5) for o in outputs]
    for p, o in zip(projected, outputs):
        numpy.testing.assert_allclose(p, o @ projection.T, rtol=1e-5, atol=1e-5)


def test_attention_blocks_of_pairs_sorted_by_first_token_keep_the_candidate_order():
    rng = numpy.random.default_rng(5)
    lo = numpy.asarray([5, 0, 3, 0, 7], dtype="int32")
    hi = numpy.asarray([9, 4, 6, 9, 9], dtype="int32")
    queries = rng.normal(size=(5, 2)).astype("float32")
    keys, values = rng.normal(size=(9, 2)).astype("float32"), rng.normal(size=(9, 3)).astype("float32")
    pooled, order, blocks = attend_over_ranges(NumpyOps(), queries, keys, values, lo, hi, block=2, n_att=2)
    assert order.tolist() == [1, 3, 2, 0, 4]  # stable: the two pairs from token 0 keep their order
    assert [(left, right) for _, left, right, _ in blocks] == [(0, 9), (3, 9), (7, 9)]
    for row in range(5):
        scores = keys[lo[row]:hi[row]] @ queries[row] / numpy.sqrt(2)
        weights = numpy.exp(scores - scores.max())
        numpy.testing.assert_allclose(pooled[row], (weights / weights.sum()) @ values[lo[row]:hi[row]],
                                      rtol=1e-5, atol=1e-6)
