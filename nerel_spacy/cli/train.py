"""``nerel-batch train``: ``spacy train`` that a stopped run can resume."""
import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ._app import app
from ._console import error


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_command(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., help="Training config, e.g. configs/joint_trf.cfg.", exists=True,
                                       dir_okay=False),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for model-best, model-last and the checkpoint."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore and remove OUTPUT/checkpoint; start at step 0."),
    code: Optional[Path] = typer.Option(None, "--code", "-c", help="Python file with more registered functions."),
    use_gpu: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for the CPU."),
    verbose: bool = typer.Option(False, "--verbose", "-V", help="Show spaCy's debug messages."),
) -> None:
    """Train a pipeline like `spacy train`, and resume it where it stopped.

    Takes the same arguments as `spacy train`, config overrides included (`--paths.train
    corpus/train.spacy`). After every evaluation it writes OUTPUT/checkpoint: the weights, the
    optimizer's moments, the random states and the position in the shuffled data. If the run
    is killed, the same command continues after the last evaluation, with the updates the
    uninterrupted run would have made. Ctrl-C or SIGTERM stops it after the step in progress,
    with a checkpoint of that step (press Ctrl-C twice to stop at once). A finished run
    removes its checkpoint. A checkpoint written with other settings is refused, with the
    settings that differ, and so is a second run into an OUTPUT that one is training into. A
    damaged checkpoint is refused too (--fresh removes it), as is a config that reads from
    inside OUTPUT (a sourced OUTPUT/model-best would be overwritten) or from a missing path.

    Example: [bold]nerel-batch train configs/joint_cnn_fast.cfg --output training/cnn --paths.vectors assets/navec_vectors[/bold]
    """
    from spacy import util
    from spacy.cli._util import import_code, parse_config_overrides, setup_gpu, show_validation_error
    from spacy.training.initialize import init_nlp
    from wasabi import msg

    from ..resumable import OutputBusy, ResumeError, TrainingStopped, output_lock, train_resumably
    from ..resumable.checks import check_inputs_outside, check_output_folder

    if verbose:
        util.logger.setLevel(logging.DEBUG)
    console = Console(stderr=True)
    try:
        overrides = parse_config_overrides(ctx.args)
    except SystemExit:
        raise typer.Exit(2)
    import_code(code)
    setup_gpu(use_gpu)
    with show_validation_error(config_path):
        config = util.load_config(config_path, overrides=overrides, interpolate=False)
    try:
        check_output_folder(output)
        with output_lock(output):  # before the slow set-up, so that a refusal comes at once
            check_inputs_outside(config, output)
            _check_inputs_exist(config, output, fresh)
            msg.divider("Initializing pipeline")
            try:
                with show_validation_error(config_path, hint_fill=False):
                    nlp = init_nlp(config, use_gpu=use_gpu)
            except (OSError, ValueError) as err:
                raise ResumeError(f"could not build the pipeline of {config_path}: {err}"
                                  + _resume_hint(output, fresh)) from err
            msg.good("Initialized pipeline")
            msg.divider("Training pipeline")
            train_resumably(nlp, output, resume=not fresh, stdout=sys.stdout, stderr=sys.stderr)
    except TrainingStopped as stopped:  # the loop printed where the checkpoint is
        raise typer.Exit(128 + stopped.signum)
    except (OutputBusy, ResumeError) as err:
        error(console, err)
        raise typer.Exit(2)


def _check_inputs_exist(config, output: Path, fresh: bool) -> None:
    """Refuse, before the slow set-up, a config whose corpora, sourced pipelines or vectors are missing."""
    from ..resumable import ResumeError
    from ..resumable.checks import missing_inputs

    missing = missing_inputs(config)
    if missing:
        raise ResumeError("the config reads from paths that do not exist: " + "; ".join(missing) + "."
                          + _resume_hint(output, fresh))
    _refuse_compact_vectors(config)


def _refuse_compact_vectors(config) -> None:
    """Refuse ``[initialize] vectors`` made by compact-vectors: spaCy would copy its table into the
    pipeline but not the config naming its class, and the trained pipeline would load without it."""
    from ..resumable import ResumeError
    from ..resumable.checks import interpolated
    from ..vector_compaction import refuse_compact_vectors

    vectors = (interpolated(config).get("initialize") or {}).get("vectors")
    if isinstance(vectors, str) and "${" not in vectors:
        try:
            refuse_compact_vectors(vectors, "[initialize] vectors")
        except ValueError as err:
            raise ResumeError(f"{err}.") from None


def _resume_hint(output: Path, fresh: bool) -> str:
    """What to do when the inputs of a run with a checkpoint moved: resuming rebuilds the pipeline from them."""
    checkpoint = Path(output) / "checkpoint"
    if fresh or not checkpoint.exists():
        return ""
    return (f" Resuming {checkpoint} builds the pipeline again from the inputs the run started with "
            "(a sourced pipeline, such as --paths.init_model, included): put them back where the config says, "
            "or pass their new place with --fresh to start over.")
