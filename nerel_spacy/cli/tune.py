"""``nerel-batch tune-thresholds``: per-label relation-type thresholds from held-out data."""
from pathlib import Path
from typing import Optional

import numpy
import spacy
import typer
from rich.console import Console

from ..corpus import read_corpus
from ..scoring import multilabel_prf
from ..thresholds import cats_gold_and_scores, score_cross_fitted, tune_thresholds
from ._app import app


@app.command("tune-thresholds")
def tune_thresholds_command(
    model: Path = typer.Argument(..., help="Pipeline folder with a nerel_joint component."),
    data: Path = typer.Argument(..., help="Held-out .spacy corpus to tune on (e.g. corpus/dev.spacy)."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the tuned pipeline here (default: update MODEL in place)."
    ),
    min_positives: int = typer.Option(
        50,
        help="Labels with fewer positive documents keep the single global threshold. On NEREL's "
        "94 dev documents, per-label thresholds for rarer labels fit noise (benchmarks/thresholds.py).",
    ),
    folds: int = typer.Option(
        5, help="Folds for the cross-fitted estimate of the tuned scores on unseen documents (0: skip it)."
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
    if not data.exists():
        console.print(f"[red]error:[/red] {data}: no such corpus file. Run `nerel-batch convert` first.")
        raise typer.Exit(2)
    nlp = spacy.load(model)
    if component not in nlp.pipe_names or not hasattr(nlp.get_pipe(component), "set_thresholds"):
        console.print(f"[red]error:[/red] {model} has no '{component}' nerel_joint component.")
        raise typer.Exit(2)
    pipe = nlp.get_pipe(component)
    gold_docs = read_corpus(data, nlp.vocab)
    if folds and not 2 <= folds <= len(gold_docs):
        console.print(
            f"[red]error:[/red] --folds must be 0 or between 2 and {len(gold_docs)} (the documents in {data})."
        )
        raise typer.Exit(2)
    labels = list(pipe.cats_labels)
    gold, scores = cats_gold_and_scores(nlp, gold_docs, labels)
    before = multilabel_prf(gold, scores, numpy.array([pipe.cats_thresholds[label] for label in labels]), labels)
    thresholds = tune_thresholds(gold, scores, labels, min_positives=min_positives)
    after = multilabel_prf(gold, scores, numpy.array([thresholds[label] for label in labels]), labels)
    results = [("before", before), ("after (tuned on this data)", after)]
    if folds:
        cross_fitted = score_cross_fitted(gold, scores, labels, n_folds=folds, min_positives=min_positives)
        results.append((f"expected on unseen data ({folds}-fold cross-fitted)", cross_fitted))
        if cross_fitted["cats_micro_f"] < before["cats_micro_f"]:
            console.print(
                "[yellow]warning:[/yellow] the cross-fitted micro-F is below the untuned one: these "
                "thresholds fit noise in the tuning data. Try a larger --min-positives or more data."
            )
    pipe.set_thresholds(thresholds)
    destination = output or model
    nlp.to_disk(destination)
    for name, result in results:
        console.print(
            f"{name}: micro P {result['cats_micro_p']:.3f} R {result['cats_micro_r']:.3f} "
            f"F {result['cats_micro_f']:.3f}, macro F {result['cats_macro_f']:.3f}"
        )
    console.print(f"Thresholds for {len(labels)} relation types saved to {destination}")
