"""Where a chain reads and writes, and what a stopped round's checkpoint says; nothing here writes.

- ``output_clash``: why OUTPUT may not be used: it is, holds or lies inside a folder the
  chain reads (MODEL, the vectors, the corpus), so writing model-best or a round there would
  overwrite its input, or the next run would train on its own output;
- ``spelling``: one spelling of a path for a round's config overrides, however the command
  was given it (``corpus``, ``./corpus/``, ``/abs/corpus``): relative to the current folder
  when it lies inside it, else absolute. A round's checkpoint stores the overrides' literal
  text and refuses to resume under another one; the round's fingerprint (checksums) does not
  see the spelling at all;
- ``keep_saved_spellings``: on resuming, the spelling the checkpoint was written with, for
  each path that still names the same file or folder (a run started before ``spelling``, or
  with other spellings, resumes);
- ``checkpoint_progress``: a round's OUTPUT/NAME/checkpoint/progress.json, read only, by the rules
  ``nerel-batch train`` resumes by (``resumable.progress_file``).
"""
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple, Union

from ..resumable.progress_file import CHECKPOINT, DAMAGED, read_checkpoint

PATH_KEYS = ("paths.init_model", "paths.train", "paths.dev", "initialize.vectors")

PathLike = Union[str, Path]


class DamagedCheckpoint(ValueError):
    """A checkpoint the loop would refuse to resume from, said in its words: the round cannot resume."""

    def __init__(self, path: Path, why: str):
        super().__init__(f"checkpoint {path} is damaged ({why})")
        self.path = path


def output_clash(output: PathLike, inputs: Iterable[Tuple[Optional[PathLike], str]]) -> Optional[str]:
    """Why OUTPUT cannot take the chain's folders, or None: it is a file, or it is, holds or lies
    inside one of ``inputs`` (``(path, "MODEL")`` pairs; a None path is skipped)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        return f"--output {output} is a file; give a folder for the rounds"
    out = output.resolve()
    for path, name in inputs:
        if path is None:
            continue
        source = Path(path).resolve()
        if out == source:
            why = f"is {name} {path}"
        elif source.is_relative_to(out):
            why = f"holds {name} {path}"
        elif out.is_relative_to(source):
            why = f"lies inside {name} {path}"
        else:
            continue
        return (f"--output {output} {why}: the chain writes a folder per round, model-best and rounds.json "
                f"there, so it would overwrite what it reads, and a rerun would train on its own output. "
                f"Choose an --output apart from MODEL, --vectors and --corpus, e.g. {suggestion(inputs)}")
    return None


def suggestion(inputs: Iterable[Tuple[Optional[PathLike], str]]) -> str:
    """MODEL's run folder with ``_rounds`` (training/run/model-best → training/run_rounds)."""
    model = next((Path(path) for path, name in inputs if name == "MODEL" and path is not None), Path("model"))
    run = model.parent if model.name in ("model-best", "model-last") and model.parent.name else model
    return str(run.with_name(f"{run.name}_rounds")) if run.name else "training/rounds"


def spelling(path: PathLike) -> str:
    """``path`` relative to the current folder when it lies inside it, else absolute; normalised."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, os.getcwd())
    return absolute if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def checkpoint_progress(folder: PathLike) -> Optional[Dict[str, Any]]:
    """The progress.json a resume of FOLDER/checkpoint reads (checkpoint.old's after a kill
    between the loop's two renames); None where there is none; ``DamagedCheckpoint`` where the
    loop would refuse it."""
    found = read_checkpoint(Path(folder) / CHECKPOINT)
    if found.state == DAMAGED:
        raise DamagedCheckpoint(found.folder, found.problem)
    return found.progress


def checkpoint_step(folder: PathLike) -> Optional[int]:
    """The step a stopped round's checkpoint was written after, or None: no checkpoint."""
    progress = checkpoint_progress(folder)
    return None if progress is None else progress["step"]


def keep_saved_spellings(folder: PathLike, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """``overrides`` with the checkpoint's own spelling of each path in ``PATH_KEYS`` that names
    the same file or folder as ours, so that the loop's config comparison sees no change."""
    from thinc.api import Config

    try:
        progress = checkpoint_progress(folder)
        saved = Config().from_str(progress["config"], interpolate=False) if progress else None
    except Exception:  # damaged or not a config: the loop says so when it loads the checkpoint
        return overrides
    if saved is None:
        return overrides
    kept = dict(overrides)
    for key in PATH_KEYS:
        section, name = key.split(".")
        old, new = (saved.get(section) or {}).get(name), overrides.get(key)
        if isinstance(old, str) and isinstance(new, str) and old != new and _same(old, new):
            kept[key] = old
    return kept


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
