"""``batch_by_chars``: batches within a character and a count budget, in order, lazily."""
import itertools
from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerel_spacy.annotate import split_text
from nerel_spacy.batching import batch_by_chars, pipe_by_chars


def test_batches_fill_up_to_the_budget_in_order():
    texts = ["aaaa", "bb", "cccc", "d", "eeeeee", "ff"]
    assert list(batch_by_chars(texts, max_chars=6, max_items=10)) == [
        ["aaaa", "bb"], ["cccc", "d"], ["eeeeee"], ["ff"],
    ]
    assert list(batch_by_chars(texts, max_chars=100, max_items=2)) == [
        ["aaaa", "bb"], ["cccc", "d"], ["eeeeee", "ff"],
    ]
    assert list(batch_by_chars([], max_chars=5, max_items=5)) == []


def test_an_item_over_the_budget_is_a_batch_of_its_own():
    assert list(batch_by_chars(["ab", "x" * 9, "c"], max_chars=4, max_items=10)) == [["ab"], ["x" * 9], ["c"]]


def test_sizes_come_from_the_size_function():
    items = [("a", 3), ("b", 3), ("c", 1)]
    batches = list(batch_by_chars(items, max_chars=4, max_items=10, size=lambda item: item[1]))
    assert batches == [[("a", 3)], [("b", 3), ("c", 1)]]


def test_a_full_batch_is_given_out_before_the_next_item_is_read():
    read: List[int] = []

    def items():
        for i in itertools.count():
            read.append(i)
            yield "x" * 5

    batches = batch_by_chars(items(), max_chars=10, max_items=100)
    assert next(batches) == ["xxxxx", "xxxxx"] and read == [0, 1]


def test_budgets_must_be_positive():
    with pytest.raises(ValueError):
        list(batch_by_chars(["a"], max_chars=0, max_items=1))
    with pytest.raises(ValueError):
        list(batch_by_chars(["a"], max_chars=1, max_items=0))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=30), max_size=60),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=8),
)
def test_batches_keep_order_and_budgets_and_are_greedy(sizes, max_chars, max_items):
    items = list(enumerate(sizes))
    batches = list(batch_by_chars(items, max_chars, max_items, size=lambda item: item[1]))
    assert [item for batch in batches for item in batch] == items
    for batch in batches:
        assert 1 <= len(batch) <= max_items
        total = sum(size for _, size in batch)
        assert total <= max_chars or len(batch) == 1, "only a lone oversized item may pass the budget"
    for batch, following in zip(batches, batches[1:]):
        total = sum(size for _, size in batch)
        closed = len(batch) == max_items or total >= max_chars or total + following[0][1] > max_chars
        assert closed, "a batch is closed only when it is full"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="аб .!\n", min_size=1, max_size=200), min_size=1, max_size=10),
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=50),
)
def test_split_parts_never_pass_the_budget(texts, max_chars, extra):
    """Split with max_chars <= the budget, as annotate does, no batch passes the budget."""
    budget = max_chars + extra
    parts = [text[start:end] for text in texts for start, end in split_text(text, max_chars)]
    batches = list(batch_by_chars(parts, budget, max_items=32))
    assert all(sum(map(len, batch)) <= budget for batch in batches)
    assert [part for batch in batches for part in batch] == parts


def test_pipe_by_chars_gives_every_doc_in_order_in_bounded_batches():
    class Nlp:
        """Records the batches nlp.pipe is given; a doc is its text here."""

        def __init__(self):
            self.batches: List[List[int]] = []

        def pipe(self, texts, batch_size):
            texts = list(texts)
            assert batch_size == len(texts)
            self.batches.append([len(text) for text in texts])
            return iter(texts)

    nlp = Nlp()
    texts = ["а" * n for n in (30, 50, 40, 10, 90, 5, 5, 5)]
    assert list(pipe_by_chars(nlp, iter(texts), max_chars=100, max_items=3)) == texts
    assert nlp.batches == [[30, 50], [40, 10], [90, 5, 5], [5]]
