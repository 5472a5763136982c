"""``nerel_spacy.annotate.paths``: the files a run writes, and the inputs it must not touch."""
from pathlib import Path

import pytest

from nerel_spacy.annotate.paths import STDOUT_ERRORS, default_output_path, run_paths
from nerel_spacy.formats.base import OutputError


def test_default_output_is_named_after_the_first_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    assert default_output_path(["./docs", "x.txt"]) == Path("docs.jsonl")
    assert default_output_path(["docs/"]) == Path("docs.jsonl")
    assert default_output_path(["docs"], "brat") == Path("docs-brat")
    assert default_output_path(["more/news.txt"]) == Path("news.jsonl")
    assert default_output_path(["-"]) == Path("stdin.jsonl")
    assert default_output_path(["."]) == Path(f"{tmp_path.name}.jsonl")
    (tmp_path / "texts.jsonl").write_text("Москва\n", encoding="utf-8")  # an input named as the default
    assert default_output_path(["texts.jsonl"]) == Path("texts-annotated.jsonl")


def test_a_runs_files_for_jsonl_a_folder_and_stdout(tmp_path):
    out = tmp_path / "out.jsonl"
    paths = run_paths(["docs"], out, None, "jsonl")
    assert paths.own_files == (out, tmp_path / "out.errors.jsonl", tmp_path / "out.run.json")
    assert not paths.lazy_errors
    folder = run_paths(["docs"], tmp_path / "brat", None, "brat")
    assert folder.errors == tmp_path / "brat" / "annotate-errors.jsonl" and folder.lazy_errors
    assert folder.manifest == tmp_path / "brat" / "annotate-run.json"
    stdout = run_paths(["-"], None, None, "jsonl")
    assert stdout.own_files == (STDOUT_ERRORS,) and stdout.lazy_errors and stdout.manifest is None
    assert not run_paths(["-"], None, tmp_path / "e.jsonl", "jsonl").lazy_errors  # --errors given: always written


@pytest.mark.parametrize("make_inputs, output, errors, fmt", [
    (lambda root: [str(root / "out.jsonl")], "out.jsonl", None, "jsonl"),  # -o names an input
    (lambda root: ["docs", str(root / "out.errors.jsonl")], "out.jsonl", None, "jsonl"),  # the errors file
    (lambda root: [str(root / "out.run.json")], "out.jsonl", None, "jsonl"),  # the manifest
    (lambda root: [str(root / "a.txt")], None, "a.txt", "jsonl"),  # --errors names an input
    (lambda root: [str(root / "out" / "sub")], "out", None, "brat"),  # an input inside the output folder
    (lambda root: [str(root / "out")], "out", None, "spacy"),  # the output folder itself
])
def test_an_input_the_run_would_write_is_refused(tmp_path, make_inputs, output, errors, fmt):
    with pytest.raises(OutputError, match="would be written by this run"):
        run_paths(make_inputs(tmp_path), output and tmp_path / output, errors and tmp_path / errors, fmt)


def test_the_errors_file_cannot_be_the_output(tmp_path):
    with pytest.raises(OutputError, match="the errors file can't be the output file"):
        run_paths(["docs"], tmp_path / "out.jsonl", tmp_path / "out.jsonl", "jsonl")
