"""Where a project workflow's training stands, stage by stage, and how long it has left.

``spacy project run all`` trains for about 14 hours on 2 CPU cores, in stages that each
resume where they stopped. This module reads the plan and the folders, and changes nothing:

- **The plan.** Every ``nerel-batch train``, ``train-rounds`` and ``distill`` line of the
  workflow's commands, read from project.yml with its vars filled in as ``spacy project
  run`` fills them (weasel's ``load_project_config``) and parsed by the commands' own
  argument parsers (the ``nerel-batch`` click group, passed in). A ``train`` line is one stage: its ``--output`` folder and the steps its
  config and overrides give. A ``train-rounds`` line is a stage per round of its schedule. A
  ``distill`` line is its student's training, in OUTPUT-student-run/train until it is done and
  moved to OUTPUT; running from its teacher pass on (it holds .OUTPUT.distill.lock).
- **Each stage's state**, from its folder: ``done`` (a model-last and no checkpoint),
  ``running`` (a process holds its ``.train.lock``), ``stopped`` (a checkpoint: the steps
  before it are done), ``damaged`` (a checkpoint ``nerel-batch train`` refuses to resume
  from: its progress.json, or a file beside it that is missing or does not open,
  ``resumable.checkpoint_files``) or ``not started``. Which checkpoint a resume reads and whether it can are
  ``resumable.progress_file``'s rules, the ones train and train-rounds resume by. A running
  stage's step is the one its loop last wrote to ``.train.live.json`` (``resumable.live``),
  else its checkpoint's.
- **Time left**: the steps to go times this machine's seconds per step where the stage
  has run (its checkpoint records both), else the config's ``seconds_per_step``, which
  the config says where it was measured.
"""
import contextlib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence

from .resumable.live import read_live
from .resumable.lock import LOCK_FILE, lock_holder
from .resumable.progress_file import ABSENT, CHECKPOINT, DAMAGED as DAMAGED_CHECKPOINT, read_checkpoint

if TYPE_CHECKING:
    import click  # or typer's own copy of it

DONE, RUNNING, STOPPED, NOT_STARTED, DAMAGED = "done", "running", "stopped", "not started", "damaged"


class WorkflowError(ValueError):
    """The project or the workflow cannot be read; the message says which and why."""


@dataclass
class Stage:
    """One training run the workflow makes."""

    command: str  # the project command whose script trains it
    folder: Path  # its output folder, relative to the project
    max_steps: int
    seconds_per_step: Optional[float]  # the config's pace
    measured_on: str  # where the config's pace was measured
    round: Optional[str] = None  # the round's name, for a stage of train-rounds
    finished: Optional[Path] = None  # where a finished stage's model-last is, if not in folder (distill's OUTPUT)
    lock: Optional[Path] = None  # another lock whose holder is running the stage (distill's, from its teacher pass on)


@dataclass
class StageState:
    stage: Stage
    status: str
    step: int  # steps done: the checkpoint's, or max_steps when done
    seconds: Optional[float]  # training seconds the checkpoint records
    best_nested_f: Optional[float]  # model-best's dev spans_nerel_f, where there is one
    holder: Optional[int]  # the pid that holds the lock of a running stage
    live_written: Optional[float] = None  # when a running stage last wrote its step (Unix time)
    checkpoint: Optional[Path] = None  # the checkpoint a resume reads, relative to the project, where there is one
    damage: Optional[str] = None  # what is wrong with a damaged checkpoint, in the words of train's refusal

    @property
    def seconds_per_step(self) -> Optional[float]:
        """This machine's pace where the stage has run, else the config's."""
        if self.seconds and self.step:
            return self.seconds / self.step
        return self.stage.seconds_per_step

    @property
    def seconds_left(self) -> Optional[float]:
        if self.status == DONE:
            return 0.0
        pace = self.seconds_per_step
        return None if pace is None else max(0, self.stage.max_steps - self.step) * pace


def planned_stages(commands: "click.Group", project_dir: Path, workflow: str = "all",
                   overrides: Optional[Dict[str, Any]] = None) -> List[Stage]:
    """The training stages of ``workflow`` in the order it runs them; ``commands`` parses the
    ``nerel-batch`` lines (``typer.main.get_command(nerel_spacy.cli.app)``)."""
    from weasel.util import load_project_config

    project_dir = Path(project_dir)
    if not (project_dir / "project.yml").is_file():
        raise WorkflowError(f"{project_dir}: no project.yml (run this in the project folder or pass it)")
    try:
        project = load_project_config(project_dir, overrides=dict(overrides or {}))
    except SystemExit:  # weasel reports a bad project.yml with msg.fail(..., exits=1)
        raise WorkflowError(f"{project_dir / 'project.yml'}: not a valid project file (see the message above)") from None
    workflows = project.get("workflows", {})
    if workflow not in workflows:
        raise WorkflowError(f"{project_dir / 'project.yml'} has no workflow {workflow!r}; it has "
                            f"{', '.join(workflows) or 'none'}")
    scripts = {command["name"]: command.get("script", []) for command in project.get("commands", [])}
    stages: List[Stage] = []
    with working_directory(project_dir):
        for name in workflows[workflow]:
            for line in scripts.get(name, []):
                stages.extend(_stages_of_line(commands, name, line))
    return stages


def _stages_of_line(commands: "click.Group", command: str, line: str) -> List[Stage]:
    argv = shlex.split(line)
    if len(argv) < 2 or Path(argv[0]).name != "nerel-batch" or argv[1] not in ("train", "train-rounds", "distill"):
        return []
    where = f"project command {command!r}"
    params, extra = _parse(commands, argv[1], argv[2:], where=where)
    if argv[1] == "distill":
        # The student trains in OUTPUT-student-run/train (nerel-batch train's loop) and moves to OUTPUT
        # when done; its config's pace is the teacher's, so none is stated: this machine's once it has run.
        from .distill.student_run import LOCK_SUFFIX, RUN_SUFFIX, TRAIN_DIR, beside

        output = Path(params["output"])
        return [Stage(command, beside(output, RUN_SUFFIX) / TRAIN_DIR, int(params["steps"]), None, "",
                      finished=output, lock=beside(output, LOCK_SUFFIX, hidden=True))]
    if argv[1] == "train":
        config = _load_config(Path(params["config_path"]), extra, where)
        return [Stage(command, Path(params["output"]), int(config["training"]["max_steps"] or 0),
                      *_pace(config))]
    from .rounds.schedule import ScheduleError, read_schedule

    pace = _pace(_load_config(Path(params["config"]), extra, where))
    try:
        rounds = read_schedule(params["schedule"])
    except ScheduleError as err:
        raise WorkflowError(f"{where}: {err}") from None
    return [Stage(command, Path(params["output"]) / round_.name, round_.steps, *pace, round=round_.name)
            for round_ in rounds]


def _parse(commands: "click.Group", name: str, args: Sequence[str], where: str):
    """``args`` as the ``nerel-batch NAME`` command parses them: its parameters and the extra
    (config override) arguments."""
    command = commands.commands[name]
    try:
        context = command.make_context(name, list(args))
    except Exception as err:  # click's UsageError family; typer may vendor its own click
        if not hasattr(err, "format_message"):
            raise
        raise WorkflowError(f"{where}: nerel-batch {name} {shlex.join(args)}: {err.format_message()}") from None
    return context.params, list(context.args)


def _load_config(path: Path, extra: Sequence[str], where: str):
    from spacy import util
    from spacy.cli._util import parse_config_overrides

    if not path.is_file():
        raise WorkflowError(f"{where}: its config {path} does not exist")
    try:
        return util.load_config(path, overrides=parse_config_overrides(list(extra)), interpolate=False)
    except SystemExit:  # spaCy printed what is wrong with an override
        raise WorkflowError(f"{where}: a config override does not parse (see the message above)") from None
    except Exception as err:  # thinc's ConfigValidationError, configparser's errors, click's NoSuchOption
        message = err.format_message() if hasattr(err, "format_message") else str(err).strip()
        raise WorkflowError(f"{where}: its config {path} cannot be read: {message}") from None


def _pace(config) -> tuple:
    logger = config["training"].get("logger", {})
    seconds = logger.get("seconds_per_step")
    return (float(seconds) if seconds else None), str(logger.get("measured_on", ""))


def stage_state(project_dir: Path, stage: Stage) -> StageState:
    """What ``stage``'s folder says about it."""
    folder = Path(project_dir) / stage.folder
    holder = lock_holder(folder / LOCK_FILE)
    if holder is None and stage.lock is not None:
        holder = lock_holder(Path(project_dir) / stage.lock)
    found = read_checkpoint(folder / CHECKPOINT)
    progress, damaged = found.progress, found.state == DAMAGED_CHECKPOINT
    step = progress["step"] if progress else 0
    seconds = float(progress["seconds"]) if progress and progress["seconds"] else None
    live = read_live(folder, holder)
    if live is not None:
        step, seconds = live["step"], live["seconds"]
    if holder is not None:
        status = RUNNING
    elif damaged:
        status = DAMAGED
    elif progress:
        status = STOPPED
    elif (Path(project_dir) / (stage.finished or stage.folder) / "model-last" / "config.cfg").is_file():
        status, step = DONE, stage.max_steps
        folder = Path(project_dir) / (stage.finished or stage.folder)
    else:
        status = NOT_STARTED
    performance = (_read_json(folder / "model-best" / "meta.json") or {}).get("performance", {})
    best = performance.get("spans_nerel_f")
    return StageState(stage, status, step, seconds, None if best is None else float(best), holder,
                      None if live is None else live["written"],
                      None if found.state == ABSENT else stage.folder / found.folder.name, found.problem)


def _read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run inside ``path``, as ``spacy project run`` runs the commands' scripts."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


__all__ = [
    "DAMAGED", "DONE", "NOT_STARTED", "RUNNING", "STOPPED", "Stage", "StageState", "WorkflowError",
    "planned_stages", "stage_state",
]
