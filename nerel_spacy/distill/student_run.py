"""The student's run kept beside OUTPUT until it has trained, so that a killed run continues it.

Training a 4-layer student takes one to two hours on 2 cores. ``nerel-batch distill`` used to
write it in a temporary folder that any failure removed, so a kill lost all of it. A
``StudentRun`` is a folder, OUTPUT-student-run, that holds what ``spacy train``'s output
would hold plus what it is made from: distill-corpus/, student-init/, config.cfg,
distill.json and ``train/``, the resumable training's output (its checkpoint included;
``nerel-batch train``'s loop). ``run.json``, written once the student and its config are
complete, records the settings they were made with: a rerun with the same settings
continues the training after its last checkpoint, one with other settings is refused
(``StudentRunMismatch``) until it is given ``--fresh``. Once trained, ``finish`` moves
model-best and model-last up beside the student's sources, and the folder becomes OUTPUT.
"""
import json
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..brat_writer import atomic_write_text
from ..resumable.progress_file import CHECKPOINT, READABLE, read_progress_file

RUN_SUFFIX = "-student-run"
LOCK_SUFFIX = ".distill.lock"  # .OUTPUT.distill.lock, held by one distill run from start to end
SETTINGS_FILE = "run.json"
TRAIN_DIR = "train"
FORMAT = 1
TRAINED = ("model-best", "model-last")
# How a setting is named to the user where it is not its --option.
OPTION_NAMES = {"teacher": "TEACHER", "teacher_files": "TEACHER's files", "texts": "--texts"}


class StudentRunMismatch(ValueError):
    """A student's run kept from an earlier command was made with other settings."""


def beside(output: Path, suffix: str, hidden: bool = False) -> Path:
    """OUTPUT's sibling named OUTPUT + ``suffix`` (with a leading dot if ``hidden``)."""
    base = output if output.name else output.resolve()
    return base.with_name(f"{'.' if hidden else ''}{base.name}{suffix}")


class StudentRun:
    """OUTPUT-student-run: the folder a student is prepared and trained in."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def training_output(self) -> Path:
        """Where the resumable loop writes: apart from the student's sources, which it reads."""
        return self.folder / TRAIN_DIR

    @property
    def ready(self) -> bool:
        """Whether the student and its config are complete, so training can start or continue."""
        return (self.folder / SETTINGS_FILE).is_file()

    def checkpoint_step(self) -> Optional[int]:
        """The step of the checkpoint a resume reads, or None where there is none (or it is damaged,
        which the loop itself then refuses, naming it)."""
        found = read_progress_file(self.training_output / CHECKPOINT)
        return found.step if found.state == READABLE else None

    def check(self, settings: Dict[str, Any]) -> None:
        """Refuse (``StudentRunMismatch``) a kept run whose settings differ from ``settings``."""
        if not self.ready:
            return
        try:
            earlier = json.loads((self.folder / SETTINGS_FILE).read_text(encoding="utf8"))
        except ValueError as err:
            raise StudentRunMismatch(f"{self.folder / SETTINGS_FILE} can't be read ({err}); pass --fresh to "
                                     "discard the kept run and start the student again.") from None
        differences = settings_differences(earlier, settings)
        if differences:
            raise StudentRunMismatch(
                f"{self.folder} keeps the student of an unfinished run made with other settings: "
                + "; ".join(differences) + ". Run with the settings it was begun with to continue it, or pass "
                "--fresh to discard it and start the student again.")

    def begin(self) -> None:
        """An empty folder for a new run: whatever an unfinished earlier one left is removed."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def mark_ready(self, settings: Dict[str, Any]) -> None:
        """Record that the student and its config are complete, made with ``settings``."""
        atomic_write_text(self.folder / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")

    def finish(self) -> None:
        """Move the trained model-best and model-last up beside the student's sources and drop
        what only a resume needed: the folder then holds what OUTPUT holds."""
        for name in TRAINED:
            source = self.training_output / name
            if source.exists():
                shutil.rmtree(self.folder / name, ignore_errors=True)
                source.rename(self.folder / name)
        shutil.rmtree(self.training_output, ignore_errors=True)
        (self.folder / SETTINGS_FILE).unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def run_settings(**settings: Any) -> Dict[str, Any]:
    """The settings a student's run depends on, as JSON: paths as given and resolved."""
    found: Dict[str, Any] = {"format": FORMAT}
    for name, value in settings.items():
        found[name] = str(Path(value).resolve()) if isinstance(value, Path) else value
    return found


def settings_differences(earlier: Dict[str, Any], now: Dict[str, Any]) -> List[str]:
    """One phrase per setting that differs, named as the command's option."""
    if earlier.get("format") != now.get("format"):
        return ["it was written by another version of nerel-spacy"]
    shown = []
    for name in sorted(set(earlier) | set(now)):
        if name != "format" and earlier.get(name) != now.get(name):
            option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
            shown.append(f"{option}: {_short(earlier.get(name))} then, {_short(now.get(name))} now")
    return shown


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["RUN_SUFFIX", "StudentRun", "StudentRunMismatch", "run_settings", "settings_differences"]
