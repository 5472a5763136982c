"""The ``nerel-batch`` Typer application that every command module registers on."""
import inspect
import re

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


LIST_ITEM = re.compile(r"^(\s+|[-*] )")


def reflowed(doc: str) -> str:
    """A command's docstring as its ``--help`` should read: each paragraph on one line, which
    the console wraps to the terminal's width (Typer's rich mode keeps the source's line
    breaks, so lines near 80 columns came out ragged). List items (``- ``, ``* ``) and
    indented lines keep their own lines."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines: list = []
        for line in paragraph.splitlines():
            if lines and not LIST_ITEM.match(line):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def reflow_command_help(typer_app: typer.Typer) -> None:
    """Give each registered command without an explicit ``help`` its reflowed docstring."""
    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = reflowed(info.callback.__doc__)
