"""``nerel-batch tune-thresholds``: per-label relation-type thresholds from held-out data."""
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..thresholds import DEFAULT_FOLDS, DEFAULT_MIN_POSITIVES, tune_model_thresholds
from ._app import app
from ._console import error, escape


@app.command("tune-thresholds")
def tune_thresholds_command(
    model: Path = typer.Argument(..., help="Pipeline folder with a nerel_joint component."),
    data: Path = typer.Argument(
        ..., help="Held-out .spacy corpus to tune on (e.g. corpus/dev.spacy), or a folder with dev.spacy."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the tuned pipeline here (default: update MODEL in place)."
    ),
    min_positives: int = typer.Option(
        DEFAULT_MIN_POSITIVES,
        help="Labels with fewer positive documents keep the single global threshold. On NEREL's "
        "94 dev documents, per-label thresholds for rarer labels fit noise (benchmarks/thresholds.py).",
    ),
    folds: int = typer.Option(
        DEFAULT_FOLDS,
        help="Folds for the cross-fitted estimate of the tuned scores on unseen documents (0: skip it).",
    ),
    component: str = typer.Option("nerel_joint", help="Name of the joint component."),
) -> None:
    """Tune relation-type thresholds on held-out data and save them in the pipeline.

    One global threshold first, then a threshold per label that has at least
    --min-positives positive documents (rarer labels keep the global one). They are
    stored in the nerel_joint cfg. Scores on the tuning data are optimistic, so the command
    also prints a cross-fitted estimate: each fold of the data thresholded by values tuned
    on the other folds. Report that one.

    Example: [bold]nerel-batch tune-thresholds training/joint_trf/model-best corpus/dev.spacy[/bold]
    """
    console = Console(stderr=True)
    try:
        result = tune_model_thresholds(
            model, data, output, component=component, min_positives=min_positives, folds=folds
        )
    except (OSError, ValueError) as err:
        error(console, err)
        raise typer.Exit(2)
    if result.fits_noise:
        console.print(
            "[yellow]warning:[/yellow] the cross-fitted micro-F is below the untuned one: these "
            "thresholds fit noise in the tuning data. Try a larger --min-positives or more data."
        )
    rows = [("before", result.before), ("after (tuned on this data)", result.after)]
    if result.cross_fitted is not None:
        rows.append((f"expected on unseen data ({result.folds}-fold cross-fitted)", result.cross_fitted))
    for name, scores in rows:
        console.print(
            f"{name}: micro P {scores['cats_micro_p']:.3f} R {scores['cats_micro_r']:.3f} "
            f"F {scores['cats_micro_f']:.3f}, macro F {scores['cats_macro_f']:.3f}"
        )
    console.print(f"Thresholds for {len(result.labels)} relation types saved to {escape(str(result.destination))}")
