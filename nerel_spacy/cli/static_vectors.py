"""``nerel-batch add-vectors``: a copy of a trained pipeline whose encoder also reads static vectors."""
from pathlib import Path

import typer
from rich.console import Console

from ..static_vectors import save_with_static_vectors
from ._app import app
from ._console import error, escape


@app.command("add-vectors")
def add_vectors_command(
    model: Path = typer.Argument(..., help="Trained pipeline folder (e.g. training/joint_trf_heads_more_more/model-best)."),
    vectors: Path = typer.Argument(..., help="Static vectors pipeline folder, from `nerel-batch prepare-vectors` "
                                   "(e.g. assets/navec_vectors)."),
    output: Path = typer.Argument(..., help="Folder for the copy: not MODEL or VECTORS, nor a folder holding "
                                  "or inside MODEL."),
    scale: float = typer.Option(32.0, help="Factor on the vectors' projection; under Adam a learning-rate factor "
                                "for it alone. At 1 it barely moved in 600 steps; 32 at 2.5e-5 (about 8e-4) "
                                "is what NEREL's round 8 used."),
    dropout: float = typer.Option(0.0, help="Dropout over the projection's output dimensions in training."),
    component: str = typer.Option("nerel_joint", help="Name of the joint component whose encoder is wrapped."),
) -> None:
    """Copy a pipeline with static word vectors added to its encoder's token vectors.

    The projection of the vectors starts at zero, so the copy predicts exactly what MODEL
    does; continued training from it learns how much of them to use. Train from the copy
    with the vectors named again, since spaCy does not carry a sourced pipeline's vectors:
    [bold]spacy project run train-more . --vars.more_from RUN --vars.more_vectors assets/navec_vectors[/bold]

    Example: [bold]nerel-batch add-vectors training/joint_trf_heads_more_more/model-best assets/navec_vectors training/navec_init/model-best --scale 32[/bold]
    """
    console = Console(stderr=True)
    for folder, what in ((model, "MODEL"), (vectors, "VECTORS")):
        if not (folder / "config.cfg").exists():
            error(console, f"{what} {folder}: not a pipeline folder (no config.cfg).")
            raise typer.Exit(2)
    try:
        nlp = save_with_static_vectors(model, vectors, output, scale=scale, dropout=dropout, component=component)
    except ValueError as err:
        error(console, err)
        raise typer.Exit(2)
    rows, width = nlp.vocab.vectors.shape
    console.print(f"Wrote {escape(str(output))}: {escape(component)}'s encoder also reads {rows:,} vectors of {width} dimensions "
                  f"(projection at zero, scale {scale:g}).")
