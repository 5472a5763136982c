"""Terminal output through rich, with outside text never read as markup.

rich reads ``[name]`` as a style tag. A path such as ``drafts[/old]``, or a brat line
quoting ``[/b]`` in a conversion warning, raised ``MarkupError`` and stopped the command,
and ``[rounds.a]`` in an error message vanished from it. Every value that comes from
outside the code (paths, error messages, file contents) goes through ``escape`` before
it meets markup; ``error`` and ``failure`` do it for the two kinds of error line.
"""
from rich.console import Console
from rich.markup import escape


def error(console: Console, message: object) -> None:
    """``error: MESSAGE``, the label in red and the message printed as it is."""
    console.print(f"[red]error:[/red] {escape(str(message))}", highlight=False, soft_wrap=True)


def failure(console: Console, message: object) -> None:
    """``✘ MESSAGE`` in red, the message printed as it is (the data commands' style)."""
    console.print(f"[red]✘ {escape(str(message))}[/red]", highlight=False, soft_wrap=True)


__all__ = ["error", "escape", "failure"]
