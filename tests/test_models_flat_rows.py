"""``with_flat_rows``: with_array's results, without copying rows that are already adjacent."""
import numpy
import pytest
from thinc.api import Linear, Model, NumpyOps, chain, with_array

from nerel_spacy.models.flat_rows import adjacent_rows, with_flat_rows
from nerel_spacy.models.spans import build_span_scorer

OPS = NumpyOps()


def probe(seen):
    """An identity layer that remembers what it was given."""
    def forward(model, X, is_train):
        seen.append(X)
        return X, lambda dY: dY
    return Model("probe", forward)


def test_adjacent_views_of_one_buffer_are_found_and_anything_else_is_not():
    buffer = numpy.arange(40, dtype="float32").reshape(10, 4)
    views = [buffer[1:3], buffer[3:3], buffer[3:7]]
    rows = adjacent_rows(views)
    assert rows is not None and numpy.shares_memory(rows, buffer)
    numpy.testing.assert_array_equal(rows, buffer[1:7])
    assert adjacent_rows([buffer[1:3], buffer[4:7]]) is None  # a gap
    assert adjacent_rows([buffer[3:7], buffer[1:3]]) is None  # out of order
    assert adjacent_rows([buffer[1:3], buffer[3:5].copy()]) is None  # another array
    assert adjacent_rows([buffer[1:3], numpy.zeros((2, 3), "float32")]) is None  # another width
    assert adjacent_rows([buffer[1:3, :2], buffer[3:5, :2]]) is None  # columns cut
    assert adjacent_rows([]) is None and adjacent_rows([buffer[2:2]]) is None


@pytest.mark.parametrize("adjacent", [True, False])
def test_outputs_and_gradients_are_with_arrays_and_adjacent_rows_are_not_copied(adjacent):
    rng = numpy.random.default_rng(0)
    buffer = rng.normal(size=(9, 5)).astype("float32")
    Xs = [buffer[0:4], buffer[4:4], buffer[4:9]] if adjacent else [rng.normal(size=(n, 5)).astype("float32") for n in (4, 0, 5)]
    seen = []
    linear = Linear(nO=3, nI=5)
    new = with_flat_rows(chain(probe(seen), linear))
    old = with_array(chain(probe([]), Linear(nO=3, nI=5)))
    new.initialize(X=Xs)
    old.initialize(X=Xs)
    old.from_bytes(new.to_bytes())  # one node structure: the weights move between them
    seen.clear()  # initialize ran the probe too
    Ys, backprop = new(Xs, is_train=True)
    old_Ys, old_backprop = old(Xs, is_train=True)
    for a, b in zip(Ys, old_Ys):
        numpy.testing.assert_array_equal(a, b)
    dYs = [rng.normal(size=Y.shape).astype("float32") for Y in Ys]
    for a, b in zip(backprop(dYs), old_backprop(dYs)):
        numpy.testing.assert_array_equal(a, b)
    assert numpy.shares_memory(seen[0], buffer) is adjacent


def test_a_span_scorer_saved_with_with_array_loads_and_scores_the_same():
    rng = numpy.random.default_rng(1)
    Xs = [rng.normal(size=(n, 6)).astype("float32") for n in (7, 3)]
    new = build_span_scorer(max_width=4, hidden_width=8, dropout=0.0, nO=5)
    new.initialize(X=Xs)
    # the structure of the span scorer before with_flat_rows, with other weights
    from nerel_spacy.models.spans import build_span_representation
    from thinc.api import Dropout

    old = chain(build_span_representation(4, 8), with_array(chain(Dropout(0.0), Linear(nO=5, nI=8))))
    old.initialize(X=Xs)
    old.layers[1].layers[0].layers[1].set_param("W", rng.normal(size=(5, 8)).astype("float32"))
    assert len(list(old.walk())) == len(list(new.walk()))
    new.from_bytes(old.to_bytes())
    for a, b in zip(new.predict(Xs), old.predict(Xs)):
        numpy.testing.assert_array_equal(a, b)
