"""``nerel-batch set-windows``: a copy of a transformer pipeline that reads with other windows."""
from pathlib import Path

import typer
from rich.console import Console

from ..windows import save_with_windows
from ._app import app
from ._console import error, escape


@app.command("set-windows")
def set_windows_command(
    model: Path = typer.Argument(..., help="Transformer pipeline folder (e.g. training/joint_trf/model-best)."),
    output: Path = typer.Argument(..., help="Folder for the copy (may equal MODEL to change it in place)."),
    window: int = typer.Option(..., help="Window length in spaCy tokens (NEREL: 128, what every stage of `all` trains on)."),
    stride: int = typer.Option(..., help="Tokens between window starts; at most --window. window − stride overlap."),
    component: str = typer.Option("transformer", help="Name of the transformer component."),
) -> None:
    """Copy a transformer pipeline with new strided windows; the weights are unchanged.

    The windows are part of the pipeline's config, so training components sourced from the
    copy (train-more) and spacy.load of it both use them. Keep about 512 wordpieces as the
    limit: 256 NEREL tokens are at most ~480 e5-small wordpieces.

    Example: [bold]nerel-batch set-windows training/joint_trf/model-best training/w256 --window 256 --stride 192[/bold]
    """
    console = Console(stderr=True)
    if not (model / "config.cfg").exists():
        error(console, f"{model}: not a pipeline folder (no config.cfg).")
        raise typer.Exit(2)
    try:
        save_with_windows(model, output, window, stride, component)
    except ValueError as err:
        error(console, err)
        raise typer.Exit(2)
    console.print(f"Wrote {escape(str(output))}: {escape(component)} reads {window}-token windows every {stride} tokens.")
