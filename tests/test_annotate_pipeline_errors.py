"""``nerel-batch annotate``: a document the pipeline raises on fails alone; the run goes on.

The tiny rule-based pipeline of ``annotate_helpers`` plus ``annotate_test_fail``, which
raises on the texts holding MARK. A batch that raises is annotated again one document at
a time, so only the document that still raises is listed (``pipeline-error``), and
``--resume`` retries it, as it retries every failed input. The Ray engine runs the same
code in its actors (tests/test_annotate_ray.py).
"""
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from typer.testing import CliRunner

import annotate_helpers
from nerel_spacy import annotate as lib
from nerel_spacy.cli import app

MARK = "ПЛОХО"
GOOD = ["Иван Петров работает в Москве.", "Банк России находится в Москве.", "Здесь нет сущностей."]


@pytest.fixture(scope="module")
def failing_model(tmp_path_factory) -> Path:
    return annotate_helpers.build_pipeline(tmp_path_factory.mktemp("pipelines") / "fails", fail_marker=MARK)


def write_docs(root: Path, n: int, bad: List[int]) -> List[str]:
    """``n`` texts ``NN.txt`` under ``root``, those at ``bad`` holding MARK; their ids in order."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = f"{GOOD[i % 3]} Номер {i}." + (f" {MARK}." if i in bad else "")
        (root / f"{i:02d}.txt").write_text(text, encoding="utf-8")
    return [f"{i:02d}.txt" for i in range(n)]


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(*args: Any):
    return CliRunner().invoke(app, ["annotate", *map(str, args)], catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_document_the_pipeline_raises_on_fails_alone_and_resume_retries_it(failing_model, tmp_path):
    ids = write_docs(tmp_path / "docs", 10, bad=[5])
    out = tmp_path / "out.jsonl"
    # batches of 4: the bad text shares its batch with three good ones
    result = run(tmp_path / "docs", "-m", failing_model, "-o", out, "--batch-size", "4")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert [record["id"] for record in read_jsonl(out)] == [id for id in ids if id != "05.txt"]
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["id"] == "05.txt" and error["reason"] == lib.PIPELINE_ERROR == "pipeline-error"
    assert error["path"] == str(tmp_path / "docs" / "05.txt")
    assert error["message"].startswith("05.txt: ")
    assert f"ValueError: can't handle '{MARK}'" in error["message"]
    assert "failed: pipeline-error │ 1" in flat(result.stderr)
    assert "docs annotated │ 9" in flat(result.stderr)

    # --resume retries failed inputs: the document fails again, nothing else is redone
    again = run(tmp_path / "docs", "-m", failing_model, "-o", out, "--batch-size", "4", "--resume")
    assert again.exit_code == 1, again.stderr
    assert "skipped (already in output, --resume) │ 9" in flat(again.stderr)
    assert "failed: pipeline-error │ 1" in flat(again.stderr)
    assert len(read_jsonl(out)) == 9
    assert [error["id"] for error in read_jsonl(tmp_path / "out.errors.jsonl")] == ["05.txt"]


def test_a_split_text_with_a_bad_part_is_one_error_and_no_record(failing_model, tmp_path):
    docs = tmp_path / "docs"
    ids = write_docs(docs, 4, bad=[])
    paragraphs = [f"{GOOD[i % 3]} Абзац {i}." for i in range(12)]
    paragraphs[7] += f" {MARK}."
    (docs / "long.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    # parts of at most 80 characters, 2 parts a batch: the long text spans several batches
    result = run(docs, "-m", failing_model, "-o", out, "--max-chars", "80", "--max-batch-chars", "160",
                 "--batch-size", "2")
    assert result.exit_code == 1, result.stderr
    assert [record["id"] for record in read_jsonl(out)] == ids  # long.txt sorts last
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["id"] == "long.txt" and error["reason"] == "pipeline-error"
    assert error["message"].startswith("long.txt (part ") and "ValueError" in error["message"]


def test_a_folder_format_writes_every_other_document(failing_model, tmp_path):
    write_docs(tmp_path / "docs", 5, bad=[0])
    out = tmp_path / "brat"
    result = run(tmp_path / "docs", "-m", failing_model, "-o", out, "--format", "brat")
    assert result.exit_code == 1, result.stderr
    assert sorted(path.name for path in out.glob("*.ann")) == [f"{i:02d}.ann" for i in range(1, 5)]
    errors = read_jsonl(out / lib.STDOUT_ERRORS)
    assert [(e["id"], e["reason"]) for e in errors] == [("00.txt", "pipeline-error")]


def test_worker_processes_fail_the_document_alone_and_keep_the_order(failing_model, tmp_path):
    ids = write_docs(tmp_path / "docs", 12, bad=[4])
    out = tmp_path / "out.jsonl"
    result = run(tmp_path / "docs", "-m", failing_model, "-o", out, "--n-process", "2", "--batch-size", "2")
    assert result.exit_code == 1, result.stderr
    assert [record["id"] for record in read_jsonl(out)] == [id for id in ids if id != "04.txt"]
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["id"] == "04.txt" and error["reason"] == "pipeline-error"
    assert f"ValueError: can't handle '{MARK}'" in error["message"]


class FailsInBatches:
    """Raises the exception in RAISED on a batch holding MARK: any batch, or with ``alone``
    false only a batch of more than one document (a bug of batching, not of the document)."""

    raised: List[BaseException] = []
    alone = True

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        batch = list(docs)
        if any(MARK in doc.text for doc in batch) and (self.alone or len(batch) > 1):
            raise self.raised[0]
        return iter(batch)


@Language.factory("annotate_test_fails_in_batches")
def make_fails_in_batches(nlp: Language, name: str) -> FailsInBatches:
    return FailsInBatches()


def in_memory_pipeline(raised: BaseException, alone: bool) -> Language:
    nlp = spacy.blank("ru")
    component = nlp.add_pipe("annotate_test_fails_in_batches")
    component.raised, component.alone = [raised], alone
    return nlp


SOURCES = [lib.Source(id=f"t{i}", text=f"{GOOD[i % 3]} {MARK if i == 2 else ''}") for i in range(5)]


def test_a_batch_that_fails_only_as_a_batch_loses_no_document():
    nlp = in_memory_pipeline(RuntimeError("a batching bug"), alone=False)
    events = list(lib.annotate_sources(nlp, SOURCES, lib.AnnotateOptions(batch_size=8)))
    assert [event.record["id"] for event in events if isinstance(event, lib.Annotated)] == [f"t{i}" for i in range(5)]


@pytest.mark.parametrize("raised", [MemoryError("out of memory"), KeyboardInterrupt()])
def test_memory_errors_and_interrupts_still_stop_the_run(raised):
    nlp = in_memory_pipeline(raised, alone=True)
    with pytest.raises(type(raised)):
        list(lib.annotate_sources(nlp, SOURCES, lib.AnnotateOptions(batch_size=8)))
