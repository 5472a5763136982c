"""``nerel-batch annotate``: input discovery, bad inputs, resume, stdin/stdout, long texts.

Runs a tiny rule-based pipeline (``annotate_helpers``) saved to a temporary folder, so the
tests are offline and fast; every output line is checked against the JSONL schema.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.language import Language
from typer.testing import CliRunner

import annotate_helpers
from conftest import unwrapped
from nerel_spacy import annotate as lib
from nerel_spacy.annotate import output as annotate_output
from nerel_spacy.annotate import sources as annotate_sources_module
from nerel_spacy.cli import app
from nerel_spacy.cli import annotate as cli_annotate

REPO_ROOT = Path(__file__).resolve().parents[1]
HELPERS = Path(annotate_helpers.__file__).resolve()

TEXT_A = "Иван Петров работает в Москве.\n"
TEXT_B = "Банк России находится в Москве. Москва большая."
TEXT_C = "Здесь нет сущностей."


# ---------------------------------------------------------------------------
# The JSONL schema


SPAN_KEYS = {"start", "end", "label", "text"}
RECORD_KEYS = {"id", "n_chars", "ents", "cats", "model"}
OPTIONAL_KEYS = {"spans", "parts", "encoding"}


def check_span(span: Dict[str, Any], n_chars: int) -> None:
    assert SPAN_KEYS <= set(span) <= SPAN_KEYS | {"kb_id", "score"}, span
    assert isinstance(span["start"], int) and isinstance(span["end"], int)
    assert 0 <= span["start"] < span["end"] <= n_chars
    assert isinstance(span["label"], str) and span["label"]
    assert isinstance(span["text"], str) and len(span["text"]) == span["end"] - span["start"]
    if "kb_id" in span:
        assert isinstance(span["kb_id"], str) and span["kb_id"]
    if "score" in span:
        assert isinstance(span["score"], float) and 0.0 <= span["score"] <= 1.0


def check_record(record: Dict[str, Any]) -> None:
    """One output line against the documented schema."""
    assert RECORD_KEYS <= set(record) <= RECORD_KEYS | OPTIONAL_KEYS, sorted(record)
    assert isinstance(record["id"], str) and record["id"]
    assert isinstance(record["n_chars"], int) and record["n_chars"] > 0
    assert isinstance(record["ents"], list)
    for ent in record["ents"]:
        check_span(ent, record["n_chars"])
    ends = [(ent["start"], ent["end"]) for ent in record["ents"]]
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:])), "ents must be flat and in order"
    if "spans" in record:
        assert isinstance(record["spans"], list)
        for span in record["spans"]:
            check_span(span, record["n_chars"])
    assert isinstance(record["cats"], dict)
    for label, score in record["cats"].items():
        assert isinstance(label, str) and isinstance(score, float) and 0.0 <= score <= 1.0
    assert set(record["model"]) == {"name", "version"}
    assert all(isinstance(value, str) for value in record["model"].values())
    if "parts" in record:
        parts = record["parts"]
        assert len(parts) >= 2 and parts[0]["start"] == 0 and parts[-1]["end"] == record["n_chars"]
        assert all(set(part) == {"start", "end"} for part in parts)
        assert all(a["end"] == b["start"] for a, b in zip(parts, parts[1:]))
    if "encoding" in record:
        assert isinstance(record["encoding"], str)


def parse_jsonl(text: str) -> List[Dict[str, Any]]:
    assert text == "" or text.endswith("\n"), "output must end on a line boundary"
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        check_record(record)
    return records


def read_output(path: Path) -> List[Dict[str, Any]]:
    return parse_jsonl(path.read_text(encoding="utf-8"))


def read_errors(path: Path) -> Dict[str, str]:
    """id -> reason of an errors JSONL."""
    errors = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert {"id", "reason", "message"} <= set(record)
        errors[record["id"]] = record["reason"]
    return errors


# ---------------------------------------------------------------------------
# Fixtures and runners


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return annotate_helpers.build_pipeline(tmp_path_factory.mktemp("pipelines") / "tiny")


@pytest.fixture
def docs(tmp_path) -> Path:
    """a.txt, sub/b.txt, sub/deeper/c.txt, plus notes.md and sub/x.md that *.txt leaves out."""
    root = tmp_path / "docs"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (root / "sub" / "b.txt").write_text(TEXT_B, encoding="utf-8")
    (root / "sub" / "deeper" / "c.txt").write_text(TEXT_C, encoding="utf-8")
    (root / "notes.md").write_text("Москва", encoding="utf-8")
    (root / "sub" / "x.md").write_text("Банк России", encoding="utf-8")
    return root


def run_cli(*args: Any, input: Any = None):
    result = CliRunner().invoke(app, ["annotate", *map(str, args)], input=input, catch_exceptions=False)
    return result


def run_process(
    *args: Any, input: bytes = b"", cwd: Path = REPO_ROOT, interrupt: bool = False
) -> subprocess.CompletedProcess:
    """``nerel-batch annotate`` in a child process; ``interrupt``: a pipeline built with an
    ``interrupt_marker`` sends it a Ctrl-C at the marked text."""
    command = [sys.executable, "-m", "nerel_spacy", "annotate", *map(str, args), "--code", str(HELPERS)]
    env = dict(os.environ, **({annotate_helpers.INTERRUPT_ENV: "1"} if interrupt else {}))
    # A user's Ctrl-C reaches a process whose SIGINT is not ignored; reset it in the child,
    # since a suite started as a background job of a non-interactive shell ignores it.
    return subprocess.run(
        command, input=input, capture_output=True, cwd=cwd, timeout=120, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


# ---------------------------------------------------------------------------
# Input discovery and the records


@pytest.mark.slow
def test_folder_recursion_glob_and_schema(model_dir, docs, tmp_path, monkeypatch):
    # Force a terminal so the progress bar and its cheap pre-count run too.
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = tmp_path / "out.jsonl"
    result = run_cli(docs, "-m", model_dir, "-o", out)
    assert result.exit_code == 0, result.stderr
    records = {record["id"]: record for record in read_output(out)}
    assert list(records) == ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
    a = records["a.txt"]
    assert a["n_chars"] == len(TEXT_A)
    assert a["ents"] == [
        {"start": 0, "end": 11, "label": "PERSON", "text": "Иван Петров"},
        {"start": 23, "end": 29, "label": "CITY", "text": "Москве"},
    ]
    assert {"start": 23, "end": 29, "label": "CITY", "text": "Москве", "kb_id": "Q649"} in a["spans"]
    # The component's cats_thresholds: WORKS_AS 0.9 >= 0.5, LOCATED_IN 0.7 < 0.8, POINT_IN_TIME 0.45 >= 0.4.
    assert a["cats"] == {"WORKS_AS": 0.9, "POINT_IN_TIME": 0.45}
    assert a["model"] == {"name": "ru_annotate_test", "version": "0.0.1"}
    b = records["sub/b.txt"]
    assert [e["label"] for e in b["ents"]] == ["ORGANIZATION", "CITY", "CITY"]
    nested = {(s["label"], s["text"]) for s in b["spans"]}
    assert {("ORGANIZATION", "Банк России"), ("COUNTRY", "России")} <= nested
    assert records["sub/deeper/c.txt"]["ents"] == []
    assert "docs annotated" in result.stderr and result.stdout == ""

    md_out = tmp_path / "md.jsonl"
    assert run_cli(docs, "--glob", "**/*.md", "-m", model_dir, "-o", md_out).exit_code == 0
    assert [r["id"] for r in read_output(md_out)] == ["notes.md", "sub/x.md"]
    deep_out = tmp_path / "deep.jsonl"
    assert run_cli(docs, "--glob", "deeper/*.txt", "-m", model_dir, "-o", deep_out).exit_code == 0
    assert [r["id"] for r in read_output(deep_out)] == ["sub/deeper/c.txt"]


def test_single_files_are_named_by_file_name(model_dir, docs, tmp_path):
    out = tmp_path / "out.jsonl"
    result = run_cli(docs / "sub" / "b.txt", docs / "notes.md", "-m", model_dir, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in read_output(out)] == ["b.txt", "notes.md"]


def test_thresholds_override_and_all_cats(model_dir, docs, tmp_path):
    out = tmp_path / "t.jsonl"
    assert run_cli(docs / "a.txt", "-m", model_dir, "-o", out, "--threshold", "0.5").exit_code == 0
    assert read_output(out)[0]["cats"] == {"WORKS_AS": 0.9, "LOCATED_IN": 0.7}
    assert run_cli(docs / "a.txt", "-m", model_dir, "-o", out, "--overwrite", "--all-cats").exit_code == 0
    assert read_output(out)[0]["cats"] == {"WORKS_AS": 0.9, "LOCATED_IN": 0.7, "POINT_IN_TIME": 0.45}


def test_set_changes_a_component_setting_for_the_run_only(model_dir, docs, tmp_path):
    out = tmp_path / "s.jsonl"
    assert run_cli(docs / "a.txt", "-m", model_dir, "-o", out).exit_code == 0
    assert read_output(out)[0]["cats"] == {"WORKS_AS": 0.9, "POINT_IN_TIME": 0.45}
    result = run_cli(docs / "a.txt", "-m", model_dir, "-o", out, "--overwrite",
                     "--set", "annotate_test_cats.cats_thresholds.WORKS_AS=0.95",
                     "--set", "annotate_test_cats.cats_thresholds.LOCATED_IN=0.6")
    assert result.exit_code == 0
    assert read_output(out)[0]["cats"] == {"LOCATED_IN": 0.7, "POINT_IN_TIME": 0.45}
    assert "; --set annotate_test_cats.cats_thresholds.WORKS_AS=0.95 annotate_test_cats" in unwrapped(result.output)
    assert "WORKS_AS = 0.5" in (model_dir / "config.cfg").read_text()  # the saved pipeline is as it was


@pytest.mark.parametrize("setting, message", [
    ("annotate_test_cats.cats_threshold.WORKS_AS=0.9", "annotate_test_cats has no 'cats_threshold'; its settings:"),
    ("ner.threshold=0.9", "the pipeline has no 'ner'; its components: annotate_test_cats, entity_ruler, span_ruler"),
    ("threshold=0.9", "write COMPONENT.SETTING=VALUE"),
])
def test_a_bad_set_is_a_usage_error_that_names_it(model_dir, docs, tmp_path, setting, message):
    result = run_cli(docs / "a.txt", "-m", model_dir, "-o", tmp_path / "x.jsonl", "--set", setting)
    assert result.exit_code == 2
    assert "--set" in result.output and message in unwrapped(result.output)
    assert not (tmp_path / "x.jsonl").exists()


def test_resolve_thresholds_order():
    nlp = spacy.blank("ru")
    assert lib.resolve_thresholds(nlp) == lib.Thresholds(0.5, {})
    textcat = nlp.add_pipe("textcat_multilabel", config={"threshold": 0.3})
    textcat.add_label("WORKS_AS")
    assert lib.resolve_thresholds(nlp).default == 0.3
    nlp.add_pipe("annotate_test_cats")
    thresholds = lib.resolve_thresholds(nlp)
    assert thresholds("LOCATED_IN") == 0.8 and thresholds("OTHER") == 0.3
    assert lib.resolve_thresholds(nlp, 0.9)("LOCATED_IN") == 0.9


def test_thresholds_are_read_from_the_joint_component():
    nlp = spacy.blank("ru")
    joint = nlp.add_pipe("nerel_joint", config={"threshold": 0.3})
    joint.cfg["cats_labels"] = ["WORKS_AS", "LOCATED_IN"]  # as initialize() sets them
    joint.set_thresholds({"WORKS_AS": 0.7})
    thresholds = lib.resolve_thresholds(nlp)
    assert thresholds.per_label == joint.cats_thresholds == {"WORKS_AS": 0.7, "LOCATED_IN": 0.3}
    assert lib.resolve_thresholds(nlp, 0.9) == lib.Thresholds(0.9, {})


def test_any_pipeline_without_cats_or_spans(docs, tmp_path):
    model = annotate_helpers.build_pipeline(tmp_path / "plain", cats=False, spans=False)
    out = tmp_path / "out.jsonl"
    assert run_cli(docs / "a.txt", "-m", model, "-o", out).exit_code == 0
    (record,) = read_output(out)
    assert "spans" not in record and record["cats"] == {} and len(record["ents"]) == 2


def test_several_processes_keep_ids_and_order(model_dir, tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(12):
        (root / f"{i:02d}.txt").write_text(f"Документ {i}: Москва." if i % 2 else TEXT_C, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli(root, "-m", model_dir, "-o", out, "--n-process", "2", "--batch-size", "3")
    assert result.exit_code == 0, result.stderr
    records = read_output(out)
    assert [r["id"] for r in records] == [f"{i:02d}.txt" for i in range(12)]
    assert [len(r["ents"]) for r in records] == [i % 2 for i in range(12)]


# ---------------------------------------------------------------------------
# Bad inputs


def test_bad_inputs_are_recorded_and_the_run_goes_on(model_dir, docs, tmp_path, monkeypatch):
    bad = docs / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary")
    (bad / "cp1251.txt").write_bytes("Москва".encode("cp1251"))
    (bad / "empty.txt").write_bytes(b"")
    (bad / "blank.txt").write_text(" \n\t\n", encoding="utf-8")
    (bad / "long.txt").write_text("Москва. " * 100, encoding="utf-8")
    (bad / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    (bad / "loop.txt").symlink_to(bad / "loop.txt")
    os.mkfifo(bad / "fifo.txt")  # would block a naive reader
    locked = bad / "locked.txt"
    locked.write_text("Москва", encoding="utf-8")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: make open() fail as EACCES would
        real_open = open

        def denying_open(file, *args, **kwargs):
            if Path(file) == locked:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(annotate_sources_module, "open", denying_open, raising=False)
    out = tmp_path / "out.jsonl"
    missing = tmp_path / "missing.txt"
    result = run_cli(docs, missing, "-m", model_dir, "-o", out, "--max-chars", "500", "--long-texts", "skip")
    assert result.exit_code == 1, result.stderr
    assert [r["id"] for r in read_output(out)] == ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
    errors = read_errors(tmp_path / "out.errors.jsonl")
    assert errors == {
        "bad/binary.txt": "binary",
        "bad/blank.txt": "empty",
        "bad/broken.txt": "broken-symlink",
        "bad/cp1251.txt": "not-utf8",
        "bad/empty.txt": "empty",
        "bad/fifo.txt": "unreadable",
        "bad/locked.txt": "unreadable",
        "bad/long.txt": "too-long",
        "bad/loop.txt": "broken-symlink",
        str(missing): "missing",
    }
    stderr = " ".join(result.stderr.split())
    for reason, count in [("empty", 2), ("broken-symlink", 2), ("unreadable", 2), ("missing", 1)]:
        assert f"failed: {reason} │ {count}" in stderr
    assert "try --encoding cp1251" in (tmp_path / "out.errors.jsonl").read_text(encoding="utf-8")


@pytest.mark.slow
def test_encoding_fallback(model_dir, tmp_path):
    (tmp_path / "win.txt").write_bytes("Иван Петров из Москвы, Москва.".encode("cp1251"))
    (tmp_path / "bom.txt").write_bytes("\ufeffМосква".encode("utf-8"))
    (tmp_path / "utf16.txt").write_bytes("\ufeffИван Петров из Москвы, Москва.".encode("utf-16-le"))
    out = tmp_path / "out.jsonl"
    result = run_cli(tmp_path / "win.txt", tmp_path / "bom.txt", tmp_path / "utf16.txt", "-m", model_dir,
                     "-o", out, "--encoding", "cp1251")
    assert result.exit_code == 0, result.stderr
    win, bom, utf16 = read_output(out)
    assert win["encoding"] == "cp1251" and [e["text"] for e in win["ents"]] == ["Иван Петров", "Москва"]
    assert "encoding" not in bom and bom["ents"][0]["start"] == 0  # the BOM is not a character
    assert utf16["encoding"] == "utf-16-le" and utf16["ents"] == win["ents"]
    assert "decoded from another encoding" in result.stderr

    out2 = tmp_path / "ascii.jsonl"
    result = run_cli(tmp_path / "win.txt", "-m", model_dir, "-o", out2, "--encoding", "ascii")
    assert result.exit_code == 1
    message = json.loads((tmp_path / "ascii.errors.jsonl").read_text(encoding="utf-8"))["message"]
    assert "neither UTF-8" in message and "ascii" in message


def test_symlinked_folders_are_followed_each_folder_once(tmp_path):
    shared = tmp_path / "shared"
    (shared / "inner").mkdir(parents=True)
    (shared / "inner" / "x.txt").write_text("Москва", encoding="utf-8")
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Москва", encoding="utf-8")
    (root / "linked").symlink_to(shared)  # followed
    (root / "linked_again").symlink_to(shared)  # the same folder: not read twice
    (shared / "up").symlink_to(root)  # a loop back up: not entered
    (root / "real").mkdir()
    (root / "real" / "y.txt").write_text("Москва", encoding="utf-8")
    (root / "a_link_to_real").symlink_to(root / "real")  # sorts first, but the folder keeps its ids
    found = [source.id for source in lib.iter_sources([str(root)])]
    assert found == ["a.txt", "linked/inner/x.txt", "real/y.txt"]


def test_duplicate_ids_from_two_folders(model_dir, tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.txt").write_text("Москва", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli(tmp_path / "one", tmp_path / "two", "-m", model_dir, "-o", out)
    assert result.exit_code == 1
    assert [r["id"] for r in read_output(out)] == ["same.txt"]
    assert read_errors(tmp_path / "out.errors.jsonl") == {"same.txt": "duplicate-id"}
    # --resume skips the done one and still reports the second: it is not done, only named alike
    result = run_cli(tmp_path / "one", tmp_path / "two", "-m", model_dir, "-o", out, "--resume")
    assert result.exit_code == 1
    assert [r["id"] for r in read_output(out)] == ["same.txt"]
    assert read_errors(tmp_path / "out.errors.jsonl") == {"same.txt": "duplicate-id"}


# ---------------------------------------------------------------------------
# Exit status and output safety


def test_usage_errors_exit_2(model_dir, docs, tmp_path):
    out = tmp_path / "out.jsonl"
    result = run_cli(docs, "-m", tmp_path / "no-such-model", "-o", out)
    assert result.exit_code == 2 and "can't load pipeline" in result.stderr
    assert not out.exists(), "a failed model load must not touch the output"
    for args, message in [
        (("--batch-size", "0"), "--batch-size"),
        (("--long-texts", "drop"), "'drop' is not one of"),
        (("--encoding", "no-such-codec"), "unknown encoding 'no-such-codec'"),
        (("--max-chars", "1000", "--max-batch-chars", "500"), "raise --max-batch-chars"),
        (("--errors", out), "the errors file can't be the output file"),
    ]:
        result = run_cli(docs, "-m", model_dir, "-o", out, *args)
        assert result.exit_code == 2 and message in unwrapped(result.stderr), (args, result.stderr)
    result = run_cli("-", "-", "-m", model_dir, "-o", "-")
    assert result.exit_code == 2 and "'-' (stdin) can be given once" in unwrapped(result.stderr)
    result = run_cli("-", "-m", model_dir, "-o", "-", "--resume")
    assert result.exit_code == 2 and "--resume needs an output file" in unwrapped(result.stderr)
    assert not out.exists()


@Language.factory("annotate_test_buggy", default_config={"fail": False})
def make_buggy(nlp: Language, name: str, fail: bool):
    """A custom component with a bug that shows only when it is loaded with fail = true."""
    if fail:
        return 1 / 0
    return lambda doc: doc


def test_model_load_problems_are_usage_errors_but_bugs_raise(tmp_path):
    nlp = spacy.blank("ru")
    nlp.add_pipe("annotate_test_buggy")
    nlp.to_disk(tmp_path / "buggy")
    config = tmp_path / "buggy" / "config.cfg"
    config.write_text(config.read_text().replace("fail = false", "fail = true"))
    with pytest.raises(ZeroDivisionError):
        lib.load_pipeline(str(tmp_path / "buggy"))
    config.write_text(config.read_text().replace("annotate_test_buggy", "annotate_unregistered"))
    with pytest.raises(lib.ModelError, match="--code FILE"):
        lib.load_pipeline(str(tmp_path / "buggy"))
    config.write_text(config.read_text().replace("[nlp]", "[nlp"))
    with pytest.raises(lib.ModelError, match="Config validation error"):
        lib.load_pipeline(str(tmp_path / "buggy"))
    with pytest.raises(lib.ModelError, match="E050"):
        lib.load_pipeline("ru_no_such_package")


@pytest.mark.slow
def test_existing_output_needs_resume_or_overwrite(model_dir, docs, tmp_path):
    out = tmp_path / "out.jsonl"
    assert run_cli(docs, "-m", model_dir, "-o", out).exit_code == 0
    before = out.read_bytes()
    result = run_cli(docs, "-m", model_dir, "-o", out)
    assert result.exit_code == 2 and "--resume" in result.stderr and "--overwrite" in result.stderr
    assert out.read_bytes() == before
    both = run_cli(docs, "-m", model_dir, "-o", out, "--resume", "--overwrite")
    assert both.exit_code == 2 and "contradict each other" in unwrapped(both.stderr)
    assert out.read_bytes() == before
    assert run_cli(docs, "-m", model_dir, "-o", out, "--overwrite").exit_code == 0
    assert len(read_output(out)) == 3
    result = run_cli(docs, "-m", model_dir, "-o", out, "--resume")
    assert result.exit_code == 0 and len(read_output(out)) == 3
    assert "skipped (already in output" in result.stderr


def test_resume_after_a_crash_mid_line(model_dir, tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(7):
        (root / f"{i}.txt").write_text(f"Иван Петров {i} работает в Москве.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert run_cli(root, "-m", model_dir, "-o", out).exit_code == 0
    lines = out.read_bytes().splitlines(keepends=True)
    # A crash after three whole records, half way through writing the fourth.
    out.write_bytes(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    result = run_cli(root, "-m", model_dir, "-o", out, "--resume", "--batch-size", "2")
    assert result.exit_code == 0, result.stderr
    ids = [r["id"] for r in read_output(out)]
    assert sorted(ids) == [f"{i}.txt" for i in range(7)]
    assert ids[:3] == ["0.txt", "1.txt", "2.txt"]


def test_resume_keeps_to_the_model_and_options_the_output_was_begun_with(model_dir, docs, tmp_path):
    out = tmp_path / "out.jsonl"
    setting = "annotate_test_cats.cats_thresholds.WORKS_AS=0.95"
    assert run_cli(docs, "-m", model_dir, "-o", out, "--set", setting).exit_code == 0
    manifest = json.loads((tmp_path / "out.run.json").read_text(encoding="utf-8"))
    assert manifest["model"] == str(model_dir.resolve()) and manifest["name"] == "ru_annotate_test"
    assert manifest["settings"] == {"annotate_test_cats.cats_thresholds.WORKS_AS": 0.95}
    out.write_bytes(out.read_bytes().splitlines(keepends=True)[0])  # stopped after one record
    before = out.read_bytes()
    other = annotate_helpers.build_pipeline(tmp_path / "other")
    for changed, difference in [
        ((), "the settings (--set): annotate_test_cats.cats_thresholds.WORKS_AS=0.95 then, none now"),
        (("--set", setting, "--threshold", "0.2"), "--threshold: none then, 0.2 now"),
        (("--set", setting, "--long-texts", "skip"), "--long-texts: 'split' then, 'skip' now"),
        (("--set", setting, "-m", other), f"the pipeline (-m): {str(model_dir.resolve())!r} then"),
    ]:
        refused = run_cli(docs, "-m", model_dir, "-o", out, "--resume", *changed)
        message = unwrapped(refused.stderr)
        assert refused.exit_code == 2 and "'--resume'" in message and difference in message, message
        assert "--overwrite" in message and out.read_bytes() == before
    # Batching, threads and the engine don't change the records: the run goes on.
    resumed = run_cli(docs, "-m", model_dir, "-o", out, "--resume", "--set", setting, "--batch-size", "1")
    assert resumed.exit_code == 0, resumed.stderr
    records = read_output(out)
    assert len(records) == 3 and all("WORKS_AS" not in r["cats"] for r in records)
    assert json.loads((tmp_path / "out.run.json").read_text(encoding="utf-8")) == manifest
    # --overwrite starts again, with the manifest of the new run.
    assert run_cli(docs, "-m", model_dir, "-o", out, "--overwrite").exit_code == 0
    assert json.loads((tmp_path / "out.run.json").read_text(encoding="utf-8"))["settings"] == {}


def test_resume_refuses_a_pipeline_rebuilt_in_the_same_folder(docs, tmp_path):
    model = annotate_helpers.build_pipeline(tmp_path / "model-int8")
    out = tmp_path / "out.jsonl"
    assert run_cli(docs, "-m", model, "-o", out).exit_code == 0
    out.write_bytes(out.read_bytes().splitlines(keepends=True)[0])  # stopped after one record
    before = out.read_bytes()
    annotate_helpers.build_pipeline(tmp_path / "model-int8")  # a later quantize writes the same path
    refused = run_cli(docs, "-m", model, "-o", out, "--resume")
    message = unwrapped(refused.stderr)
    assert refused.exit_code == 2 and "the pipeline's files: changed since" in message, message
    assert out.read_bytes() == before
    (tmp_path / "out.run.json").unlink()  # the way on the message gives, for a copy of the same pipeline
    resumed = run_cli(docs, "-m", model, "-o", out, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert len(read_output(out)) == 3 and (tmp_path / "out.run.json").is_file()


def test_records_to_stdout_leave_no_manifest(model_dir, docs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(docs / "a.txt", "-m", model_dir, "-o", "-").exit_code == 0
    assert not list(tmp_path.glob("*.run.json"))


def test_read_done_ids_rejects_a_corrupt_middle_line(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(lib.OutputError, match="line 2"):
        lib.read_done_ids(out)


@pytest.fixture
def python_sigint_handler():
    """Python's own Ctrl-C handler, even when the suite was started with SIGINT ignored
    (a background job of a non-interactive shell is)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_waits_for_the_line_being_written(python_sigint_handler):
    written = []
    with pytest.raises(KeyboardInterrupt):
        with annotate_output._sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            written.append("the rest of the line")
    assert written == ["the rest of the line"]


def test_ignored_ctrl_c_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with annotate_output._sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_ctrl_c_leaves_valid_jsonl_and_resume_finishes(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(8):
        marker = " СТОП" if i == 5 else ""
        (root / f"{i}.txt").write_text(f"Москва {i}.{marker}", encoding="utf-8")
    stopping = annotate_helpers.build_pipeline(tmp_path / "stopping", interrupt_marker="СТОП")
    out = tmp_path / "out.jsonl"
    interrupted = run_process(root, "-m", stopping, "-o", out, "--batch-size", "2", interrupt=True)
    assert interrupted.returncode == 130, interrupted.stderr.decode()
    assert "--resume" in interrupted.stderr.decode()
    done = read_output(out)
    assert [r["id"] for r in done] == [f"{i}.txt" for i in range(len(done))] and len(done) < 8
    resumed = run_cli(root, "-m", stopping, "-o", out, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert sorted(r["id"] for r in read_output(out)) == [f"{i}.txt" for i in range(8)]


# ---------------------------------------------------------------------------
# stdin and stdout


@pytest.mark.slow
def test_stdin_jsonl_and_plain_lines_to_stdout(model_dir, tmp_path):
    lines = [
        "Иван Петров работает в Москве.",
        json.dumps({"id": "doc-7", "text": "Банк России"}, ensure_ascii=False),
        "",
        json.dumps({"text": "Москва"}, ensure_ascii=False),
        '{"title": "no text field"}',
        '{"id": "cut", "text": "Москва и Санкт-Пе',  # a truncated JSONL line: an error, not a text
    ]
    result = run_process("-", "-m", model_dir, "-o", "-", input="\n".join(lines).encode("utf-8") + b"\n",
                         cwd=tmp_path)
    assert result.returncode == 1, result.stderr.decode()
    records = parse_jsonl(result.stdout.decode("utf-8"))
    assert [r["id"] for r in records] == ["stdin:1", "doc-7", "stdin:4"]
    assert records[0]["ents"][1]["text"] == "Москве" and records[1]["ents"][0]["text"] == "Банк России"
    stderr = result.stderr.decode("utf-8")
    assert "failed: bad-jsonl" in stderr and "docs annotated" in stderr
    # Records went to stdout, so the failures went to the documented file in the cwd.
    assert read_errors(tmp_path / "annotate-errors.jsonl") == {"stdin:5": "bad-jsonl", "stdin:6": "bad-jsonl"}


def test_stdin_in_process_with_errors_file(model_dir, tmp_path):
    errors = tmp_path / "errors.jsonl"
    result = run_cli("-", "-m", model_dir, "-o", "-", "--errors", errors, "--quiet",
                     input="Москва\n\n   \n{\"id\": 1, \"text\": \"\"}\n")
    assert result.exit_code == 1 and result.stderr == ""
    assert [r["id"] for r in parse_jsonl(result.stdout)] == ["stdin:1"]
    assert read_errors(errors) == {"1": "empty"}


# ---------------------------------------------------------------------------
# Long texts


def test_long_text_is_split_and_merged_with_original_offsets(model_dir, tmp_path):
    paragraphs = []
    for i in range(30):
        paragraphs.append(f"Абзац {i}. Иван Петров работает в Москве.\r\nБанк России тоже в Москве! Конец {i}.")
    text = "\r\n\r\n".join(paragraphs)
    path = tmp_path / "long.txt"
    path.write_bytes(text.encode("utf-8"))
    out = tmp_path / "out.jsonl"
    result = run_cli(path, "-m", model_dir, "-o", out, "--max-chars", "300")
    assert result.exit_code == 0, result.stderr
    (record,) = read_output(out)
    with open(path, encoding="utf-8", newline="") as file:  # offsets keep \r\n, as documented
        original = file.read()
    assert record["n_chars"] == len(original)
    assert len(record["parts"]) > 1
    assert all(part["end"] - part["start"] <= 300 for part in record["parts"])
    for span in record["ents"] + record["spans"]:
        assert original[span["start"] : span["end"]] == span["text"]
    assert sum(e["label"] == "PERSON" for e in record["ents"]) == 30
    assert sum(e["label"] == "CITY" for e in record["ents"]) == 60
    assert record["cats"] == {"WORKS_AS": 0.9, "POINT_IN_TIME": 0.45}
    assert "long texts split" in result.stderr


def test_split_text_prefers_paragraphs_then_sentences():
    text = "Первое предложение. Второе.\n\nНовый абзац здесь и дальше"
    assert lib.split_text(text, 40) == [(0, 29), (29, len(text))]
    assert lib.split_text("Раз. Два. Три четыре пять", 12) == [(0, 10), (10, 21), (21, 25)]
    assert lib.split_text("x" * 25, 10) == [(0, 10), (10, 20), (20, 25)]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="аб .!\n", max_size=300), st.integers(min_value=1, max_value=50))
def test_split_text_covers_the_text_in_bounded_parts(text, max_chars):
    ranges = lib.split_text(text, max_chars)
    assert "".join(text[start:end] for start, end in ranges) == text
    assert ranges[0][0] == 0 and ranges[-1][1] == len(text)
    assert all(0 < end - start <= max_chars for start, end in ranges) or text == ""


# ---------------------------------------------------------------------------
# Bounded memory: batches by characters


def test_long_inputs_stream_in_bounded_batches_one_record_each(model_dir, tmp_path):
    unit = "Иван Петров работает в Москве. Банк России тоже.\n\n"
    texts = {"a.txt": unit * 40, "b.txt": TEXT_C, "c.txt": unit * 7, "d.txt": TEXT_A, "e.txt": unit * 25}
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in texts.items():
        (root / name).write_bytes(text.encode("utf-8"))
    (root / "f.txt").write_bytes(b"\x00binary")
    options = lib.AnnotateOptions(max_chars=300, max_batch_chars=700)
    progress: List[int] = []
    annotate_helpers.BATCH_CHARS.clear()
    events = list(lib.annotate_sources(spacy.load(model_dir), lib.iter_sources([str(root)]), options,
                                       on_progress=progress.append))
    assert [(e.id, e.reason) for e in events if isinstance(e, lib.InputError)] == [("f.txt", "binary")]
    records = [event.record for event in events if isinstance(event, lib.Annotated)]
    assert [record["id"] for record in records] == sorted(texts)
    for record in records:
        check_record(record)
        text = texts[record["id"]]
        assert record["n_chars"] == len(text) and ("parts" in record) == (len(text) > 300)
        for span in record["ents"] + record["spans"]:
            assert text[span["start"] : span["end"]] == span["text"]
        assert sum(ent["label"] == "PERSON" for ent in record["ents"]) == text.count("Иван Петров")
    # Every part went through the model once, in batches within the budget.
    n_chars = sum(map(len, texts.values()))
    assert sum(annotate_helpers.BATCH_CHARS) == n_chars
    assert max(annotate_helpers.BATCH_CHARS) <= 700 and len(annotate_helpers.BATCH_CHARS) > n_chars // 700
    # Progress moves once per part, so within a long text, not once per text ...
    assert len(progress) == sum(len(record.get("parts", [None])) for record in records) + 1
    assert len(progress) > len(texts) + 1
    # ... and accounts for every input byte, the failed file's included.
    assert sum(progress) == lib.measure_sources([str(root)]) [1] == (root / "f.txt").stat().st_size + len(
        "".join(texts.values()).encode("utf-8"))


def test_batch_budget_options():
    assert lib.AnnotateOptions().batch_chars == lib.DEFAULT_MAX_BATCH_CHARS == lib.DEFAULT_MAX_CHARS == 25_000
    assert lib.AnnotateOptions(max_chars=250_000).batch_chars == 250_000
    with pytest.raises(ValueError, match="--max-batch-chars 500 is below --max-chars 1000"):
        lib.AnnotateOptions(max_chars=1000, max_batch_chars=500)


def _annotation_peak_bytes(nlp, path: Path, options) -> int:
    """Peak traced memory of annotating ``path`` beyond that of reading it (bytes and text)."""
    source = lib.Source(id=path.name, path=path)
    tracemalloc.start()
    try:
        lib.load_text(source)
        _, reading = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        (event,) = lib.annotate_sources(nlp, [source], options)
        _, annotating = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(event, lib.Annotated)
    return annotating - reading


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_input_length(model_dir, tmp_path):
    """A 10x and a 100x budget-long text need about the same memory: one batch, not all parts.

    annotate_test_cats holds a whole batch, as a model does; without the character budget
    (batches of up to 1000 parts) the 100x text's peak is over 20 times the 10x one's.
    """
    budget = 1_000
    options = lib.AnnotateOptions(max_chars=budget, max_batch_chars=budget, batch_size=1000)
    nlp = spacy.load(model_dir)
    sentence = "Here no entities, only words and words again. "
    paths = {}
    for times in (10, 100):
        paths[times] = tmp_path / f"x{times}.txt"
        paths[times].write_text(sentence * (budget * times // len(sentence)), encoding="utf-8")
    _annotation_peak_bytes(nlp, paths[10], options)  # warm up: lexemes and caches
    peaks = {times: _annotation_peak_bytes(nlp, path, options) for times, path in paths.items()}
    assert peaks[100] <= 1.5 * peaks[10] + 128 * 1024, peaks


# ---------------------------------------------------------------------------
# The project's own component


@pytest.mark.slow
def test_trained_joint_pipeline_through_annotate(tmp_path):
    """A few updates of nerel_joint on the conftest docs, saved, loaded by name of folder."""
    from conftest import TINY_DOCS, make_examples

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("ru")
    nlp.add_pipe("nerel_joint")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer, drop=0.0)
        optimizer.step_schedules()
    thresholds = {"WORKS_AS": 0.999, "LOCATED_IN": 0.5, "POINT_IN_TIME": 0.5}
    nlp.get_pipe("nerel_joint").set_thresholds({"WORKS_AS": 0.999})
    nlp.to_disk(tmp_path / "joint")
    texts = [text for text, _, _ in TINY_DOCS]
    stdin = "".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
    every = run_cli("-", "-m", tmp_path / "joint", "-o", "-", "--quiet", "--all-cats", input=stdin)
    assert every.exit_code == 0, every.stderr
    scored = parse_jsonl(every.stdout)
    assert [r["id"] for r in scored] == ["0", "1", "2"] and all(len(r["cats"]) == 3 for r in scored)
    assert [[e["text"] for e in r["ents"]] for r in scored][0] == ["Барак Обама", "Москву", "в январе"]
    result = run_cli("-", "-m", tmp_path / "joint", "-o", "-", "--quiet", input=stdin)
    for full, record in zip(scored, parse_jsonl(result.stdout)):
        assert "spans" in record
        for label, score in full["cats"].items():  # the component's own per-label thresholds
            if abs(score - thresholds[label]) > 1e-5:
                assert (label in record["cats"]) == (score > thresholds[label]), (label, score)


# ---------------------------------------------------------------------------
# `nerel-batch annotate ./docs` as typed: the default model and output


@pytest.fixture
def no_package(monkeypatch):
    """ru_nerel_joint is not installed, whatever the machine running the tests has."""
    monkeypatch.setattr(spacy.util, "is_package", lambda name: False)


def test_default_model_is_the_package_else_the_newest_trained_pipeline(tmp_path, no_package, monkeypatch):
    with pytest.raises(lib.ModelError) as err:
        lib.find_default_model(tmp_path)
    message = str(err.value)
    for hint in ("ru_nerel_joint", "training/*/model-int8", "spacy project run all", "-m PATH_OR_PACKAGE"):
        assert hint in message
    for run, mtime in (("older", 1_000), ("newer", 2_000), ("no-config", 3_000)):
        folder = tmp_path / "training" / run / "model-int8"
        folder.mkdir(parents=True)
        if run != "no-config":
            (folder / "config.cfg").write_text("[nlp]\n", encoding="utf-8")
        os.utime(folder, (mtime, mtime))
    assert lib.find_default_model(tmp_path) == str(tmp_path / "training" / "newer" / "model-int8")
    monkeypatch.setattr(spacy.util, "is_package", lambda name: name == "ru_nerel_joint")
    assert lib.find_default_model(tmp_path) == "ru_nerel_joint"


def test_an_input_the_run_would_write_is_refused_before_anything_is_touched(model_dir, docs, tmp_path):
    texts = tmp_path / "texts.jsonl"
    texts.write_text("Иван Петров работает в Москве.\n", encoding="utf-8")
    for extra in ((), ("--overwrite",), ("--resume",)):
        result = run_cli(texts, "-m", model_dir, "-o", texts, *extra)
        # the path itself may fold inside the error box on a long temporary folder
        assert result.exit_code == 2 and "would be written by this run" in unwrapped(result.stderr)
        assert texts.read_text(encoding="utf-8") == "Иван Петров работает в Москве.\n"
    # its errors file or manifest, or an input inside a folder output, likewise
    errors = tmp_path / "out.errors.jsonl"
    errors.write_text("Москва", encoding="utf-8")
    assert run_cli(docs, errors, "-m", model_dir, "-o", tmp_path / "out.jsonl").exit_code == 2
    assert run_cli(docs / "sub", "-m", model_dir, "-o", docs, "--format", "spacy", "--overwrite").exit_code == 2
    assert errors.read_text(encoding="utf-8") == "Москва" and (docs / "a.txt").exists()


@pytest.mark.slow
def test_an_output_inside_an_input_folder_is_not_read_back(model_dir, docs, tmp_path):
    """The brat output's own .txt files, and a JSONL output under --glob '*', stay out of the inputs."""
    out = docs / "brat"
    for extra in ((), ("--resume",)):
        result = run_cli(docs, "-m", model_dir, "-o", out, "--format", "brat", *extra)
        assert result.exit_code == 0, result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt")) == ["a.txt", "sub/b.txt",
                                                                                 "sub/deeper/c.txt"]
    summary = " ".join(result.stderr.split())
    assert "skipped (already in output, --resume) │ 3" in summary and "docs annotated │ 0" in summary
    shutil.rmtree(out)
    jsonl = docs / "out.jsonl"
    result = run_cli(docs / "sub", "-m", model_dir, "-o", jsonl, "--glob", "*")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in read_output(jsonl)] == ["b.txt", "x.md", "deeper/c.txt"]
    result = run_cli(docs, "-m", model_dir, "-o", jsonl, "--glob", "*", "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert {r["id"] for r in read_output(jsonl)} == {"a.txt", "notes.md", "sub/b.txt", "sub/x.md", "sub/deeper/c.txt"}


def test_no_model_found_is_one_clear_usage_error(docs, tmp_path, no_package, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(docs)
    assert result.exit_code == 2
    assert "no model given and none found" in result.stderr and "spacy project run all" in result.stderr
    assert result.stdout == "" and not (tmp_path / "annotate-errors.jsonl").exists()


@pytest.mark.slow
def test_annotate_docs_as_typed(docs, tmp_path, no_package, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "training" / "run").mkdir(parents=True)
    annotate_helpers.build_pipeline(tmp_path / "training" / "run" / "model-int8")
    (tmp_path / "annotate-errors.jsonl").write_text("stale\n", encoding="utf-8")
    # stdout is a pipe here: the records go there, the rest to stderr.
    result = run_cli("docs")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in parse_jsonl(result.stdout)] == ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
    stderr = " ".join(result.stderr.split())
    assert "training/run/model-int8 (ru_annotate_test 0.0.1)" in stderr and "records go to stdout" in stderr
    assert not (tmp_path / "annotate-errors.jsonl").exists(), "no failures: the stale list is gone"

    (docs / "empty.txt").write_bytes(b"")
    result = run_cli("docs")
    assert result.exit_code == 1 and len(parse_jsonl(result.stdout)) == 3
    assert read_errors(tmp_path / "annotate-errors.jsonl") == {"empty.txt": "empty"}

    # stdout is a terminal: the records go to ./docs.jsonl, protected as any output is.
    monkeypatch.setattr(cli_annotate, "_stdout_is_terminal", lambda: True)
    result = run_cli("docs")
    assert result.exit_code == 1 and result.stdout == ""
    assert "records go to docs.jsonl (no -o given)" in " ".join(result.stderr.split())
    assert len(read_output(tmp_path / "docs.jsonl")) == 3
    assert read_errors(tmp_path / "docs.errors.jsonl") == {"empty.txt": "empty"}
    again = run_cli("docs")
    assert again.exit_code == 2 and "--resume" in again.stderr
    assert run_cli("docs", "--resume").exit_code == 1 and len(read_output(tmp_path / "docs.jsonl")) == 3


@pytest.mark.slow
def test_predicted_mentions_carry_their_scores(tmp_path):
    """A span head's mentions (nested ones too) reach the JSONL with their scores."""
    from conftest import make_nested_examples
    from pipeline_helpers import cnn_nlp, train

    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 60)
    nlp.to_disk(tmp_path / "nested")
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text(examples[0].reference.text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["annotate", str(texts), "-m", str(tmp_path / "nested"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    check_record(record)
    gold = {(s.start_char, s.end_char, s.label_) for s in examples[0].reference.spans["nerel"]}
    assert {(s["start"], s["end"], s["label"]) for s in record["spans"]} == gold
    assert all(0.5 <= s["score"] <= 1.0 for s in record["spans"])
