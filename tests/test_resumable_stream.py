"""nerel_spacy.resumable.stream: spaCy's training batches, replayed from saved epoch orders."""
import itertools
import random

import pytest
from spacy.training.loop import create_train_batches

from nerel_spacy.resumable.state import ResumeError
from nerel_spacy.resumable.stream import EpochStream, skip_batches


def growing_batcher():
    """Batches of 1, 2, 3, … items across calls: a batcher with state, like compounding sizes."""
    sizes = itertools.count(1)

    def batcher(items):
        items = list(items)
        while items:
            size = next(sizes)
            yield items[:size]
            items = items[size:]

    return batcher


def first(stream, n):
    return [(epoch, list(batch)) for epoch, batch in itertools.islice(stream, n)]


def test_the_stream_yields_what_spacys_generator_yields():
    examples = list("abcdefg")
    random.seed(3)
    spacy_batches = first(create_train_batches(None, lambda nlp: examples, growing_batcher(), 0), 12)
    random.seed(3)
    assert first(iter(EpochStream(examples, growing_batcher(), 0)), 12) == spacy_batches


def test_a_stream_rebuilt_from_saved_orders_continues_the_same_way():
    examples = list("abcdefg")
    random.seed(0)
    stream = EpochStream(examples, growing_batcher(), 0)
    batches = iter(stream)
    head = first(batches, 5)
    saved_orders, saved_random = [list(o) for o in stream.orders], random.getstate()
    tail = first(batches, 7)

    random.seed(12345)  # whatever the new process's generator did before the checkpoint was loaded
    replay = EpochStream(examples, growing_batcher(), 0, orders=saved_orders)
    batches = iter(replay)
    skip_batches(batches, len(head))
    random.setstate(saved_random)
    assert first(batches, 7) == tail


def test_max_epochs_stops_the_stream():
    random.seed(0)
    assert {epoch for epoch, _ in EpochStream(list("abc"), growing_batcher(), 2)} == {0, 1}


@pytest.mark.parametrize(
    "examples, max_epochs, orders, message",
    [
        ([], 0, None, "empty"),
        (list("abc"), -1, None, "max_epochs"),
        (list("abc"), 0, [[0, 1]], "does not fit this corpus of 3"),
    ],
)
def test_streams_that_cannot_be_replayed_say_why(examples, max_epochs, orders, message):
    with pytest.raises(ResumeError, match=message):
        EpochStream(examples, growing_batcher(), max_epochs, orders=orders)


def test_skipping_past_the_end_of_the_data_is_an_error():
    batches = iter(EpochStream(list("abc"), growing_batcher(), 1))
    with pytest.raises(ResumeError, match="ran out after 2 of the checkpoint's 5 steps"):
        skip_batches(batches, 5)
