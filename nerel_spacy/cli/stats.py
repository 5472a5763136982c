"""``nerel-batch stats``: tables (and optional bar charts) describing a ``.spacy`` corpus."""
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..corpus import CorpusStats, corpus_stats, read_corpus
from ._app import app
from ._console import escape, failure


def _table(title: str, *columns: str) -> Table:
    """A table titled on the left: a text column, then right-aligned number columns."""
    table = Table(title=title, title_justify="left")
    table.add_column(columns[0])
    for column in columns[1:]:
        table.add_column(column, justify="right")
    return table


def overview_table(stats: CorpusStats) -> Table:
    """Documents, tokens, entity and relation totals, and document length."""
    length = stats.length_summary()
    table = Table(title="Corpus", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("documents", f"{stats.documents:,}")
    table.add_row("tokens", f"{stats.tokens:,}")
    table.add_row("doc length min / median / mean / max",
                  f"{length['min']} / {length['median']} / {length['mean']} / {length['max']}")
    table.add_row("entities (doc.spans, nested included)", f"{stats.entities_nested:,}")
    table.add_row("entities (doc.ents, flat)", f"{stats.entities_flat:,}")
    table.add_row("discontinuous entities", f"{stats.discontinuous:,}")
    table.add_row("entities with a Wikidata id", f"{stats.linked:,}")
    table.add_row("relation triples", f"{sum(stats.relation_triples.values()):,}")
    return table


def entity_table(stats: CorpusStats) -> Table:
    """Entity types: counts in doc.spans (nested) and doc.ents (flat) and the share lost."""
    table = _table("Entity types", "type", "spans (nested)", "ents (flat)", "not in flat")
    for label, nested in stats.entity_types_nested.most_common():
        flat = stats.entity_types_flat.get(label, 0)
        table.add_row(escape(label), f"{nested:,}", f"{flat:,}", f"{1 - flat / nested:.0%}")
    return table


def relation_table(stats: CorpusStats) -> Table:
    """Relation types: documents with at least one (doc.cats) and triples; a type with triples
    but outside the schema and the cats (a corpus from another source) is listed too."""
    table = _table("Relation types", "type", "documents", "% docs", "triples")
    labels = [label for label, _ in stats.relation_docs.most_common()]
    labels += sorted(set(stats.relation_triples) - set(stats.relation_docs))
    for label in labels:
        docs = stats.relation_docs.get(label, 0)
        share = docs / stats.documents if stats.documents else 0.0
        table.add_row(escape(label), f"{docs:,}", f"{share:.1%}", f"{stats.relation_triples[label]:,}")
    return table


def counts_table(title: str, key_name: str, counts: Mapping, total: Optional[int] = None) -> Table:
    """A two-column table (key, count) with an optional share column."""
    table = _table(title, key_name, "count", *(["share"] if total else []))
    for key, count in counts.items():
        row = [escape(str(key)), f"{count:,}"]
        if total:
            row.append(f"{count / total:.1%}")
        table.add_row(*row)
    return table


def write_plots(stats: CorpusStats, plots_dir: Path, name: str) -> List[Path]:
    """Bar charts as PNG files in ``plots_dir``; returns their paths. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    charts: Dict[str, tuple] = {
        "entity_types": ("Entity types (doc.spans, nested included)",
                         dict(stats.entity_types_nested.most_common())),
        "entity_types_flat": ("Entity types (doc.ents, flat)",
                              dict(stats.entity_types_flat.most_common())),
        "relation_docs": ("Documents per relation type", dict(stats.relation_docs.most_common())),
        "nesting_depth": ("Entities by nesting depth", dict(sorted(stats.nesting_depth.items()))),
        "doc_length": ("Documents by length in tokens", stats.length_histogram()),
    }
    paths = []
    for key, (title, counts) in charts.items():
        labels = [str(label) for label in counts]
        fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(labels) + 2), 4.5))
        ax.bar(labels, list(counts.values()), color="#4c72b0")
        ax.set_title(f"{name}: {title}")
        ax.set_ylabel("count")
        if len(labels) > 6:
            ax.tick_params(axis="x", labelrotation=90)
        fig.tight_layout()
        path = plots_dir / f"{name}_{key}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


@app.command("stats")
def stats(
    corpus: Path = typer.Argument(
        ..., metavar="CORPUS", help="A .spacy corpus written by `nerel-batch convert`.", show_default=False
    ),
    plots: Optional[Path] = typer.Option(
        None, "--plots", metavar="DIR",
        help="Also write PNG bar charts into this folder (needs matplotlib: "
        "pip install 'nerel-spacy\\[plots]').",
    ),
) -> None:
    """Describe a converted corpus: entity types (nested and flat), documents per
    relation type, nesting depth and document length."""
    console = Console()
    errors = Console(stderr=True)
    if plots is not None and plots.exists() and not plots.is_dir():
        failure(errors, f"--plots {plots} is a file; give a folder for the charts")
        raise typer.Exit(code=1)
    try:
        docs = read_corpus(corpus)
    except (OSError, ValueError) as err:
        failure(errors, err)
        raise typer.Exit(code=1)
    result = corpus_stats(docs)
    console.print(overview_table(result))
    console.print(entity_table(result))
    console.print(relation_table(result))
    console.print(counts_table("Nesting depth (0 = outermost)", "depth",
                               dict(sorted(result.nesting_depth.items())),
                               total=result.entities_nested))
    console.print(counts_table("Document length (tokens)", "tokens", result.length_histogram(),
                               total=result.documents))
    if plots is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            failure(errors, "--plots needs matplotlib: pip install 'nerel-spacy[plots]'")
            raise typer.Exit(code=1)
        try:
            written = write_plots(result, plots, corpus.stem)
        except OSError as err:  # a file on the way to the folder, no permission, a full disk
            failure(errors, f"cannot write the charts to {plots}: {err}")
            raise typer.Exit(code=1)
        console.print(f"[green]✔ Wrote {len(written)} charts to {escape(str(plots))}[/green]", highlight=False)
