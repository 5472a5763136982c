"""The nerel-batch application: command help reflowed for the terminal."""

from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.cli._app import reflowed


def test_paragraphs_become_lines_and_lists_stay():
    doc = """First line.

    A paragraph written
    over three lines, with --an-option
    at a line's start.

    - one item
      continued
    - another
        indented block
    """
    assert reflowed(doc) == (
        "First line.\n\n"
        "A paragraph written over three lines, with --an-option at a line's start.\n\n"
        "- one item\n  continued\n- another\n    indented block"
    )


def test_every_command_gets_its_docstring_reflowed():
    for info in app.registered_commands:
        if info.callback.__doc__ and "Unavailable here" not in (info.help or ""):
            assert info.help == reflowed(info.callback.__doc__), info.name


def test_help_at_80_columns_wraps_where_the_console_does():
    result = CliRunner().invoke(app, ["evaluate", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    lines = [line.strip() for line in result.output.splitlines()]
    # the source breaks after "inner)," at 88 columns; reflowed, "inner)," ends a line only if the console says so
    assert "relation types (micro/macro, per label), relation triples (end to end," in " ".join(lines)
    assert not any(line.endswith("gold") for line in lines), result.output


def _rendered(text: str) -> str:
    """What rich shows of ``text`` in --help (the app uses rich markup)."""
    from rich.text import Text

    return Text.from_markup(text).plain


def test_help_texts_lose_nothing_to_rich_markup():
    # "[default: ...]" or "[components.encoder]" in a help text is markup to rich, and vanishes
    # unless written "\\[": every option's help must render as written
    import typer

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for param in command.params:
            text = getattr(param, "help", None) or ""
            assert _rendered(text) == text.replace("\\[", "["), f"{name} {param.name}: {text}"
        # command docstrings may use [bold] on purpose, and nothing else
        text = (command.help or "").replace("[bold]", "").replace("[/bold]", "")
        assert _rendered(text) == text.replace("\\[", "["), name


def test_help_shows_bracketed_text():
    result = CliRunner().invoke(app, ["report", "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert result.exit_code == 0
    assert "[default: OUT.errors.jsonl beside OUT.jsonl]" in " ".join(result.output.split()), result.output
