"""``--n-process``: batches annotated in worker processes, in order, outliving a worker's death.

spaCy's ``nlp.pipe(n_process=N)`` waits forever on a worker that died (a segfault, the
OOM killer): its forked siblings hold the dead worker's pipe open, so reading it never ends.
Here a worker has one batch at a time and its process sentinel is watched beside its pipe,
so a death is seen at once and names the batch that caused it. That batch runs again a part
at a time on fresh workers, and a part whose worker dies each of ``ATTEMPTS`` times alone
comes back as ``Died`` while the run goes on. Nothing is annotated in the main process, so a
text that kills a process kills a worker, never the run. A worker started by fork inherits the
pipeline; one started by spawn or forkserver (macOS' and Windows' default) gets it pickled,
after importing the ``--code`` files its components come from (``model.CODE_MODULES``).
Deaths that no text explains (every worker killed as it starts, or on whatever it is given:
a machine out of memory for N copies of the pipeline) stop the run with ``WorkersKeepDying``
after ``DEATHS_IN_A_ROW``, rather than fail every text three times over.
"""
import multiprocessing
import os
import pickle
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Deque, Generic, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.tokens.underscore import Underscore
from spacy.util import import_file

from .model import CODE_MODULES

C = TypeVar("C")
# Tries of a text alone on a worker process that dies on it (the Ray engine's too).
ATTEMPTS = 3
# Batches read ahead of the first not yet given out, per worker: enough to keep every worker
# busy behind a slow batch, few enough that the parent holds little.
AHEAD_PER_WORKER = 2
# Seconds between an idle worker's checks that the process that started it still runs.
ORPHAN_CHECK_S = 1.0
# Worker deaths with no batch or text annotated in between that stop the run: more than a
# batch of 8 texts that each kill their worker ATTEMPTS times (1 + 8 * 3 = 25).
DEATHS_IN_A_ROW = 26


@dataclass(frozen=True)
class Raised:
    """The pipeline raised on a text annotated alone; ``description`` is ``Type: message``."""

    description: str


@dataclass(frozen=True)
class Died:
    """The worker annotating a text alone died each of ``ATTEMPTS`` times; ``cause`` says how."""

    cause: str


class WorkersKeepDying(RuntimeError):
    """The worker processes died ``deaths`` times in a row, none annotating anything between."""

    def __init__(self, deaths: int, cause: str):
        oom = " (SIGKILL is usually the OOM killer)" if "SIGKILL" in cause else ""
        super().__init__(
            f"the worker processes died {deaths} times in a row without annotating a text, the last "
            f"{cause}{oom}: the cause is not a text but the machine or the pipeline. Each worker holds "
            "its own copy of the pipeline, so fewer workers or smaller batches need less memory."
        )
        self.deaths, self.cause = deaths, cause


class PipelineNotPicklable(ValueError):
    """Workers started by spawn or forkserver need the pipeline pickled, and it does not pickle."""


Outcome = Union[Doc, Raised, Died]
Part = Tuple[str, C]


def describe(err: BaseException) -> str:
    """``Type: message``, or the type alone for an exception without a message."""
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def annotate_batch(nlp: Language, texts: List[str]) -> List[Union[Doc, Raised]]:
    """``texts`` through ``nlp`` as one batch, or, where that raises, each text alone with its
    ``Doc`` or what it raised. ``MemoryError`` and ``BaseException`` s such as
    ``KeyboardInterrupt`` are raised: a smaller batch is no cure for them."""
    try:
        # Whole, so a batch raises before any of its docs is handed on.
        return list(nlp.pipe(texts, batch_size=len(texts)))
    except MemoryError:
        raise
    except Exception:
        return [_alone(nlp, text) for text in texts]


def _alone(nlp: Language, text: str) -> Union[Doc, Raised]:
    try:
        (doc,) = nlp.pipe([text], batch_size=1)
    except MemoryError:
        raise
    except Exception as err:
        return Raised(describe(err))
    return doc


@dataclass(eq=False)
class _Job(Generic[C]):
    """A batch read from the input, and each part's outcome as it comes back."""

    parts: List[Part]
    outcomes: List[Optional[Union[bytes, Raised, Died]]] = field(init=False)
    deaths: List[int] = field(init=False)  # times each part's worker died on it alone

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.parts)
        self.deaths = [0] * len(self.parts)

    @property
    def done(self) -> bool:
        return all(outcome is not None for outcome in self.outcomes)


# Parts of a job sent to a worker as one batch, by index.
_Task = Tuple[_Job, List[int]]


class _Worker:
    """A process annotating the batches sent down its pipe, one at a time."""

    def __init__(self, pipeline: "_Pipeline", context: Any):
        self.conn, theirs = context.Pipe()
        # Daemonic: one left behind (a Ctrl-C as it starts) is ended at exit, not waited for.
        self.process = context.Process(target=_serve, args=(pipeline, theirs), daemon=True)
        self.process.start()
        theirs.close()  # the worker's end only in the worker: its death ends our reads
        self.task: Optional[_Task] = None

    def send(self, task: _Task) -> None:
        self.task = task
        job, indices = task
        try:
            self.conn.send([job.parts[i][0] for i in indices])
        except OSError:
            pass  # it died: its sentinel says so to the next wait

    def receive(self) -> Optional[List[Union[bytes, Raised]]]:
        """Its reply to the task, or None when it died first. A ``MemoryError`` it hit is raised."""
        try:
            reply = self.conn.recv() if self.conn.poll() else None
        except (EOFError, OSError):  # it died while writing
            reply = None
        if isinstance(reply, MemoryError):
            raise reply
        return reply

    def cause(self) -> str:
        """How the stopped process had ended: ``killed by SIGKILL``, ``exit code 1``."""
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self) -> None:
        """End the process, busy, idle or dead, and reap it; safe to call twice."""
        self.process.terminate()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


@dataclass(frozen=True)
class _Pipeline:
    """What a worker needs to annotate: the pipeline and the ``Doc`` extensions, as objects
    for fork, or pickled for spawn and forkserver, so that the worker imports the
    ``--code`` modules that define its components before it unpickles it."""

    state: Any  # (nlp, Underscore state), or those pickled
    code_modules: Tuple[Tuple[str, str], ...]  # (module name, file)

    @classmethod
    def for_context(cls, nlp: Language, context: Any) -> "_Pipeline":
        state: Any = (nlp, Underscore.get_state())
        if context.get_start_method() != "fork":
            try:
                state = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, AttributeError, TypeError) as err:
                raise PipelineNotPicklable(
                    f"the pipeline can't be sent to worker processes started by {context.get_start_method()} "
                    f"(this platform's way), since it does not pickle: {err}. Annotate in one process "
                    "(--n-process 1), or make its custom components picklable."
                ) from err
        return cls(state, tuple(CODE_MODULES.items()))

    def load(self) -> Tuple[Language, Any]:
        """In the worker: the code modules imported, then the pipeline and extension state."""
        for name, path in self.code_modules:
            if name not in sys.modules:
                sys.modules[name] = import_file(name, path)
        return pickle.loads(self.state) if isinstance(self.state, bytes) else self.state


def pipe_in_workers(nlp: Language, batches: Iterable[List[Part]], n_process: int,
                    deaths_in_a_row: int = DEATHS_IN_A_ROW) -> Iterator[Tuple[Outcome, C]]:
    """Each part of ``batches``, in order, with its ``Doc``, ``Raised`` or ``Died``, from
    ``n_process`` worker processes started as spaCy starts its own (``multiprocessing``'s
    default start method).

    A batch whose worker dies is sent again a part at a time, each alone on a worker, so a
    death blames one part; a dead worker is replaced at once. The workers are stopped and
    reaped however this ends: exhausted, closed early, or on an exception (a ``MemoryError`` in
    a worker, ``KeyboardInterrupt``, or one raised reading ``batches``, which passes through).
    ``WorkersKeepDying`` is raised once workers have died ``deaths_in_a_row`` times with no
    reply between; the parts given out before it were annotated.
    """
    context = multiprocessing.get_context()
    pipeline = _Pipeline.for_context(nlp, context)  # pickled once, for every worker started
    workers: List[_Worker] = []
    order: Deque[_Job] = deque()  # jobs read, not yet given out
    again: Deque[_Task] = deque()  # tasks of jobs in order, to send before reading more
    rest = iter(batches)
    deaths = 0  # since the last reply
    try:
        for _ in range(n_process):
            workers.append(_Worker(pipeline, context))
        while True:
            for worker in workers:
                if worker.task is None:
                    task = _next_task(again, order, rest, AHEAD_PER_WORKER * n_process)
                    if task is None:
                        break
                    worker.send(task)
            given = 0
            while order and order[0].done:
                yield from _given_out(nlp, order.popleft())
                given += 1
            busy = [worker for worker in workers if worker.task is not None]
            if not busy:
                if given:  # the jobs read ahead were all done, so none was read: read on
                    continue
                return  # nothing left to send, and every job was given out
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                task, worker.task = worker.task, None
                assert task is not None
                reply = worker.receive()
                if reply is None:
                    worker.stop()
                    deaths += 1
                    if deaths >= deaths_in_a_row:
                        raise WorkersKeepDying(deaths, worker.cause())
                    again.extend(_after_death(task, worker.cause()))
                else:
                    deaths = 0
                    job, indices = task
                    for i, outcome in zip(indices, reply):
                        job.outcomes[i] = outcome
                if not worker.process.is_alive():  # it died, on the task or after its reply
                    worker.stop()
                    workers[workers.index(worker)] = _Worker(pipeline, context)
    finally:
        for worker in workers:
            worker.stop()


def _next_task(again: Deque[_Task], order: Deque[_Job], rest: Iterator[List[Part]], ahead: int) -> Optional[_Task]:
    """A task to retry, else the next batch while fewer than ``ahead`` jobs wait to be given out."""
    if again:
        return again.popleft()
    if len(order) >= ahead:
        return None
    batch = next(rest, None)
    if batch is None:
        return None
    order.append(_Job(batch))
    return order[-1], list(range(len(batch)))


def _after_death(task: _Task, cause: str) -> List[_Task]:
    """What to send again after the worker running ``task`` died: each of its parts alone, or a
    lone part once more, or, after ``ATTEMPTS`` deaths alone, nothing (the part ``Died``)."""
    job, indices = task
    if len(indices) > 1:
        return [(job, [i]) for i in indices]
    (i,) = indices
    job.deaths[i] += 1
    if job.deaths[i] < ATTEMPTS:
        return [task]
    job.outcomes[i] = Died(cause)
    return []


def _given_out(nlp: Language, job: _Job) -> Iterator[Tuple[Outcome, C]]:
    for outcome, (_, ctx) in zip(job.outcomes, job.parts):
        yield (Doc(nlp.vocab).from_bytes(outcome) if isinstance(outcome, bytes) else outcome), ctx


def _serve(pipeline: _Pipeline, conn: Connection) -> None:
    """A worker: annotate each batch of texts the parent sends; reply with each doc's bytes or
    what it raised. Ends when the parent stops it, or finds the parent gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent too, which stops us
    nlp, underscore_state = pipeline.load()
    Underscore.load_state(underscore_state)
    parent = os.getppid()
    while True:
        if not conn.poll(ORPHAN_CHECK_S):
            # The parent was killed without stopping us: don't wait forever. Under fork, workers
            # started after us hold its end of our pipe, so no EOF comes; under spawn and
            # forkserver it does, and the parent is ours or the fork server, gone with it.
            if os.getppid() != parent:
                return
            continue
        try:
            texts = conn.recv()
        except EOFError:
            return
        reply: Union[List[Union[bytes, Raised]], MemoryError]
        try:
            # Strings a batch adds are freed with its docs, as in the main process.
            with nlp.memory_zone():
                reply = [out.to_bytes() if isinstance(out, Doc) else out for out in annotate_batch(nlp, texts)]
        except MemoryError as err:
            reply = err
        try:
            conn.send(reply)
        except OSError:  # the parent is gone
            return
