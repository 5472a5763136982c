"""``nerel-batch annotate --n-process N``: a text that kills its worker process fails alone.

A blank ``ru`` pipeline with an entity ruler and ``annotate_test_fail`` (annotate_helpers),
which ends its process on KILL (``os._exit``, or SIGKILL as the OOM killer sends) and raises
on RAISE. spaCy's own ``nlp.pipe(n_process=2)`` waited forever on a dead worker; the
``deadline`` fixture turns such a hang into a failure. The batch a worker died on runs again
a text at a time in fresh workers, never in the main process; the text that kills its
worker every time is a ``worker-died`` error and the run goes on.
"""
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Set, Tuple

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from typer.testing import CliRunner

import annotate_helpers
from annotate_helpers import GOOD, KILL, RAISE
from nerel_spacy import annotate as lib
from nerel_spacy.annotate.workers import ATTEMPTS, DEATHS_IN_A_ROW, Died, WorkersKeepDying, pipe_in_workers
from nerel_spacy.cli import app

DEADLINE_S = annotate_helpers.DEADLINE_S


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Fail a test still running after DEADLINE_S seconds instead of hanging the suite."""
    with annotate_helpers.deadline(DEADLINE_S):
        yield


def children() -> Set[int]:
    """This process's child processes, zombies (exited, not reaped) included."""
    me, found = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state_and_parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):
            continue  # gone meanwhile
        if state_and_parent[1] == me:
            found.add(int(stat.parent.name))
    return found


@pytest.fixture
def no_processes_left() -> Iterator[None]:
    """The test leaves no child process behind: every worker stopped and reaped."""
    before = children()
    yield
    assert children() - before == set()


def pipeline(how: str = "kill") -> Language:
    nlp = spacy.blank("ru")
    nlp.add_pipe("entity_ruler").add_patterns(annotate_helpers.ENT_PATTERNS)
    nlp.add_pipe("annotate_test_fail", name="kills", config={"marker": KILL, "how": how})
    nlp.add_pipe("annotate_test_fail", name="raises", config={"marker": RAISE, "how": "raise"})
    return nlp


def sources(n: int, marks: Dict[int, str]) -> List[lib.Source]:
    return [lib.Source(id=f"t{i}", text=f"{GOOD[i % 3]} Номер {i}. {marks.get(i, '')}") for i in range(n)]


def in_workers(nlp: Language, texts: Iterable[lib.Source], **options: Any) -> List[Any]:
    """Every event of annotating ``texts`` in two worker processes, in batches of two by default."""
    return list(lib.annotate_sources(nlp, texts, lib.AnnotateOptions(**{"batch_size": 2, **options, "n_process": 2})))


def blank_with(component: str) -> Language:
    nlp = spacy.blank("ru")
    nlp.add_pipe(component)
    return nlp


def kinds(events: List[Any]) -> List[Tuple[str, str]]:
    return [(type(event).__name__, event.id if isinstance(event, lib.InputError) else event.record["id"])
            for event in events]


@pytest.mark.parametrize("how,cause", [("exit", "exit code 1"), ("kill", "killed by SIGKILL")])
def test_a_text_that_kills_its_worker_fails_alone_and_the_run_goes_on(how, cause, no_processes_left):
    texts = sources(10, {4: KILL, 7: RAISE})
    events = in_workers(pipeline(how), texts, batch_size=3)  # the main process lives on

    assert kinds(events) == [("InputError" if i in (4, 7) else "Annotated", f"t{i}") for i in range(10)]
    died, raised = (event for event in events if isinstance(event, lib.InputError))
    assert died.reason == lib.WORKER_DIED == "worker-died"
    assert died.message.startswith(f"t4: the worker process annotating it died each of the {ATTEMPTS} "
                                   f"times it ran alone ({cause})")
    assert "--resume" in died.message
    assert raised.reason == lib.PIPELINE_ERROR and f"ValueError: can't handle '{RAISE}'" in raised.message
    # The records from the workers are those of the same texts annotated here.
    alone = lib.annotate_sources(pipeline(how), [t for t in texts if KILL not in t.text and RAISE not in t.text])
    assert [event.record for event in events if isinstance(event, lib.Annotated)] == [e.record for e in alone]


def test_a_long_text_with_a_part_that_kills_its_worker_fails_whole(no_processes_left):
    paragraphs = [f"{GOOD[i % 3]} Абзац {i}." for i in range(8)]
    paragraphs[5] += f" {KILL}."
    texts = [lib.Source(id="a", text=GOOD[0]), lib.Source(id="long", text="\n\n".join(paragraphs)),
             lib.Source(id="z", text=GOOD[1])]
    events = in_workers(pipeline(), texts, max_chars=80, max_batch_chars=160)
    assert kinds(events) == [("Annotated", "a"), ("InputError", "long"), ("Annotated", "z")]
    assert events[1].reason == "worker-died" and events[1].message.startswith("long (part ")


class OutOfMemory:
    def __call__(self, doc: Doc) -> Doc:
        if KILL in doc.text:
            raise MemoryError("out of memory")
        return doc


@Language.factory("annotate_test_out_of_memory")
def make_out_of_memory(nlp: Language, name: str) -> OutOfMemory:
    return OutOfMemory()


def test_a_memory_error_in_a_worker_stops_the_run(no_processes_left):
    with pytest.raises(MemoryError):
        in_workers(blank_with("annotate_test_out_of_memory"), sources(6, {3: KILL}))


class InterruptsTheRun:
    """In a worker, on KILL: Ctrl-C to the process that started it, then a long sleep."""

    def __init__(self) -> None:
        self.main = os.getpid()

    def __call__(self, doc: Doc) -> Doc:
        if KILL in doc.text and os.getpid() != self.main:
            os.kill(self.main, signal.SIGINT)
            time.sleep(2 * DEADLINE_S)
        return doc


@Language.factory("annotate_test_interrupts_the_run")
def make_interrupts_the_run(nlp: Language, name: str) -> InterruptsTheRun:
    return InterruptsTheRun()


def test_ctrl_c_stops_the_run_and_its_busy_workers(no_processes_left):
    nlp = blank_with("annotate_test_interrupts_the_run")
    # A user's Ctrl-C raises KeyboardInterrupt, even where the suite runs with SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            in_workers(nlp, sources(6, {3: KILL}))
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_error_reading_the_inputs_is_raised(no_processes_left):
    def failing() -> Iterator[lib.Source]:
        yield from sources(5, {})
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        in_workers(pipeline(), failing())


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_errors_file_lists_it_and_resume_retries_it(tmp_path, no_processes_left):
    model = annotate_helpers.build_pipeline(tmp_path / "model", fail_marker=KILL, fail_how="kill")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(8):
        (docs / f"{i:02d}.txt").write_text(f"{GOOD[i % 3]} {KILL if i == 3 else ''}", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["annotate", str(docs), "-m", str(model), "-o", str(out), "--n-process", "2", "--batch-size", "2"]

    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert [record["id"] for record in read_jsonl(out)] == [f"{i:02d}.txt" for i in range(8) if i != 3]
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["id"] == "03.txt" and error["reason"] == "worker-died"
    assert error["path"] == str(docs / "03.txt") and error["message"].startswith("03.txt: ")
    assert "failed: worker-died │ 1" in " ".join(result.stderr.split())

    again = CliRunner().invoke(app, [*args, "--resume"], catch_exceptions=False)
    assert again.exit_code == 1, again.stderr
    assert "skipped (already in output, --resume) │ 7" in " ".join(again.stderr.split())
    assert [error["id"] for error in read_jsonl(tmp_path / "out.errors.jsonl")] == ["03.txt"]


def lone_parts(nlp: Language, texts: List[str], deaths_in_a_row: int) -> List[Any]:
    """The outcomes of ``texts`` as one batch in one worker process: deterministic deaths."""
    batches = [[(text, i) for i, text in enumerate(texts)]]
    return [outcome for outcome, _ in pipe_in_workers(nlp, batches, 1, deaths_in_a_row=deaths_in_a_row)]


def test_a_reply_between_deaths_keeps_the_run_going(no_processes_left):
    # The batch dies (1), its good text comes back, then the bad one dies ATTEMPTS times alone.
    outcomes = lone_parts(pipeline(), [GOOD[0], f"{GOOD[1]} {KILL}"], deaths_in_a_row=ATTEMPTS + 1)
    assert isinstance(outcomes[0], Doc) and outcomes[1] == Died("killed by SIGKILL")


def test_workers_that_keep_dying_with_nothing_annotated_stop_the_run(no_processes_left):
    # Two bad texts in a row: 1 + 2 * ATTEMPTS deaths with no reply between.
    with pytest.raises(WorkersKeepDying) as stopped:
        lone_parts(pipeline("exit"), [f"{GOOD[0]} {KILL}", f"{GOOD[1]} {KILL}"], deaths_in_a_row=ATTEMPTS + 1)
    assert stopped.value.deaths == ATTEMPTS + 1 and stopped.value.cause == "exit code 1"
    assert "not a text but the machine or the pipeline" in str(stopped.value)
    assert "OOM" not in str(stopped.value)


def test_the_cap_is_above_a_whole_batch_of_texts_that_each_kill_their_worker():
    assert DEATHS_IN_A_ROW > 1 + 8 * ATTEMPTS


def test_the_command_stops_when_every_worker_dies_and_says_what_to_do(tmp_path, no_processes_left):
    model = annotate_helpers.build_pipeline(tmp_path / "model", fail_marker=KILL, fail_how="kill")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(10):  # a pipeline that kills every worker: here, a marker in every text
        (docs / f"{i:02d}.txt").write_text(f"{GOOD[i % 3]} {KILL}", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["annotate", str(docs), "-m", str(model), "-o", str(out), "--n-process", "2", "--batch-size", "2"]

    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1, result.stderr
    said = " ".join(result.stderr.split())
    assert "Traceback" not in said
    assert f"died {DEATHS_IN_A_ROW} times in a row without annotating a text, the last killed by SIGKILL" in said
    assert "(SIGKILL is usually the OOM killer)" in said and "Lower --n-process (now 2)" in said
    assert f"{out} holds every document written so far (0 in this run)" in said and "--resume" in said
    assert out.read_text(encoding="utf-8") == ""


class SlowOn:
    """Sleeps on SLOW, so one worker is still on its batch while the other finishes the next ones."""

    def __call__(self, doc: Doc) -> Doc:
        if SLOW in doc.text:
            time.sleep(1.5)
        return doc


SLOW = "МЕДЛЕННО"


@Language.factory("annotate_test_slow")
def make_slow(nlp: Language, name: str) -> SlowOn:
    return SlowOn()


def test_batches_finished_behind_a_slow_one_do_not_end_the_run_early(no_processes_left):
    # One worker sits on the slow first batch while the other finishes every batch that may be
    # read ahead of it; once the slow one is done, all of them are given out at once and the
    # rest must still be read: 84 of NEREL dev's 94 texts came back, with no error, before.
    texts = [f"{SLOW if i == 0 else GOOD[i % 3]} {i}" for i in range(12)]
    batches = [[(text, i)] for i, text in enumerate(texts)]
    got = [i for _, i in pipe_in_workers(blank_with("annotate_test_slow"), batches, 2)]
    assert got == list(range(12))
