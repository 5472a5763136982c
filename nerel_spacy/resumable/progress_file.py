"""OUTPUT/checkpoint/progress.json: which checkpoint a resume reads, and whether it can resume from it.

One set of rules for every reader, so that they cannot disagree: ``nerel-batch train`` when it
resumes (``checks.read_progress``), ``train-rounds`` when it plans a round (``rounds.paths``)
and ``nerel-batch progress`` (``workflow_progress``). ``read_progress_file`` finds a
checkpoint ``absent`` (nothing to resume: a run starts from step 0), ``readable`` (it resumes
after its step) or ``damaged`` (a resume refuses it, naming the folder and the problem).

- **Which checkpoint.** ``_save_checkpoint`` writes checkpoint.partial, renames checkpoint to
  checkpoint.old, then checkpoint.partial to checkpoint. A kill between the two renames leaves
  the whole checkpoint in checkpoint.old, and the loop takes it back before it resumes
  (``interrupted_swap``). Readers apply the same rule without moving anything.
- **Readable.** progress.json holds the fields the loop reads, of the types it writes
  (``progress_problem``). The other files of a checkpoint (weights, optimizer, random states)
  are ``checkpoint_files``'s: the loop checks them after comparing the settings
  (``checks.check_checkpoint``), so that a checkpoint of other settings is refused for those;
  ``read_checkpoint``, which train-rounds and progress read by, checks both at once.

Nothing here writes, nor imports spaCy: ``nerel-batch progress`` stays quick.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from .checkpoint_files import checkpoint_files_problem

CHECKPOINT = "checkpoint"
PROGRESS = "progress.json"
ABSENT, READABLE, DAMAGED = "absent", "readable", "damaged"
# What loop._save_checkpoint has written since its first version; "losses" came later and is optional.
REQUIRED_FIELDS = ("config", "step", "results", "words", "seconds", "orders")


def old_checkpoint(checkpoint: Path) -> Path:
    """checkpoint.old beside ``checkpoint``: the previous checkpoint while a new one is swapped in."""
    return checkpoint.with_name(checkpoint.name + ".old")


def interrupted_swap(checkpoint: Path) -> bool:
    """Whether a kill between ``_save_checkpoint``'s two renames left the whole checkpoint in
    checkpoint.old: ``checkpoint`` has no progress.json and checkpoint.old has one."""
    return not (checkpoint / PROGRESS).exists() and (old_checkpoint(checkpoint) / PROGRESS).exists()


def resumed_checkpoint(checkpoint: Path) -> Path:
    """The folder a resume reads: checkpoint.old after an interrupted swap, else ``checkpoint``."""
    checkpoint = Path(checkpoint)
    return old_checkpoint(checkpoint) if interrupted_swap(checkpoint) else checkpoint


@dataclass(frozen=True)
class ProgressFile:
    """What a resume finds in a checkpoint: ``state`` is ``ABSENT``, ``READABLE`` or ``DAMAGED``."""

    state: str
    folder: Path  # the checkpoint a resume reads: OUTPUT/checkpoint, or checkpoint.old after an interrupted swap
    progress: Optional[Dict[str, Any]] = None  # readable: progress.json's fields
    problem: Optional[str] = None  # damaged: what is wrong, in the loop's words ("missing progress.json")

    @property
    def step(self) -> Optional[int]:
        """The step the checkpoint was written after, where it is readable."""
        return None if self.progress is None else self.progress["step"]


def read_progress_file(checkpoint: Path) -> ProgressFile:
    """What resuming from ``checkpoint`` (OUTPUT/checkpoint) would find, read only."""
    folder = resumed_checkpoint(Path(checkpoint))
    if not (folder.exists() or folder.is_symlink()):
        return ProgressFile(ABSENT, folder)
    if not folder.is_dir():
        return ProgressFile(DAMAGED, folder, problem="not a folder")
    if not (folder / PROGRESS).is_file():
        return ProgressFile(DAMAGED, folder, problem=f"missing {PROGRESS}")
    try:
        progress = json.loads((folder / PROGRESS).read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        return ProgressFile(DAMAGED, folder, problem=f"unreadable {PROGRESS}: {err}")
    why = progress_problem(progress)
    if why is not None:
        return ProgressFile(DAMAGED, folder, problem=f"unreadable {PROGRESS}: {why}")
    return ProgressFile(READABLE, folder, progress)


def read_checkpoint(checkpoint: Path) -> ProgressFile:
    """``read_progress_file``, and ``DAMAGED`` too where a file the loop reads besides
    progress.json is missing or does not open: what resuming would find in the end."""
    found = read_progress_file(checkpoint)
    if found.state == READABLE:
        problem = checkpoint_files_problem(found.folder)
        if problem is not None:
            return ProgressFile(DAMAGED, found.folder, problem=problem)
    return found


def progress_problem(progress: Any) -> Optional[str]:
    """Why ``progress`` is not a progress.json the loop wrote and can resume from, or None."""
    if not isinstance(progress, dict):
        return f"no {', '.join(REQUIRED_FIELDS)}"
    absent = [name for name in REQUIRED_FIELDS if name not in progress]
    if absent:
        return f"no {', '.join(absent)}"
    if not isinstance(progress["config"], str):
        return "it holds no config"
    wrong = [name for name, fits in (
        ("step", _count(progress["step"])),
        ("results", isinstance(progress["results"], list) and all(_result(r) for r in progress["results"])),
        ("words", _count(progress["words"])),
        ("seconds", _number(progress["seconds"]) and progress["seconds"] >= 0),
        ("orders", isinstance(progress["orders"], list) and all(isinstance(o, list) for o in progress["orders"])),
        ("losses", isinstance(progress.get("losses", {}), dict)),
    ) if not fits]
    if wrong:
        shown = (f"{name} = {json.dumps(progress.get(name))[:40]}" for name in wrong)
        return "not what the loop writes: " + ", ".join(shown)
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _result(value: Any) -> bool:
    """An evaluation's (score, step), as JSON writes the tuple."""
    return isinstance(value, list) and len(value) == 2 and _number(value[0]) and _count(value[1])
