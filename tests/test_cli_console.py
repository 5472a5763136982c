"""``nerel_spacy.cli._console``: outside text reaches the terminal as it is, never as rich markup.

Before it, ``nerel-batch convert`` stopped with rich's ``MarkupError`` on a brat line that
quoted ``[/b]``, ``set-windows "my[/draft]" …`` did too, and ``[rounds.a]`` vanished from a
schedule error (test_cli_rounds checks that one).
"""
import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.cli._console import error, failure

from conftest import unwrapped

runner = CliRunner()


def printed(write) -> str:
    out = io.StringIO()
    write(Console(file=out, width=200, color_system=None))
    return out.getvalue()


@pytest.mark.parametrize("text", ["drafts[/old] is missing", "[rounds.a]: missing learn_rate", "[bold]x[/bold]", "a [/] b"])
def test_error_and_failure_print_the_message_verbatim(text):
    assert printed(lambda console: error(console, text)) == f"error: {text}\n"
    assert printed(lambda console: failure(console, text)) == f"✘ {text}\n"


def test_error_accepts_an_exception():
    assert printed(lambda console: error(console, ValueError("bad [/x] value"))) == "error: bad [/x] value\n"


def test_convert_reports_a_brat_line_with_brackets_instead_of_crashing(tmp_path):
    train = tmp_path / "nerel" / "train"
    train.mkdir(parents=True)
    (train / "a.txt").write_text("Hello [/b] world.\n", encoding="utf8")
    (train / "a.ann").write_text("T1\tPERSON 0 5\tHello\nR1\tWORKPLACE Arg1:T1 Arg2:T9 [/oops]\n", encoding="utf8")
    result = runner.invoke(app, ["convert", str(tmp_path / "nerel"), str(tmp_path / "corpus")],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "T9" in result.output and (tmp_path / "corpus" / "train.spacy").exists()


def test_a_path_with_brackets_is_named_in_the_error(tmp_path):
    missing = str(tmp_path / "my[/draft]")
    result = runner.invoke(app, ["set-windows", missing, str(tmp_path / "out"), "--window", "3", "--stride", "2"])
    assert result.exit_code == 2
    assert f"{missing}: not a pipeline folder" in unwrapped(result.output)

