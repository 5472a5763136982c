"""``nerel-batch convert`` and ``nerel-batch stats`` through Typer's test runner."""
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nerel_spacy.cli import app

from brat_fixtures import DEV, MISSING_ANN, NEREL_ROOT, PROBLEMS


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def run(runner, *args):
    return runner.invoke(app, [str(arg) for arg in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, runner):
    out = tmp_path_factory.mktemp("corpus")
    result = run(runner, "convert", NEREL_ROOT, out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_convert_writes_splits_and_summary(corpus_dir):
    out, output = corpus_dir
    assert (out / "train.spacy").exists() and (out / "dev.spacy").exists()
    for row in ("documents", "tokens", "entities (T lines)", "nested", "flat (doc.ents)",
                "discontinuous", "misaligned (expanded)", "dropped", "relations (R lines)"):
        assert row in output
    assert "duplicate" in output  # a drop reason is shown with its count
    assert "No warnings." in output
    assert "Wrote" in output


def test_convert_flat_folder_warnings_summary(runner, tmp_path):
    result = run(runner, "convert", PROBLEMS, tmp_path, "--name", "test")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "test.spacy").exists()
    assert "Warnings" in result.output
    # Each kind once with its count and first example (file:line).
    assert "bom_in_text" in result.output and "malformed.ann:2" in result.output
    assert "offset_out_of_range" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["/nonexistent/nerel"], "input folder not found"),
        ([str(MISSING_ANN)], "lonely.txt: no annotation file lonely.ann"),
        ([str(PROBLEMS), "--strict"], "Strict mode:"),
    ],
)
def test_convert_fatal_errors_exit_non_zero(runner, tmp_path, args, message):
    result = run(runner, "convert", args[0], tmp_path / "out", *args[1:])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_convert_help(runner):
    result = run(runner, "convert", "--help")
    assert result.exit_code == 0
    for text in ("NEREL_DIR", "OUT_DIR", "--strict", "--name", "doc.spans"):
        assert text in result.output


def test_stats_tables(runner, corpus_dir):
    out, _ = corpus_dir
    result = run(runner, "stats", out / "train.spacy")
    assert result.exit_code == 0, result.output
    for title in ("Corpus", "Entity types", "Relation types", "Nesting depth", "Document length"):
        assert title in result.output
    assert "PROFESSION" in result.output and "PARTICIPANT_IN" in result.output


@pytest.mark.slow
def test_stats_plots(runner, corpus_dir, tmp_path):
    out, _ = corpus_dir
    result = run(runner, "stats", out / "dev.spacy", "--plots", tmp_path / "plots")
    assert result.exit_code == 0, result.output
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert pngs == [
        "dev_doc_length.png", "dev_entity_types.png", "dev_entity_types_flat.png",
        "dev_nesting_depth.png", "dev_relation_docs.png",
    ]
    assert all((tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG" for name in pngs)


def test_stats_plots_without_matplotlib(runner, corpus_dir, tmp_path, monkeypatch):
    out, _ = corpus_dir
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    result = run(runner, "stats", out / "dev.spacy", "--plots", tmp_path / "plots")
    assert result.exit_code == 1
    assert "matplotlib" in result.output and "plots" in result.output
    assert not (tmp_path / "plots").exists()


def test_stats_plots_into_a_file_is_refused(runner, corpus_dir, tmp_path):
    out, _ = corpus_dir
    (tmp_path / "afile").write_text("keep me")
    result = run(runner, "stats", out / "dev.spacy", "--plots", tmp_path / "afile")
    assert result.exit_code == 1 and "is a file; give a folder for the charts" in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no FileExistsError
    assert (tmp_path / "afile").read_text() == "keep me"
    pytest.importorskip("matplotlib")
    result = run(runner, "stats", out / "dev.spacy", "--plots", tmp_path / "afile" / "plots")
    assert result.exit_code == 1 and "cannot write the charts" in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_stats_missing_corpus(runner, tmp_path):
    result = run(runner, "stats", tmp_path / "nope.spacy")
    assert result.exit_code == 1
    assert "nerel-batch convert" in result.output


@pytest.mark.slow
def test_console_script_runs(tmp_path):
    """The installed entry point, as a user runs it (one subprocess, kept small)."""
    import subprocess

    beside_python = Path(sys.executable).parent / "nerel-batch"  # the venv's, activated or not
    exe = str(beside_python) if beside_python.is_file() else shutil.which("nerel-batch")
    if exe is None:
        pytest.skip("no nerel-batch beside this Python or on PATH (pip install -e . first)")
    proc = subprocess.run([exe, "convert", str(DEV), str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dev.spacy").exists()


def test_stats_tables_are_readable_at_80_columns():
    """Every NEREL type, with counts in the millions, fits whole: no header or label cut."""
    from collections import Counter

    from rich.console import Console

    from nerel_spacy.cli.stats import counts_table, entity_table, overview_table, relation_table
    from nerel_spacy.corpus import CorpusStats
    from nerel_spacy.schema import ENTITY_TYPES, RELATION_TYPES

    stats = CorpusStats(
        documents=1_234_567, tokens=987_654_321, doc_lengths=[115, 256, 10_632],
        entity_types_nested=Counter({label: 1_234_567 for label in ENTITY_TYPES}),
        entity_types_flat=Counter({label: 1_000_000 for label in ENTITY_TYPES}),
        nesting_depth=Counter({0: 9_000_000, 1: 900_000, 2: 9_000}), discontinuous=1_234, linked=123_456,
        relation_docs=Counter({label: 1_234_567 for label in RELATION_TYPES}),
        relation_triples=Counter({label: 12_345_678 for label in RELATION_TYPES}),
    )
    tables = [overview_table(stats), entity_table(stats), relation_table(stats),
              counts_table("Nesting depth (0 = outermost)", "depth", dict(stats.nesting_depth),
                           total=stats.entities_nested),
              counts_table("Document length (tokens)", "tokens", stats.length_histogram(), total=3)]
    console = Console(width=80, record=True)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    for words in (("type", "spans (nested)", "ents (flat)", "not in flat"), ("type", "documents", "% docs", "triples"),
                  ("depth", "count", "share"), ("tokens", "count", "share")):
        assert any(all(f" {word} " in line for word in words) for line in lines), words
    for label in ("entities (doc.spans, nested included)", "doc length min / median / mean / max",
                  "entities with a Wikidata id", *ENTITY_TYPES, *RELATION_TYPES, ">=1000"):
        assert f"│ {label} " in text, label


def test_relation_types_outside_the_schema_are_listed_with_their_triples():
    from collections import Counter

    from rich.console import Console

    from nerel_spacy.cli.stats import relation_table
    from nerel_spacy.corpus import CorpusStats

    stats = CorpusStats(documents=2, relation_docs=Counter({"WORKPLACE": 2}),
                        relation_triples=Counter({"WORKPLACE": 5, "BAR": 1}))
    console = Console(width=80, record=True)
    console.print(relation_table(stats))
    rows = {line.split("│")[1].strip(): line.split("│")[4].strip()
            for line in console.export_text().splitlines() if line.count("│") == 5}
    assert rows["WORKPLACE"] == "5" and rows["BAR"] == "1"  # every triple counted


def test_stats_given_a_folder_says_which_file_it_wants(runner, tmp_path):
    result = run(runner, "stats", tmp_path)
    assert result.exit_code == 1 and "a folder; give one of its .spacy files" in " ".join(result.output.split())
