"""``nerel-batch trim-vocab``: an encoder or trained pipeline cut down to the word pieces Russian text uses."""
import difflib
import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..trim.encoder import TokenizationChangedError, TrimReport, load_hf_encoder, trim_hf_folder, trim_pipeline
from ..trim.texts import NAVEC, TextSourceError, check_sources, read_all_texts, read_words
from ._app import app
from ._console import error, escape
from ._outputs import output_clash, staged_output

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch trim-vocab assets/e5-small assets/e5-small-ru --texts ../shared/data/nerel/train --held-out ../shared/data/nerel/dev

  nerel-batch trim-vocab training/joint_trf/model-best training/joint_trf/model-trimmed --texts corpus/train.spacy

  nerel-batch quantize training/joint_trf/model-trimmed training/joint_trf/model-trimmed-int8

Exit status: 0 written, 2 usage error (SOURCE missing or not loadable, unreadable texts, an
unsupported tokenizer, OUTPUT not empty without --overwrite, OUTPUT holding SOURCE or inside
it), 1 a tokenization check failed (nothing written).
"""
HUB_EXAMPLE = "intfloat/multilingual-e5-small"


def looks_like_path(source: str) -> bool:
    """Whether SOURCE is meant as a local folder rather than a hub name (``namespace/name``):
    it starts with '.', '/' or '~', has a backslash or two slashes, or its first part is a
    local folder (``assets/e5-smal``)."""
    parts = Path(source).parts
    return (source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1
            or (len(parts) > 1 and Path(parts[0]).is_dir()))


def source_problem(source: str) -> Optional[str]:
    """Why SOURCE is no pipeline or encoder folder though it names a local path, or None."""
    path = Path(source).expanduser()
    kinds = "a spaCy pipeline folder (config.cfg) or a Hugging Face encoder folder (config.json)"
    if path.is_dir():
        if (path / "config.cfg").is_file() or (path / "config.json").is_file():
            return None
        return f"SOURCE {source} has neither config.cfg nor config.json: give {kinds}."
    if path.exists():
        return f"SOURCE {source} is a file: give {kinds}."
    if not looks_like_path(source):
        return None  # a hub name: loading it says whether it exists
    parent = path.parent if path.parent.is_dir() else None
    near = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir() if p.is_dir()], n=1) if parent else []
    hint = f" Did you mean {parent / near[0]}?" if near else ""
    return f"SOURCE {source}: no such folder.{hint} Give {kinds}, or a hub name such as {HUB_EXAMPLE}."


def report_table(name: str, report: TrimReport) -> Table:
    """Rows before and after, what each source added, and the checks."""
    table = Table(title=f"trimmed vocabulary: {name}", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("embedding rows", f"{report.rows_before:,} → {report.rows_after:,} "
                  f"({report.rows_after / report.rows_before:.1%})")
    table.add_row("embedding (float32)", f"{report.embedding_mb_before:,.1f} MB → {report.embedding_mb_after:,.1f} MB")
    table.add_row("parameters", f"{report.parameters_before:,} → {report.parameters_after:,}")
    table.add_row("pieces from", ", ".join(f"{key} {value:,}" for key, value in report.sources.items()))
    identity = report.identity
    table.add_row("same tokenization", f"{identity['covered']:,} of {identity['texts']:,} --texts texts checked, "
                  f"{identity['mismatched']} differ")
    if report.held_out:
        held = report.held_out
        table.add_row("held-out texts", f"{held['texts']:,} texts: {held['oov_rate']:.3%} of {held['pieces']:,} pieces "
                      f"missing; {held['covered_texts']:,} texts tokenize exactly as before")
    table.add_row("time", f"{report.seconds:.1f}s")
    return table


@app.command("trim-vocab", epilog=EXAMPLES)
def trim_vocab_command(
    source: str = typer.Argument(
        ..., metavar="SOURCE",
        help="A trained float32 spaCy pipeline with a transformer (a folder with config.cfg), "
        "a Hugging Face encoder folder (config.json), or a hub name.",
        show_default=False,
    ),
    output: Path = typer.Argument(..., metavar="OUTPUT", help="Folder for the trimmed copy.", show_default=False),
    texts: List[Path] = typer.Option(
        ..., "--texts", metavar="PATH",
        help="Texts whose pieces are kept (repeatable): a folder of .txt files (brat folders too), "
        "a .txt file or a .spacy corpus. Every one of them tokenizes exactly as before.",
        show_default=False,
    ),
    words: str = typer.Option(
        NAVEC, "--words", metavar="navec|none|FILE",
        help="Words whose pieces are kept, each as lower, Capitalised and UPPER: natasha's "
        "250k navec news words (pip install natasha), none, or a file of one word a line.",
    ),
    numbers: bool = typer.Option(True, "--numbers/--no-numbers",
                                 help="Keep every piece made of digits and punctuation only."),
    single_chars: bool = typer.Option(
        True, "--single-chars/--no-single-chars",
        help="Keep every one-character piece, so no character the encoder knew becomes unknown.",
    ),
    held_out: List[Path] = typer.Option(
        [], "--held-out", metavar="PATH",
        help="Texts not used to choose the pieces (e.g. the dev split), on which the "
        "out-of-vocabulary rate is measured and reported (repeatable).",
        show_default=False,
    ),
    report_path: Optional[Path] = typer.Option(None, "--report", metavar="FILE",
                                               help="Also write the report as JSON.", show_default=False),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists."),
) -> None:
    """Keep only the word pieces that Russian text needs, and their embedding rows.

    multilingual-e5-small's 250,002 pieces hold 96M of its 118M weights. The pieces the
    --texts and --words produce, plus number and one-character pieces, are about a fifth
    of them; every other weight stays as it is. Wherever no piece of a text is missing
    (checked on every --texts text) the trimmed encoder tokenizes and encodes it exactly as
    before; elsewhere a word splits into smaller pieces. Works on an encoder folder before
    training and on a trained pipeline (then quantize the trimmed copy).
    """
    console = Console(stderr=True)
    problem = output_clash(source, output, "SOURCE", "OUTPUT", "trimmed") or source_problem(source)
    if problem:
        error(console, problem)
        raise typer.Exit(2)
    if output.exists() and any(output.iterdir()) and not overwrite:
        error(console, f"{output} exists and is not empty. Pass --overwrite to replace it.")
        raise typer.Exit(2)
    is_pipeline = Path(source, "config.cfg").is_file()
    try:
        check_sources([*texts, *held_out], words)
        with console.status(f"loading {escape(source)}"):
            loaded = load_source(source, is_pipeline)
        chosen_from = read_all_texts(texts)
        held_out_texts = read_all_texts(held_out)
        word_list = read_words(words)
    except (TextSourceError, ImportError) as err:
        error(console, err)
        raise typer.Exit(2)
    console.print(f"Choosing pieces from {len(chosen_from):,} texts and {len(word_list):,} words.")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    tasks = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = "tokenizing texts" if stage == "texts" else "tokenizing word forms"
            tasks[stage] = progress.add_task(label, total=total)
        progress.update(tasks[stage], completed=done)

    try:
        with progress, staged_output(output) as staging:
            if is_pipeline:
                reports = trim_pipeline(loaded, chosen_from, word_list, numbers, single_chars,
                                        held_out_texts, on_progress)
                loaded.to_disk(staging)
            else:
                reports = [("encoder", trim_hf_folder(source, staging, chosen_from, word_list, numbers, single_chars,
                                                      held_out_texts, on_progress, encoder=loaded))]
    except TokenizationChangedError as err:
        error(console, err)
        raise typer.Exit(1)
    except ValueError as err:  # an unsupported or slow tokenizer, a model that does not match it
        error(console, err)
        raise typer.Exit(2)
    for name, report in reports:
        console.print(report_table(name, report))
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps({name: r.to_dict() for name, r in reports}, ensure_ascii=False, indent=2),
                               encoding="utf8")
    console.print(f"Wrote {escape(str(output))}.")


def load_source(source: str, is_pipeline: bool):
    """The float32 spaCy pipeline, or the (tokenizer, model) of the encoder, SOURCE names;
    ``typer.Exit(2)`` with the reason where it can't be loaded or trimmed."""
    console = Console(stderr=True)
    try:
        if not is_pipeline:
            return load_hf_encoder(source)
        import spacy

        nlp = spacy.load(source)
    except (OSError, ValueError) as err:  # no such hub name, unreadable files, unknown factory
        error(console, f"cannot load SOURCE {source}: {err}")
        raise typer.Exit(2)
    from ..quantize.pipeline import float32_transformer_shims

    try:
        float32_transformer_shims(
            nlp, f"{source} has no transformer whose vocabulary could be trimmed (a CNN pipeline?).",
            f"{source} is int8: trim its float32 model-best, then quantize the trimmed copy.")
    except ValueError as err:
        error(console, err)
        raise typer.Exit(2)
    return nlp
