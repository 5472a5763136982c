"""Document pooling for the relation-type head: mean and max, or a learned attention."""
import numpy
from thinc.api import Adam

from nerel_spacy.models.pooling import build_attention_pooling, build_mean_max_pooling

DOCS = [numpy.arange(12, dtype="float32").reshape(4, 3), numpy.ones((2, 3), dtype="float32")]


def test_mean_max_concatenates_each_docs_mean_and_max():
    model = build_mean_max_pooling()
    model.initialize(X=DOCS)
    numpy.testing.assert_allclose(model.predict(DOCS), [[4.5, 5.5, 6.5, 9, 10, 11], [1, 1, 1, 1, 1, 1]])


def test_attention_is_a_weighted_mean_of_each_doc():
    model = build_attention_pooling(3)
    model.initialize(X=DOCS)
    pooled = model.predict(DOCS)
    assert pooled.shape == (2, 3)
    numpy.testing.assert_allclose(pooled[1], [1, 1, 1], rtol=1e-6)  # any weights average equal rows to themselves
    # softmax weights: a convex combination of the doc's rows, here rows in arithmetic progression,
    # so the result lies on the line between the first and the last row
    first = DOCS[0]
    t = (pooled[0][0] - first[0][0]) / (first[-1][0] - first[0][0])
    assert 0.0 <= t <= 1.0
    numpy.testing.assert_allclose(pooled[0], first[0] + t * (first[-1] - first[0]), rtol=1e-5)


def test_attention_learns_to_pick_the_row_that_matters():
    """Trained to output each doc's last row, the attention moves its weight there."""
    rng = numpy.random.default_rng(0)
    docs = [rng.normal(size=(5, 4)).astype("float32") for _ in range(8)]
    for doc in docs:
        doc[-1] = [3.0, 0.0, 0.0, 0.0]  # a row the query can find by its first feature
    targets = numpy.stack([doc[-1] for doc in docs])
    model = build_attention_pooling(4)
    model.initialize(X=docs)
    optimizer = Adam(0.1)

    def loss():
        return float(((model.predict(docs) - targets) ** 2).mean())

    before = loss()
    for _ in range(100):
        pooled, backprop = model.begin_update(docs)
        backprop((pooled - targets) / len(docs))
        model.finish_update(optimizer)
    assert loss() < before / 10
