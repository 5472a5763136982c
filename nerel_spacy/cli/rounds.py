"""``nerel-batch train-rounds``: a schedule of continued-training rounds, one after another, resumable."""
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ._app import app
from ._console import error

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch train-rounds training/joint_trf_heads_more_more/model-best configs/rounds_headline.cfg --output training/joint_trf_heads_more_more_rounds --vectors assets/navec_vectors

  nerel-batch train-rounds training/run/model-best my_rounds.cfg --output training/run_rounds --plan

Exit status: 0 written (or planned), 2 usage error (a bad schedule, a missing corpus or
vectors, a MODEL without a transformer, an OUTPUT that is, holds or lies inside MODEL or
--vectors, or that another process trains into, a checkpoint that cannot be resumed),
130/143 stopped by Ctrl-C/SIGTERM with a checkpoint: run the same command again to resume.
"""


@app.command("train-rounds", epilog=EXAMPLES,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_rounds_command(
    ctx: typer.Context,
    model: Path = typer.Argument(..., help="The trained transformer pipeline the first round continues "
                                 "(e.g. training/joint_trf_heads_more_more/model-best)."),
    schedule: Path = typer.Argument(..., help="The rounds, a .cfg file with one \\[rounds.NAME] section "
                                    "per round, in the order they run (configs/rounds_headline.cfg)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for one subfolder per round, model-best "
                                "(the last round's) and rounds.json; apart from MODEL and --vectors."),
    corpus: Path = typer.Option(Path("corpus"), "--corpus", help="Folder with train.spacy and dev.spacy."),
    vectors: Optional[Path] = typer.Option(None, "--vectors", help="Static vectors for a round with add_vectors "
                                           "(`nerel-batch prepare-vectors`, e.g. assets/navec_vectors)."),
    config: Path = typer.Option(Path("configs/joint_trf_continue.cfg"), "--config",
                                help="The continue config every round trains with."),
    window: int = typer.Option(128, help="Window length in spaCy tokens, for rounds that do not set their own."),
    stride: int = typer.Option(96, help="Tokens between window starts, for rounds that do not set their own."),
    eval_frequency: int = typer.Option(250, "--eval-frequency", help="Steps between evaluations (and checkpoints)."),
    plan: bool = typer.Option(False, "--plan", help="Print what would be trained, skipped or resumed, and stop."),
) -> None:
    """Train a schedule's rounds one after another, each continuing the previous one's last step.

    Each round is a `spacy project run train-more`: the previous round's model-last with the
    round's windows (and, where the schedule says add_vectors, static vectors at zero, as
    `nerel-batch add-vectors` makes them), trained with the continue config for the round's
    steps at its learning rate, into OUTPUT/NAME. OUTPUT/NAME/round.json records a fingerprint
    of all the round depends on. Run the same command again and finished rounds are skipped,
    a stopped one continues after its last evaluation, and a round whose settings, starting
    model or corpus changed is trained again, with every round after it. To train a stopped
    round from its start instead, delete OUTPUT/NAME/checkpoint. Extra arguments are
    config overrides for every round (--training.dropout 0.1).
    """
    from spacy.cli._util import parse_config_overrides

    from ..resumable import OutputBusy, ResumeError, TrainingStopped
    from ..rounds import ChainError, ChainSettings, ScheduleError, plan_chain, read_schedule, run_chain
    from ..rounds.chain import check_chain, estimate

    console = Console(stderr=True)
    try:
        overrides = parse_config_overrides(ctx.args)
    except SystemExit:  # spaCy printed what is wrong with the override
        raise typer.Exit(2)
    except Exception as err:  # click's NoSuchOption for an --option without a dot: not one of ours
        if not hasattr(err, "format_message"):
            raise
        error(console, f"{err.format_message().rstrip('.')}: train-rounds' own options are listed by --help; any other "
                       "argument is a config override for every round, --SECTION.KEY VALUE")
        raise typer.Exit(2)
    settings = ChainSettings(base_config=config, train=corpus / "train.spacy", dev=corpus / "dev.spacy",
                             window=window, stride=stride, eval_frequency=eval_frequency, vectors=vectors,
                             overrides=overrides)
    try:
        rounds = read_schedule(schedule)
        if plan:
            check_chain(model, rounds, settings, output)  # reads only: no lock, nothing written
            planned = plan_chain(model, rounds, output, settings)
            for p in planned:
                typer.echo(f"{p.index}. {p.round.name}: {p.round.steps} steps at {p.round.learn_rate:g}"
                           f"{', adds vectors' if p.round.add_vectors else ''}: {p.state}"
                           f"{' ' + p.note if p.note else ''}")
            steps = sum(p.steps_left for p in planned)
            typer.echo(f"{steps:,} steps to train{estimate(settings, steps)}")
            return
        run_chain(model, rounds, output, settings,
                  log=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True),
                  stdout=sys.stdout, stderr=sys.stderr)
    except TrainingStopped as stopped:  # the loop printed where the checkpoint is
        raise typer.Exit(128 + stopped.signum)
    except (ScheduleError, ChainError, OutputBusy, ResumeError) as err:
        error(console, err)
        raise typer.Exit(2)
