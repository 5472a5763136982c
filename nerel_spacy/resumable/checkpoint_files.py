"""The files of a checkpoint besides progress.json, and whether a resume could read them.

``loop._save_checkpoint`` writes, beside progress.json: the pipeline (``model/``), the
optimizer's moments (``optimizer.npz``) and counts (``optimizer.json``), and the random
states (``random.json``, ``numpy_random.npy``, ``torch_random.npy`` where torch is loaded).
``checkpoint_files_problem`` says what is missing or does not open, in the words
``nerel-batch train`` refuses a resume with. Train applies it after comparing the settings
(``checks.check_checkpoint``); ``nerel-batch progress`` applies it to every stopped stage, so
that a stage it shows as ``stopped`` is one that train resumes.

Nothing here imports spaCy or thinc (``state`` does): ``nerel-batch progress`` stays quick.
No array is read in full: a value cut short is caught where the loop loads it.
"""
import json
import zipfile
from pathlib import Path
from typing import Optional, Tuple

import numpy

MODEL = "model"
OPTIMIZER_ARRAYS = "optimizer.npz"
OPTIMIZER_COUNTS = "optimizer.json"
RANDOM_STATES = "random.json"
NUMPY_RANDOM = "numpy_random.npy"
TORCH_RANDOM = "torch_random.npy"  # optional: a process without torch writes none
COUNT_TABLES = ("nr_update", "last_seen")
# Errors that reading a cut-short or overwritten file raises.
READ_ERRORS = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile)


def checkpoint_files_problem(folder: Path) -> Optional[str]:
    """What is wrong with the files of checkpoint ``folder`` other than progress.json
    ("missing model/meta.json", "unreadable optimizer.npz: ..."), or None when every one a
    resume reads is there and opens."""
    folder = Path(folder)
    for name in ("config.cfg", "meta.json"):
        if not (folder / MODEL / name).is_file():
            return f"missing {MODEL}/{name}"
    if not (folder / OPTIMIZER_ARRAYS).is_file():
        return f"missing {OPTIMIZER_ARRAYS}"
    try:
        with numpy.load(folder / OPTIMIZER_ARRAYS) as saved:
            saved.files
    except READ_ERRORS as err:
        return f"unreadable {OPTIMIZER_ARRAYS}: {err}"
    for name, keys in ((OPTIMIZER_COUNTS, COUNT_TABLES), (RANDOM_STATES, ("python", "numpy"))):
        problem = _json_problem(folder, name, keys)
        if problem:
            return problem
    if not (folder / NUMPY_RANDOM).is_file():
        return f"missing {NUMPY_RANDOM}"
    return None


def _json_problem(folder: Path, name: str, keys: Tuple[str, ...]) -> Optional[str]:
    """Why the JSON file ``name`` is missing, unreadable or lacks a key, or None."""
    if not (folder / name).is_file():
        return f"missing {name}"
    try:
        data = json.loads((folder / name).read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        return f"unreadable {name}: {err}"
    lacking = [key for key in keys if not isinstance(data, dict) or key not in data]
    return f"unreadable {name}: no {', '.join(lacking)}" if lacking else None


__all__ = [
    "COUNT_TABLES", "MODEL", "NUMPY_RANDOM", "OPTIMIZER_ARRAYS", "OPTIMIZER_COUNTS", "RANDOM_STATES", "READ_ERRORS",
    "TORCH_RANDOM", "checkpoint_files_problem",
]
