"""``nerel-batch prepare-vectors``: natasha's navec embeddings as a spaCy vectors pipeline."""
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..vectors import VectorsReport, prepare_vectors
from ._app import app
from ._console import escape, failure


def report_table(report: VectorsReport) -> Table:
    """Source, output, table shape, size on disk and time of one conversion."""
    table = Table(title="navec → spaCy vectors", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("source", escape(str(report.source)))
    table.add_row("output", escape(str(report.output_dir)))
    table.add_row("words (rows)", f"{report.words:,}")
    table.add_row("keys (with case variants)", f"{report.keys:,}")
    table.add_row("dimensions", f"{report.dims:,}")
    table.add_row("size on disk", f"{report.bytes_on_disk / 2**20:,.1f} MiB")
    table.add_row("time", f"{report.seconds:.1f}s")
    return table


@app.command("prepare-vectors")
def prepare_vectors_command(
    out_dir: Path = typer.Argument(
        ..., metavar="OUT_DIR",
        help="Folder for the vectors pipeline (a blank 'ru' pipeline with the vectors), "
        "e.g. assets/navec_vectors, the default of \\[paths] vectors in configs/joint_cnn.cfg.",
        show_default=False,
    ),
    navec: Optional[Path] = typer.Option(
        None, "--navec", metavar="PATH",
        help="A navec .tar file (default: the news embeddings bundled with natasha; "
        "install them with pip install natasha).",
        show_default=False,
    ),
    max_words: Optional[int] = typer.Option(
        None, "--max-words", metavar="N", min=1,
        help="Keep only the N most frequent words (default: all 250,000; 300 dimensions "
        "take 1.2 KB a word on disk and in memory).",
        show_default=False,
    ),
) -> None:
    """Convert natasha's navec word embeddings into spaCy vectors for the CNN pipeline.

    navec's product-quantized codes are unpacked into a dense float32 table; each
    lowercase word is also keyed as UPPER, Capitalized and Title-Case, so "Москва"
    finds the vector of "москва".

    Train with it through \\[initialize] vectors: configs/joint_cnn.cfg reads
    assets/navec_vectors.
    """
    console = Console()
    errors = Console(stderr=True)
    limit = f"the {max_words:,} most frequent words" if max_words else "all words"
    console.print(f"Unpacking navec embeddings ({limit}) into {escape(str(out_dir))} …", highlight=False)
    try:
        report = prepare_vectors(out_dir, navec_path=navec, max_words=max_words)
    except (OSError, ImportError, ValueError) as err:
        failure(errors, err)
        raise typer.Exit(code=1)
    console.print(report_table(report))
    console.print(
        f"[green]✔ Wrote {report.words:,} × {report.dims} vectors to {escape(str(report.output_dir))} "
        f"in {report.seconds:.1f}s[/green]",
        highlight=False,
    )
