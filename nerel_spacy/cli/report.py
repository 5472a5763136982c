"""``nerel-batch report``: one self-contained HTML page summarising an annotate run."""
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from typing_extensions import Annotated

from .. import report as lib
from ._app import app
from ._console import escape

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch report out.jsonl -o report.html

  nerel-batch report out.jsonl -o report.html --texts ./docs --samples 5
"""


@app.command("report", epilog=EXAMPLES)
def report_command(
    output: Annotated[Path, typer.Argument(
        metavar="OUT.jsonl", show_default=False, help="The JSONL that 'nerel-batch annotate -o' wrote.",
    )],
    report: Annotated[Path, typer.Option(
        "--output", "-o", show_default=False,
        help="The HTML page to write (a file, and none of those the report reads).",
    )],
    errors: Annotated[Optional[Path], typer.Option(
        help="The errors JSONL of the run \\[default: OUT.errors.jsonl beside OUT.jsonl].",
        show_default=False,
    )] = None,
    texts: Annotated[Optional[Path], typer.Option(
        help="The input folder of the run, to show sample documents when the records carry no text.",
        show_default=False,
    )] = None,
    samples: Annotated[int, typer.Option(min=0, help="Documents rendered with displaCy.")] = lib.DEFAULT_SAMPLES,
    top: Annotated[int, typer.Option(min=1, help="Most frequent entities shown per type.")] = lib.DEFAULT_TOP,
    title: Annotated[Optional[str], typer.Option(help="Page title.", show_default=False)] = None,
) -> None:
    """Summarise an annotate run: entity and relation type charts, frequent entities, errors, samples.

    The page needs no network: inline CSS and SVG. Malformed JSONL lines are counted and
    listed with their file and line, never fatal.
    """
    console = Console(stderr=True)
    if not output.is_file():
        raise typer.BadParameter(f"{output}: no such file; give the JSONL that annotate -o wrote",
                                 param_hint="OUT.jsonl")
    problem = _report_clash(report, output, errors, texts)
    if problem:
        raise typer.BadParameter(problem, param_hint="'--output'")
    summary = lib.write_report(
        output, report, errors=errors, texts=texts, samples=samples, top=top, title=title,
    )
    console.print(
        f"Wrote {escape(str(report))}: {summary.documents:,} documents, {summary.mentions:,} mentions, "
        f"{summary.failed:,} failed inputs, {summary.n_malformed:,} malformed lines, "
        f"{len(summary.samples)} sample documents."
    )
    for item in summary.malformed[:3]:
        console.print(f"[yellow]malformed[/yellow] {escape(str(item))}", highlight=False)


def _report_clash(report: Path, output: Path, errors: Optional[Path], texts: Optional[Path]) -> Optional[str]:
    """Why the page can't be written to ``report``, or None: it is a folder, or one of the
    files the report reads (the annotate output, its errors file and manifest, --texts)."""
    from ..annotate import errors_path_for, manifest_path

    if report.is_dir():
        return f"{report} is a folder; give the HTML file to write, e.g. {report / 'report.html'}"
    inputs = [(output, "the annotate output"), (errors or errors_path_for(output), "the run's errors file"),
              (manifest_path(output), "the run's manifest")]
    if texts is not None and not texts.is_dir():
        inputs.append((texts, "the --texts file"))
    for path, what in inputs:
        if report.resolve() == path.resolve():
            return f"the report can't overwrite {what} ({path}); give another file"
    return None
