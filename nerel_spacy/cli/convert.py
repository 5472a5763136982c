"""``nerel-batch convert``: NEREL brat folders to ``.spacy`` corpora, with a summary."""
import time
from pathlib import Path
from typing import Dict, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..brat import BratFormatError, ReadReport
from ..corpus import convert_corpus
from ._app import app
from ._console import escape, failure


def _dropped(counts) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    reasons = ", ".join(f"{reason} {count}" for reason, count in counts.most_common())
    return f"{total} ({reasons})"


def summary_table(reports: Dict[str, ReadReport]) -> Table:
    """One column per split: documents, tokens, entities (kept and dropped), relations."""
    table = Table(title="NEREL → spaCy", title_justify="left")
    table.add_column("", style="bold")
    for split in reports:
        table.add_column(split, justify="right")
    rows = [
        ("documents", lambda r: f"{r.documents:,}"),
        ("tokens", lambda r: f"{r.tokens:,}"),
        ("entities (T lines)", lambda r: f"{r.entity_lines:,}"),
        ("  kept in spans", lambda r: f"{r.entities_kept:,}"),
        ("  flat (doc.ents)", lambda r: f"{r.entities_flat:,}"),
        ("  nested", lambda r: f"{r.entities_nested:,}"),
        ("  discontinuous", lambda r: f"{r.entities_discontinuous:,}"),
        ("  misaligned (expanded)", lambda r: f"{r.entities_misaligned:,}"),
        ("  dropped", lambda r: _dropped(r.entities_dropped)),
        ("relations (R lines)", lambda r: f"{r.relation_lines:,}"),
        ("  kept", lambda r: f"{r.relations_kept:,}"),
        ("  dropped", lambda r: _dropped(r.relations_dropped)),
        ("links (N lines)", lambda r: f"{r.link_lines:,}"),
        ("  kept / NULL", lambda r: f"{r.links_kept:,} / {r.links_nil:,}"),
        ("  dropped", lambda r: _dropped(r.links_dropped)),
    ]
    for name, cell in rows:
        table.add_row(name, *(cell(report) for report in reports.values()))
    if any(report.ignored_lines for report in reports.values()):
        table.add_row(
            "ignored lines (A/E/M/#/*)",
            *(_dropped(report.ignored_lines) for report in reports.values()),
        )
    return table


def warnings_table(report: ReadReport, root: Path) -> Optional[Table]:
    """Warnings by kind, most frequent first, with the first example of each."""
    counts = report.warning_counts()
    if not counts:
        return None
    first = report.first_warnings()
    table = Table(title="Warnings", title_justify="left")
    table.add_column("kind", style="yellow")
    table.add_column("count", justify="right")
    table.add_column("first example")
    for kind, count in counts.items():
        warning = first[kind]
        where = _relative(warning.path, root) + (f":{warning.line}" if warning.line else "")
        example = escape(f"{where}: {warning.message}")
        if warning.hint:
            example += f" [dim]({escape(warning.hint)})[/dim]"
        table.add_row(kind, f"{count:,}", example)
    return table


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


@app.command("convert")
def convert(
    nerel_dir: Path = typer.Argument(
        ...,
        metavar="NEREL_DIR",
        help="NEREL root with train/, dev/ and/or test/ subfolders of brat .txt + .ann "
        "files, or one flat folder of documents. annotation.conf is read when present.",
        show_default=False,
    ),
    out_dir: Path = typer.Argument(
        ..., metavar="OUT_DIR", help="Folder for the output: one {split}.spacy DocBin per split.",
        show_default=False,
    ),
    strict: bool = typer.Option(
        False, "--strict",
        help="Stop at the first problem in the input (malformed line, offset mismatch, "
        "unknown id or label) instead of counting it as a warning.",
    ),
    name: Optional[str] = typer.Option(
        None, "--name", metavar="NAME",
        help="Split name for a flat folder of documents (default: the folder's name).",
    ),
) -> None:
    """Convert NEREL brat files into spaCy corpora (OUT_DIR/{train,dev,test}.spacy).

    Every entity, nested ones included, goes to doc.spans["nerel"] (Wikidata ids as
    kb_id); doc.ents holds the outermost flat view; doc.cats marks the 49 relation types
    present; doc._.relations keeps the relation triples. Problems in the input are counted
    and summarised by kind; --strict turns the first one into an error.
    """
    console = Console()
    errors = Console(stderr=True)
    started = time.perf_counter()
    try:
        reports = convert_corpus(nerel_dir, out_dir, strict=strict, name=name)
    except BratFormatError as err:
        failure(errors, f"{'Strict mode: ' if strict else ''}{err}")
        raise typer.Exit(code=1)
    except OSError as err:
        failure(errors, err)
        raise typer.Exit(code=1)
    seconds = time.perf_counter() - started
    console.print(summary_table(reports))
    total = ReadReport()
    for report in reports.values():
        total.merge(report)
    warnings = warnings_table(total, Path(nerel_dir))
    if warnings is not None:
        console.print(warnings)
    else:
        console.print("No warnings.")
    written = ", ".join(str(Path(out_dir) / f"{split}.spacy") for split in reports)
    console.print(f"[green]✔ Wrote {escape(written)} in {seconds:.1f}s[/green]", highlight=False)
