"""``--n-process`` workers started by spawn (macOS' and Windows' default) and forkserver.

``pipe_in_workers`` starts its workers with ``multiprocessing``'s default start method, fork
on Linux, where test_annotate_workers.py runs them. Under spawn and forkserver a worker is a
fresh interpreter: the pipeline and ``Underscore.get_state()`` reach it pickled, it imports
the components' module (annotate_helpers, through the ``sys.path`` multiprocessing hands it)
and the ``Doc`` extensions are only those the parent hands over; a forkserver worker is the
fork server's child, not ours. Here ``multiprocessing.get_context`` as ``workers`` calls it
returns the start method under test. Each worker start imports spaCy afresh (seconds on a
loaded machine), so the texts are few and the ``deadline`` is generous.

The project's own pipelines (``nerel_joint`` on a CNN, and an int8 transformer) and a
``--code`` component run there too: they pickle (test_pipeline_pickle.py), and a worker
imports the ``--code`` file before it unpickles the pipeline. Slow: every worker start
imports spaCy afresh.
"""
import multiprocessing
import os
from multiprocessing import forkserver, resource_tracker
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc

import annotate_helpers
from annotate_helpers import GOOD, KILL, RAISE
from nerel_spacy import annotate as lib
from nerel_spacy.annotate import workers
from nerel_spacy.annotate.model import load_pipeline

pytestmark = pytest.mark.slow

START_METHODS = ["spawn", "forkserver"]
# macOS' and Windows' start method alone, for the tests whose worker starts cost most: what
# forkserver adds (a worker that is the fork server's child) is the records test's to show.
SPAWN_ONLY = pytest.mark.parametrize("start_method", ["spawn"], indirect=True)
DEADLINE_S = annotate_helpers.DEADLINE_S


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Fail a test still running after DEADLINE_S seconds instead of hanging the suite."""
    with annotate_helpers.deadline(DEADLINE_S):
        yield


@pytest.fixture(params=START_METHODS)
def start_method(request: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The start method ``pipe_in_workers`` gets; the test fails unless it asked for a context."""
    real_get_context = multiprocessing.get_context
    given: List[str] = []

    def get_context(method: Any = None) -> Any:
        context = real_get_context(method or request.param)
        given.append(context.get_start_method())
        return context

    monkeypatch.setattr(workers.multiprocessing, "get_context", get_context)
    yield request.param
    assert given and set(given) == {request.param}


def descendants() -> Set[int]:
    """This process's children, their children and so on, zombies (exited, not reaped) included:
    a forkserver worker is the fork server's child."""
    children: Dict[int, List[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    found: Set[int] = set()
    todo = [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.fixture
def no_processes_left(start_method: str) -> Iterator[None]:
    """The test leaves no process behind: every worker stopped and reaped. multiprocessing's
    own helpers, which live as long as this process (the resource tracker, and the fork server
    under forkserver), are started before the count."""
    if start_method == "forkserver":
        forkserver.ensure_running()  # and the resource tracker
    else:
        resource_tracker.ensure_running()
    before = descendants()
    yield
    assert descendants() - before == set()


@pytest.fixture
def process_extension() -> Iterator[str]:
    """``Doc._.annotate_test_process``, registered here, in this process only."""
    name = annotate_helpers.PROCESS_EXTENSION
    assert not Doc.has_extension(name)
    Doc.set_extension(name, default=None)
    yield name
    Doc.remove_extension(name)


def pipeline(how: str = "kill") -> Language:
    """annotate_helpers' components: ents, nested spans, cats, a failure on KILL (``how``) and on
    RAISE (raise), and the process that annotated each doc in ``doc._.annotate_test_process``."""
    nlp = spacy.blank("ru")
    nlp.add_pipe("entity_ruler").add_patterns(annotate_helpers.ENT_PATTERNS)
    nlp.add_pipe("span_ruler", config={"spans_key": "nerel"}).add_patterns(annotate_helpers.SPAN_PATTERNS)
    nlp.add_pipe("annotate_test_cats")
    nlp.add_pipe("annotate_test_fail", name="kills", config={"marker": KILL, "how": how})
    nlp.add_pipe("annotate_test_fail", name="raises", config={"marker": RAISE, "how": "raise"})
    nlp.add_pipe("annotate_test_process")
    return nlp


def sources(n: int, marks: Dict[int, str]) -> List[lib.Source]:
    return [lib.Source(id=f"t{i}", text=f"{GOOD[i % 3]} Номер {i}. {marks.get(i, '')}") for i in range(n)]


def in_workers(nlp: Language, texts: List[lib.Source]) -> List[Tuple[Any, Any]]:
    """Each event of annotating ``texts`` in two worker processes in batches of two, with the
    ``(pid, parent pid)`` that annotated an ``Annotated`` one's doc where the pipeline records
    it (``annotate_test_process``), else None."""
    options = lib.AnnotateOptions(n_process=2, batch_size=2)
    name = annotate_helpers.PROCESS_EXTENSION
    events = []
    for event in lib.annotate_sources(nlp, texts, options, with_docs=True):
        process = None
        # Its doc is valid while the event is handled.
        if isinstance(event, lib.Annotated) and Doc.has_extension(name) and event.doc._.get(name) is not None:
            process = tuple(event.doc._.get(name))
        events.append((event, process))
    return events


def outcomes(events: List[Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """Each event's kind and record (an ``InputError``'s as the errors file holds it)."""
    return [(type(event).__name__, event.to_record() if isinstance(event, lib.InputError) else event.record)
            for event in events]


def in_process(nlp: Language, texts: List[lib.Source]) -> List[Any]:
    return list(lib.annotate_sources(nlp, texts))


def expected_parent(start_method: str) -> int:
    """A worker's parent: this process, or under forkserver the fork server."""
    if start_method == "forkserver":
        return forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    return os.getpid()


def test_the_records_are_those_annotated_here_in_input_order(start_method, process_extension, no_processes_left):
    nlp = pipeline()
    texts = sources(7, {5: RAISE})
    events = in_workers(nlp, texts)

    assert outcomes([event for event, _ in events]) == outcomes(in_process(nlp, texts))
    assert [record["id"] for _, record in outcomes([event for event, _ in events])] == [t.id for t in texts]
    raised = events[5][0]
    assert raised.reason == lib.PIPELINE_ERROR and f"ValueError: can't handle '{RAISE}'" in raised.message
    # Annotated in worker processes, which had the extension this process registered.
    processes = {process for event, process in events if process is not None}
    assert os.getpid() not in {pid for pid, _ in processes}
    assert {parent for _, parent in processes} == {expected_parent(start_method)}


# SIGKILL only: how a worker ends is fork's tests' matter (test_annotate_workers.py); here each
# death costs a fresh interpreter, seconds apiece.
@SPAWN_ONLY
@pytest.mark.parametrize("how,cause", [("kill", "killed by SIGKILL")])
def test_a_text_that_kills_its_worker_is_worker_died_and_the_run_goes_on(
        start_method, how, cause, process_extension, no_processes_left):
    nlp = pipeline(how)
    texts = sources(5, {2: KILL})
    events = [event for event, _ in in_workers(nlp, texts)]

    assert [(kind, record["id"]) for kind, record in outcomes(events)] == [
        ("InputError" if i == 2 else "Annotated", f"t{i}") for i in range(5)]
    died = events[2]
    assert died.reason == lib.WORKER_DIED
    assert died.message.startswith(f"t2: the worker process annotating it died each of the {workers.ATTEMPTS} "
                                   f"times it ran alone ({cause})")
    survivors = [text for text in texts if KILL not in text.text]
    assert outcomes([event for event in events if isinstance(event, lib.Annotated)]) == outcomes(
        in_process(nlp, survivors))


def doc_outcome(doc: Any) -> Any:
    """What a doc holds as nerel_joint predicts it (else the ``Raised`` or ``Died`` itself)."""
    if not isinstance(doc, Doc):
        return doc
    return ([(span.start, span.end, span.label_) for span in doc.spans.get("nerel", [])],
            {label: round(score, 5) for label, score in doc.cats.items()}, doc._.relations)


@SPAWN_ONLY
@pytest.mark.parametrize("kind", ["v3", "int8 transformer"])
def test_a_nerel_joint_pipeline_runs_in_workers(start_method, kind, tiny_bert_dir, tmp_path, no_processes_left):
    from test_pipeline_pickle import saved_and_loaded

    nlp = saved_and_loaded(kind, tiny_bert_dir, tmp_path)  # as nerel-batch annotate has it
    texts = ["Министр Сергей Лавров посетил Китай .", "Барак Обама приехал в Москву в январе ."]
    here = [doc_outcome(doc) for doc in nlp.pipe(texts)]
    batches = [[(text, i)] for i, text in enumerate(texts)]
    assert [doc_outcome(doc) for doc, _ in workers.pipe_in_workers(nlp, batches, 2)] == here


# A component from ``--code FILE``: load_pipeline imports it as module ``annotate_code``.
CODE = '''
from spacy.language import Language


class FromCode:
    def __call__(self, doc):
        doc.cats = {"FROM_CODE": 1.0}
        return doc


@Language.factory("annotate_test_from_code")
def make_from_code(nlp, name):
    return FromCode()
'''
@pytest.fixture(scope="module")
def code_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """A saved pipeline with a component from a ``--code`` file, and the file: (model, code).
    Once per module: a factory registered again from another file is refused (E004)."""
    root = tmp_path_factory.mktemp("code_pipeline")
    code = root / "components.py"
    code.write_text(CODE, encoding="utf-8")
    spacy.util.import_file("annotate_test_code_builder", code)  # to build the pipeline here
    built = spacy.blank("ru")
    built.add_pipe("entity_ruler").add_patterns(annotate_helpers.ENT_PATTERNS)
    built.add_pipe("annotate_test_from_code")
    built.to_disk(root / "model")
    return root / "model", code


@SPAWN_ONLY
def test_a_component_from_code_runs_in_workers(start_method, code_pipeline, no_processes_left):
    model, code = code_pipeline
    nlp = load_pipeline(str(model), code)  # as nerel-batch annotate --code has it
    texts = sources(3, {})
    events = [event for event, _ in in_workers(nlp, texts)]
    assert outcomes(events) == outcomes(in_process(nlp, texts))
    assert all(event.record["cats"] == {"FROM_CODE": 1.0} for event in events)


UNPICKLABLE_CODE = '''
from spacy.language import Language


class HoldsALambda:
    def __init__(self):
        self.keep = lambda doc: doc  # pickle can't name a lambda

    def __call__(self, doc):
        return self.keep(doc)


@Language.factory("annotate_test_holds_a_lambda")
def make_holds_a_lambda(nlp, name):
    return HoldsALambda()
'''


@pytest.fixture(scope="module")
def unpicklable_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """A saved pipeline whose ``--code`` component holds a lambda: (model, code). Once per
    module, as ``code_pipeline``."""
    root = tmp_path_factory.mktemp("unpicklable_pipeline")
    code = root / "components.py"
    code.write_text(UNPICKLABLE_CODE, encoding="utf-8")
    spacy.util.import_file("annotate_test_unpicklable_builder", code)
    built = spacy.blank("ru")
    built.add_pipe("annotate_test_holds_a_lambda")
    built.to_disk(root / "model")
    return root / "model", code


@SPAWN_ONLY
def test_a_pipeline_that_does_not_pickle_is_refused_before_any_worker_starts(
        start_method, unpicklable_pipeline, tmp_path, no_processes_left):
    from typer.testing import CliRunner

    from nerel_spacy.cli import app

    model, code = unpicklable_pipeline
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(GOOD[0], encoding="utf-8")
    out = tmp_path / "out.jsonl"

    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "docs"), "-m", str(model), "--code",
                                      str(code), "-o", str(out), "--n-process", "2"], catch_exceptions=False)
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2, said
    assert f"Error: --n-process 2: the pipeline can't be sent to worker processes started by {start_method}" in said
    assert "does not pickle" in said and "HoldsALambda" in said and "(--n-process 1)" in said
    assert "Traceback" not in said and out.read_text(encoding="utf-8") == ""
