"""The ``nerel-batch`` Typer application that every command module registers on."""
import typer

app = typer.Typer(
    name="nerel-batch",
    help=(
        "Russian entities and relation types with spaCy, trained on NEREL.\n\n"
        "Convert NEREL's brat files into spaCy corpora, explore them, quantize a trained "
        "pipeline for CPU, package it as a wheel and annotate folders of text into JSONL."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
