"""Training that survives being stopped: ``nerel-batch train``.

``spacy train`` starts from scratch when it is stopped. ``train_resumably`` runs the same loop
(spaCy's ``train`` and ``train_while_improving``, step for step) and, after each evaluation,
writes OUTPUT/checkpoint: the weights, the optimizer's moments, the random states and where
the run is in the shuffled data. Run the same command again and it continues from there, with
the updates an uninterrupted run would have made.

- ``stream``: the training batches, with each epoch's order kept so it can be replayed;
- ``state``: the optimizer and random states, saved under names that outlive the process;
- ``lock``: one run per output folder;
- ``live``: the step a running training has reached, between checkpoints;
- ``progress_file``: which checkpoint a resume reads and whether its progress.json can be resumed from,
  one rule for ``train``, ``train-rounds`` and ``progress``;
- ``checks``: what is refused before OUTPUT is touched (a damaged checkpoint, inputs inside OUTPUT);
- ``loop``: the loop itself.
"""
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lock import OutputBusy, output_lock
    from .loop import TrainingStopped, train_resumably
    from .state import ResumeError

# Imported on first use: the lock alone needs neither spaCy nor torch, so a process that only
# holds or checks an output folder (nerel-batch progress, a second run being refused) starts
# in milliseconds instead of the seconds those imports take.
_HOMES = {
    "OutputBusy": ".lock",
    "output_lock": ".lock",
    "TrainingStopped": ".loop",
    "train_resumably": ".loop",
    "ResumeError": ".state",
}


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


__all__ = ["OutputBusy", "ResumeError", "TrainingStopped", "output_lock", "train_resumably"]
