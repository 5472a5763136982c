"""Batches by a character budget, so a batch's memory follows its characters, not its count.

spaCy's ``nlp.pipe`` batches by item count, so 32 texts of 100k characters take 32 times
the memory of 32 news items. ``batch_by_chars`` bounds both, like Ray Data's byte-sized
batches.
"""
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, List, TypeVar

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

T = TypeVar("T")
# Characters in one nlp.pipe batch: a model's activations, hence peak memory, follow it.
# Chosen by benchmarks/memory.py (docs/annotate.md, "Memory"): against 50k and 100k, 25k
# was the fastest and the smallest for both the CNN and e5-small int8, and the only one to
# keep a 1.5 MB text within 1.5x the peak memory of the news texts.
DEFAULT_MAX_BATCH_CHARS = 25_000


def batch_by_chars(
    items: Iterable[T], max_chars: int, max_items: int, size: Callable[[T], int] = len
) -> Iterator[List[T]]:
    """Group ``items`` in order into lists of at most ``max_items`` whose ``size`` sums to at most ``max_chars``.

    An item larger than ``max_chars`` alone makes a batch of its own (split long texts first,
    as ``annotate.split_text`` does, so that none is). Lazy: one batch is held at a time, and a
    batch is given out as soon as it is full, without reading the next item.
    """
    if max_chars < 1 or max_items < 1:
        raise ValueError(f"max_chars and max_items must be at least 1, not {max_chars} and {max_items}")
    batch: List[T] = []
    chars = 0
    for item in items:
        n = size(item)
        if batch and chars + n > max_chars:
            yield batch
            batch, chars = [], 0
        batch.append(item)
        chars += n
        if len(batch) >= max_items or chars >= max_chars:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def pipe_by_chars(
    nlp: "Language", texts: Iterable[str], max_chars: int = DEFAULT_MAX_BATCH_CHARS, max_items: int = 16
) -> Iterator["Doc"]:
    """``nlp.pipe(texts)`` in order, in batches of at most ``max_items`` texts and ``max_chars`` characters."""
    for batch in batch_by_chars(texts, max_chars, max_items):
        yield from nlp.pipe(batch, batch_size=len(batch))
