"""``nerel-batch evaluate``: score a pipeline on dev (and test, when present) and write JSON."""
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..evaluate import evaluate_model
from ._app import app


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="Pipeline folder (training/trf/model-best) or package name."),
    corpus: Path = typer.Argument(
        Path("corpus"), help="A .spacy file, or a folder whose dev.spacy / test.spacy are all scored."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Folder for one SPLIT.json of metrics per split."
    ),
    batch_size: int = typer.Option(16, help="Documents per nlp.pipe batch."),
) -> None:
    """Score a pipeline on every split of a corpus and write the metrics as JSON.

    Entities (spaCy exact spans and seqeval), relation types (micro/macro, per label),
    PER/LOC/ORG as natasha sees them, and speed.

    Example: [bold]nerel-batch evaluate training/trf/model-best corpus -o metrics/trf[/bold]
    """
    console = Console(stderr=True)
    try:
        results = evaluate_model(model, corpus, output_dir=output, batch_size=batch_size)
    except (OSError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2)
    table = Table(title=f"{model} on {corpus}", title_justify="left")
    for column in ("split", "NER seqeval F", "ents P", "ents R", "ents F", "cats micro P",
                   "cats micro R", "cats micro F", "cats macro F", "PER/LOC/ORG F", "docs/s"):
        table.add_column(column, justify="right")
    for split, scores in results.items():
        table.add_row(
            split,
            *(f"{100 * float(scores.get(key) or 0.0):.1f}" for key in (
                "seqeval_f", "ents_p", "ents_r", "ents_f", "cats_micro_p", "cats_micro_r",
                "cats_micro_f", "cats_macro_f")),
            f"{100 * scores['natasha_mapping']['f']:.1f}",
            f"{scores['speed']['docs_per_second']:.1f}",
        )
    Console().print(table)
    if output:
        console.print(f"Metrics written to {output}/")
