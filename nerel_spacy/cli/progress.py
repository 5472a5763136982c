"""``nerel-batch progress``: where a workflow's training stages stand, and the time they have left."""
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ._app import app
from ._console import error, escape

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch progress
  nerel-batch progress . --workflow cnn
  nerel-batch progress . --vars.max_steps 3000

Exit status: 0 printed, 2 no project.yml, no such workflow, a stage line that does not parse, or a
config or schedule it names that cannot be read.
"""


@app.command("progress", epilog=EXAMPLES,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def progress_command(
    ctx: typer.Context,
    project_dir: Path = typer.Argument(Path("."), help="The project folder (with project.yml)."),
    workflow: str = typer.Option("all", "--workflow", "-w", help="The workflow of project.yml to report on."),
) -> None:
    """Show where a workflow's training stands: each stage done, running, stopped or not started, and the time left.

    Reads the workflow's `nerel-batch train`, `train-rounds` and `distill` lines from project.yml, with
    the vars filled in as `spacy project run` fills them: pass the same --vars.NAME VALUE
    overrides you run the workflow with. Each stage's state comes from its output folder (its
    checkpoint, model-last and lock; a running stage's step from the .train.live.json its
    loop rewrites every 15 s; damaged: a checkpoint `nerel-batch train` refuses to resume from);
    nothing is changed. The time left counts training
    only, at this machine's pace where a stage has run, else at the pace its config states.
    """
    from spacy.cli._util import parse_config_overrides

    from ..training_logger import format_duration
    from ..workflow_progress import (
        DAMAGED, DONE, NOT_STARTED, RUNNING, WorkflowError, planned_stages, stage_state,
    )

    console = Console()
    errors = Console(stderr=True)
    args = list(ctx.args)
    if str(project_dir).startswith("--"):  # click read the first --vars.NAME as the folder
        args, project_dir = [str(project_dir), *args], Path(".")
    try:
        overrides = parse_config_overrides(args)
        stages = planned_stages(typer.main.get_command(app), project_dir, workflow, overrides)
    except SystemExit:  # parse_config_overrides on a malformed override
        raise typer.Exit(2)
    except WorkflowError as err:
        error(errors, err)
        raise typer.Exit(2)
    except Exception as err:  # click's NoSuchOption: an --option without a dot
        if not hasattr(err, "format_message"):
            raise
        error(errors, f"{err.format_message()}; progress takes --workflow and --vars.NAME VALUE overrides")
        raise typer.Exit(2)
    if not stages:
        console.print(f"Workflow {escape(workflow)} trains nothing (no nerel-batch train or train-rounds line).")
        return
    states = [stage_state(project_dir, stage) for stage in stages]
    table = Table(title=f"{escape(workflow)}: training stages (rounds of train-rounds by their names)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("stage", "state", "steps", "nested F", "s/step", "left"):
        table.add_column(column, justify="left" if column in ("stage", "state") else "right", no_wrap=True)
    style = {DONE: "green", RUNNING: "bold yellow", NOT_STARTED: "dim", DAMAGED: "bold red"}
    for state in states:
        pace, left = state.seconds_per_step, state.seconds_left
        table.add_row(
            escape(state.stage.round or state.stage.command), f"[{style.get(state.status, 'yellow')}]{state.status}[/]",
            f"{state.step}/{state.stage.max_steps}",
            "–" if state.best_nested_f is None else f"{state.best_nested_f:.3f}",
            "–" if pace is None else f"{pace:.2f}",
            "–" if left is None else ("0" if not left else format_duration(left)),
        )
    console.print(table)
    known = [state.seconds_left for state in states if state.seconds_left is not None]
    done = sum(state.status == DONE for state in states)
    unknown = len(states) - len(known)
    summary = f"{done} of {len(states)} stages done; ≈ {format_duration(sum(known))} of training left"
    if unknown:
        summary += (f" (and {unknown} {'stage' if unknown == 1 else 'stages'} of no known pace: a student's "
                    "until it has trained a while, or a config without seconds_per_step)")
    running = [f"{state.stage.folder} (pid {state.holder}{_live_note(state)})"
               for state in states if state.status == RUNNING]
    if running:
        summary += f"; training now: {', '.join(running)}"
    damaged = [f"{state.checkpoint} ({state.damage})" for state in states if state.status == DAMAGED]
    if damaged:
        summary += (f"; damaged: {', '.join(damaged)}. A stage cannot resume from a damaged checkpoint and is "
                    "timed from its start; delete that checkpoint to train the stage from its start, as "
                    "`nerel-batch train --fresh` does")
    paces = sorted({state.stage.measured_on for state in states
                    if state.status == NOT_STARTED and state.stage.measured_on})
    if paces:
        summary += f". Stages not started are timed at their configs' pace, measured on {'; '.join(paces)}"
    console.print(escape(summary) + ".", highlight=False, soft_wrap=True)


def _live_note(state) -> str:
    """", at step N 20 s ago" where the running loop wrote its step, else where the checkpoint is."""
    import time

    if state.live_written is None:
        return f", last checkpoint at step {state.step}" if state.step else ", before its first checkpoint"
    ago = max(0, int(time.time() - state.live_written))
    return f", at step {state.step} {ago} s ago"
