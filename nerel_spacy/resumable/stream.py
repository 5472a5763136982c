"""The training batches of ``spacy train``, replayable from a saved position."""
import random
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

from spacy.training import Example

from .state import ResumeError


class EpochStream:
    """spaCy's ``create_train_batches`` for an in-memory corpus, remembering each epoch's order.

    spaCy shuffles one list in place at the start of every epoch, so epoch k's order is a
    shuffle of epoch k − 1's. ``orders[k]`` holds epoch k's order as indices into
    ``examples``; given the orders of the epochs already started, a new stream yields the same
    batches again (the batcher is called as before), then shuffles on from the random state
    it finds. Iterating consumes the random module exactly as spaCy's generator does.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        batcher: Callable[[Iterable[Example]], Iterable[List[Example]]],
        max_epochs: int,
        orders: Optional[Sequence[Sequence[int]]] = None,
    ):
        if not examples:
            raise ResumeError("The training corpus is empty: nothing to train on.")
        if max_epochs < 0:
            raise ResumeError(
                "training.max_epochs = -1 streams the corpus without keeping it in memory, so "
                "there is no order to replay. Use max_epochs >= 0 to train resumably."
            )
        self.examples = list(examples)
        self.batcher = batcher
        self.max_epochs = max_epochs
        self.orders: List[List[int]] = [list(order) for order in (orders or [])]
        for epoch, order in enumerate(self.orders):
            if sorted(order) != list(range(len(self.examples))):
                raise ResumeError(
                    f"The saved order of epoch {epoch} does not fit this corpus of "
                    f"{len(self.examples)} examples: was the training data changed?"
                )

    def __iter__(self) -> Iterator[Tuple[int, List[Example]]]:
        epoch = 0
        while self.max_epochs < 1 or epoch != self.max_epochs:
            if epoch == len(self.orders):
                order = list(self.orders[-1]) if self.orders else list(range(len(self.examples)))
                random.shuffle(order)
                self.orders.append(order)
            for batch in self.batcher([self.examples[i] for i in self.orders[epoch]]):
                yield epoch, batch
            epoch += 1


def skip_batches(batches: Iterator[Tuple[int, List[Example]]], n: int) -> None:
    """Advance ``batches`` by ``n`` batches (the steps a checkpoint has already trained on)."""
    for done in range(n):
        try:
            next(batches)
        except StopIteration:
            raise ResumeError(
                f"The training data ran out after {done} of the checkpoint's {n} steps: "
                "was the training data changed?"
            ) from None
