"""``nerel-batch evaluate``: score a pipeline on dev (and test, when present) and write JSON."""
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..batching import DEFAULT_MAX_BATCH_CHARS
from ..evaluate import HELD_OUT_SPLITS, evaluate_model
from ._app import app
from ._console import error, escape


# (row label, how to read it from one split's scores, format): metrics are rows and
# splits are columns, so the table stays readable at 80 columns.
ROWS = (
    ("NER seqeval F", lambda s: s.get("seqeval_f"), "pct"),
    ("entities P", lambda s: s.get("ents_p"), "pct"),
    ("entities R", lambda s: s.get("ents_r"), "pct"),
    ("entities F", lambda s: s.get("ents_f"), "pct"),
    ("nested mentions P", lambda s: s.get("spans_nerel_p"), "pct"),
    ("nested mentions R", lambda s: s.get("spans_nerel_r"), "pct"),
    ("nested mentions F", lambda s: s.get("spans_nerel_f"), "pct"),
    ("  outermost F", lambda s: s.get("spans_nerel_outer_f"), "pct"),
    ("  inner F", lambda s: s.get("spans_nerel_inner_f"), "pct"),
    ("relation types micro P", lambda s: s.get("cats_micro_p"), "pct"),
    ("relation types micro R", lambda s: s.get("cats_micro_r"), "pct"),
    ("relation types micro F", lambda s: s.get("cats_micro_f"), "pct"),
    ("relation types macro F", lambda s: s.get("cats_macro_f"), "pct"),
    ("relations end to end P", lambda s: s.get("relations_p"), "pct"),
    ("relations end to end R", lambda s: s.get("relations_r"), "pct"),
    ("relations end to end F", lambda s: s.get("relations_f"), "pct"),
    ("relations, gold mentions F", lambda s: s.get("relations_gold_f"), "pct"),
    ("  in-sentence P", lambda s: s.get("relations_gold_insent_p"), "pct"),
    ("  in-sentence R", lambda s: s.get("relations_gold_insent_r"), "pct"),
    ("  in-sentence F", lambda s: s.get("relations_gold_insent_f"), "pct"),
    ("PER/LOC/ORG F (natasha's types)", lambda s: s["natasha_mapping"]["f"], "pct"),
    ("docs/s", lambda s: s["speed"]["docs_per_second"], "rate"),
)


def results_table(results: Dict[str, Dict[str, Any]], title: str) -> Table:
    """One row per metric (P/R/F in %), one column per split."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for split in results:
        table.add_column(split, justify="right")
    for label, read, kind in ROWS:
        if not any(_has(read, scores) for scores in results.values()):
            continue  # e.g. nested scores of a pipeline without a span head
        cells = []
        for scores in results.values():
            value = float(read(scores) or 0.0)
            cells.append(f"{100 * value:.1f}" if kind == "pct" else f"{value:.1f}")
        table.add_row(label, *cells)
    return table


def _has(read, scores: Dict[str, Any]) -> bool:
    try:
        return read(scores) is not None
    except (KeyError, TypeError):
        return False


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="Pipeline folder (training/joint_trf/model-best) or package name."),
    corpus: Path = typer.Argument(
        Path("corpus"), help="A .spacy file, or a folder of SPLIT.spacy files (nerel-batch convert writes one)."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Folder for one SPLIT.json of metrics per split."
    ),
    batch_size: int = typer.Option(16, min=1, help="Most documents in one nlp.pipe batch."),
    max_batch_chars: int = typer.Option(
        DEFAULT_MAX_BATCH_CHARS, min=1,
        help="Most characters in one nlp.pipe batch: bounds the model's memory, as in annotate.",
    ),
    settings: Optional[List[str]] = typer.Option(
        None, "--set", metavar="COMPONENT.SETTING=VALUE", show_default=False,
        help="Score the pipeline with a component setting changed, as spacy.load(config=...) does; "
             "repeatable, VALUE read as JSON else as text: --set nerel_joint.nested_arguments=best. "
             "Recorded in each SPLIT.json's meta.",
    ),
    splits: Optional[str] = typer.Option(
        None, "--splits", show_default=False,
        help="The splits of a corpus folder to score, comma-separated (default: dev,test, test where "
             "there is one); add train to see the fit (about 8x dev's time on NEREL), or 'all' for "
             "every .spacy file. Each named split must be there, test excepted.",
    ),
) -> None:
    """Score a pipeline on a corpus's held-out splits (dev, and test where there is one), print
    a table and, with -o, write the metrics as JSON, one SPLIT.json each.

    Entities (spaCy exact spans and seqeval), nested mentions (all, outermost, inner),
    relation types (micro/macro, per label), relation triples (end to end, and on gold
    mentions over all and in-sentence pairs) where the pipeline has those heads,
    PER/LOC/ORG as natasha sees them, and speed.

    Example: [bold]nerel-batch evaluate training/joint_trf/model-best corpus -o metrics/joint_trf[/bold]
    """
    console = Console(stderr=True)
    try:
        names = list(HELD_OUT_SPLITS) if splits is None else [name.strip() for name in splits.split(",") if name.strip()]
        if not names:
            raise ValueError("--splits names no split: give e.g. dev,test or all")
        if splits is not None and corpus.is_file():
            raise ValueError(f"--splits chooses among a folder's SPLIT.spacy files; {corpus} is one file, "
                             "scored as it is: drop --splits, or give the folder")
        with console.status("Checking the paths") as status:
            results = evaluate_model(
                model, corpus, output_dir=output, batch_size=batch_size, max_batch_chars=max_batch_chars,
                splits=None if names == ["all"] else names, settings=settings or (),
                report=lambda message: status.update(escape(message) + " …"),
            )
    except (OSError, ValueError) as err:
        error(console, err)
        raise typer.Exit(2)
    skipped = [name for name in names if name not in results and name != "all"]
    if skipped and not corpus.is_file():
        console.print(f"No {', '.join(f'{name}.spacy' for name in skipped)} in {escape(str(corpus))}: not scored.")
    Console().print(results_table(results, escape(f"{model} on {corpus}")))
    if output:
        console.print(f"Metrics written to {escape(str(output))}/")
    else:
        console.print("No JSON written: add -o FOLDER to keep the metrics.")
