"""The Ray engine: the local engine's code on a pool of Ray actors, fed by Ray Data.

The driver finds the inputs (local paths as ``iter_sources`` does, URIs by
``uri.iter_uri_sources``), skips done and duplicate ids, and gives Ray Data one small row
per input: its id and where to read it (a stdin text travels itself). ``map_batches`` runs
``AnnotateActor`` on an ``ActorPoolStrategy`` pool. Each actor loads the pipeline once, by
path or package name (never pickled), reads its rows' files on its own node, and runs them
through ``annotate_sources``: the same decoding, long-text splitting, character-budget
batches and ``memory_zone`` as the local engine. It returns plain JSON lines.

Ray restarts a dead actor and retries its task, so a row can come back twice; the driver
keeps the first record per id and drops the rest. Records arrive in completion order. A
task is tried ``ATTEMPTS`` times; the rows of a batch that failed every time run again one
per task on actors of their own (``_isolate``), and a row whose worker still dies is a
``WORKER_DIED`` error. A pipeline exception never reaches Ray: ``annotate_sources`` lists
it as an input error, as locally.
"""
import json
import logging
import math
import os
import warnings
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy as np
import ray
from ray.data import ActorPoolStrategy, DataContext
from ray.exceptions import RayError, RayTaskError

from ..model import ModelError, load_pipeline
from ..records import Annotated, Event, Resumed, model_info
from ..sources import STDIN, InputError, Source, iter_sources, source_size
from ..stream import WORKER_DIED, AnnotateOptions, annotate_sources, duplicate_id_error
from ..workers import ATTEMPTS
from ...threads import limit_threads
from . import EngineError
from .uri import RemoteFile, is_uri, iter_uri_sources, read_remote_text

# Inputs per Ray Dataset. The driver holds one chunk's rows at a time; each chunk starts a
# fresh actor pool, which loads the pipeline again, so a chunk is large.
CHUNK_ROWS = 100_000

# Row kinds: a local file read by the actor, a file on a pyarrow filesystem, a stdin text.
FILE, REMOTE, TEXT = "file", "remote", "text"
# Output kinds: a record for the JSONL, or an error for the errors file.
RECORD, ERROR = "record", "error"

Found = Union[Source, RemoteFile, InputError]


def iter_inputs(
    inputs: Sequence[str], glob: str, *, stdin: Optional[BinaryIO] = None, encoding: Optional[str] = None,
    exclude: Sequence[str] = (),
) -> Iterator[Found]:
    """Every input ``inputs`` names, in order: local ones as ``iter_sources`` finds them
    (``exclude`` left out), ``scheme://`` ones on their pyarrow filesystem by the same rules."""
    for name in inputs:
        if is_uri(name):
            yield from iter_uri_sources(name, glob)
        else:
            yield from iter_sources([name], glob, stdin=stdin if name == STDIN else None, encoding=encoding,
                                    exclude=exclude)


def input_size(source: Found) -> int:
    """The bytes an input stands for in progress (``source_size``, or a remote file's size)."""
    return source.size if isinstance(source, RemoteFile) else source_size(source)


class AnnotateActor:
    """A Ray Data UDF: loads the pipeline once per actor, annotates a batch of rows per call."""

    def __init__(self, model: str, code: Optional[str], options: AnnotateOptions, threads: int, cwd: str,
                 settings: Sequence[str] = ()):
        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative input paths read, and read as named in errors, as on the driver
        self.nlp = load_pipeline(model, None if code is None else Path(code), settings)
        limit_threads(threads)  # Ray sets OMP_NUM_THREADS; torch's own pool and the BLAS too
        self.options = options
        self.filesystems: Dict[str, Any] = {}

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        sizes = {str(row["id"]): int(row["size"]) for row in rows}
        remote_paths: Dict[str, str] = {}
        sources: List[Union[Source, InputError]] = []
        for row in rows:
            sources.append(self._source(row, remote_paths))
        out: Dict[str, List[Any]] = {"id": [], "kind": [], "line": [], "size": []}
        for event in annotate_sources(self.nlp, sources, self.options):
            if isinstance(event, Annotated):
                kind, record = RECORD, event.record
            elif isinstance(event, InputError):
                if event.path is None and event.id in remote_paths:
                    event.path = remote_paths[event.id]
                kind, record = ERROR, event.to_record()
            else:  # Resumed: done ids never reach the actors
                continue
            out["id"].append(event.id if isinstance(event, InputError) else record["id"])
            out["kind"].append(kind)
            out["line"].append(json.dumps(record, ensure_ascii=False))
            out["size"].append(sizes.get(out["id"][-1], 0))
        return {
            "id": np.array(out["id"], dtype=object),
            "kind": np.array(out["kind"], dtype=object),
            "line": np.array(out["line"], dtype=object),
            "size": np.array(out["size"], dtype=np.int64),
        }

    def annotate(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The same, as a method a Ray actor handle can call (``RayEngine._isolate``)."""
        return self(batch)

    def _source(self, row: Dict[str, Any], remote_paths: Dict[str, str]) -> Union[Source, InputError]:
        id, kind = str(row["id"]), str(row["kind"])
        if kind == FILE:
            return Source(id=id, path=Path(str(row["where"])))
        if kind == TEXT:
            line = str(row["where"])  # a stdin text's line number
            return Source(id=id, text=str(row["text"]), encoding=str(row["encoding"]) or None,
                          line=int(line) if line else None)
        remote = RemoteFile(id, str(row["root"]), str(row["where"]), int(row["size"]))
        remote_paths[id] = remote.path
        try:
            text, used = read_remote_text(remote, self.options.encoding, self.filesystems)
        except InputError as err:
            return err
        return Source(id=id, text=text, encoding=used)


def _row(source: Union[Source, RemoteFile]) -> Dict[str, Any]:
    row = {"id": source.id, "kind": TEXT, "where": "", "root": "", "text": "", "encoding": "",
           "size": input_size(source)}
    if isinstance(source, RemoteFile):
        row.update(kind=REMOTE, where=source.fs_path, root=source.root)
    elif source.path is not None:
        row.update(kind=FILE, where=str(source.path))
    else:
        row.update(text=source.text or "", encoding=source.encoding or "",
                   where="" if source.line is None else str(source.line))
    return row


def _batch(rows: List[Dict[str, Any]]) -> Dict[str, np.ndarray]:
    """``rows`` as the numpy batch Ray Data hands ``AnnotateActor``."""
    return {key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]}


def worker_died(row: Dict[str, Any], err: Exception) -> InputError:
    """The error of a row whose worker died each time it ran alone."""
    id, kind = str(row["id"]), str(row["kind"])
    path = None
    if kind == FILE:
        path = str(row["where"])
    elif kind == REMOTE:
        path = RemoteFile(id, str(row["root"]), str(row["where"]), int(row["size"])).path
    return InputError(
        id, WORKER_DIED,
        f"{id}: the Ray worker annotating it died each of the {ATTEMPTS} times it ran alone "
        f"({type(err).__name__}): killed (out of memory?) or crashed (a segfault in native code?); "
        "the run went on without it. Its worker's log is in the Ray session's logs folder; "
        "--engine local on it alone shows the crash. Rerun with --resume to retry it",
        path=path,
    )


def _event(kind: str, obj: Dict[str, Any]) -> Event:
    if kind == RECORD:
        return Annotated(obj)
    return InputError(obj["id"], obj["reason"], obj["message"], path=obj.get("path"))


def _load_info(model: str, code: Optional[str], settings: Sequence[str] = ()) -> Dict[str, str]:
    """Load the pipeline where the actors will, to fail early on a bad ``--model`` or ``--set``."""
    return model_info(load_pipeline(model, None if code is None else Path(code), settings))


def _portable(name: Optional[str]) -> Optional[str]:
    """A local path made absolute, so a worker in another folder finds it; a package name as is."""
    if name is None or not Path(name).exists():
        return name
    return str(Path(name).resolve())


class RayEngine:
    """Runs the job on Ray: a local one it starts, or the cluster at ``address``.

    ``workers`` actors (default: the cluster's CPUs over ``threads_per_worker``) each take
    ``threads_per_worker`` CPUs. The pipeline is loaded once on a worker at start, so a bad
    model is a ``ModelError`` before any output is touched.
    """

    def __init__(
        self,
        model: str,
        code: Optional[Path] = None,
        *,
        settings: Sequence[str] = (),
        address: Optional[str] = None,
        workers: Optional[int] = None,
        threads_per_worker: int = 1,
        chunk_rows: int = CHUNK_ROWS,
    ):
        if (workers is not None and workers < 1) or threads_per_worker < 1 or chunk_rows < 1:
            raise ValueError("workers, threads_per_worker and chunk_rows must be at least 1")
        self.model = _portable(model)
        self.code = None if code is None else _portable(str(code))
        self.settings = list(settings)
        self.address = address
        self.workers = workers
        self.threads = threads_per_worker
        self.chunk_rows = chunk_rows
        # Records a retried task delivered again, dropped at the driver.
        self.duplicates_dropped = 0
        self._owns_ray = False
        self._connect()
        try:
            self._info = self._probe()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        if not ray.is_initialized():
            quiet: Dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            try:
                if self.address is None:
                    cpus = max(os.cpu_count() or 1, (self.workers or 0) * self.threads)
                    ray.init(address="local", num_cpus=cpus, include_dashboard=False, **quiet)
                else:
                    ray.init(address=self.address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise EngineError(
                    f"can't connect to Ray at {self.address}: {err}. Start a cluster with "
                    "`ray start --head` (then --address auto), or leave out --address to start "
                    "a local one."
                ) from None
            self._owns_ray = True
        context = DataContext.get_current()
        context.enable_progress_bars = False  # the CLI has its own bar
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "bars disabled"
        # A batch that failed every try is logged with a traceback; _run runs its rows again.
        logging.getLogger("ray.data._internal.execution.streaming_executor_state").setLevel(logging.CRITICAL)

    def _probe(self) -> Dict[str, str]:
        probe = ray.remote(num_cpus=0, max_retries=0)(_load_info)
        try:
            return ray.get(probe.remote(self.model, self.code, self.settings))
        except RayTaskError as err:
            if isinstance(err.cause, ModelError):
                raise type(err.cause)(str(err.cause)) from None
            raise

    def model_info(self) -> Dict[str, str]:
        return dict(self._info)

    def pool_size(self) -> int:
        """The number of actors: ``workers``, else as many as the cluster's CPUs allow."""
        if self.workers is not None:
            return self.workers
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.threads))

    def annotate(
        self,
        inputs: Sequence[str],
        options: AnnotateOptions,
        *,
        done_ids: Optional[Set[str]] = None,
        stdin: Optional[BinaryIO] = None,
        on_progress: Optional[Callable[[int], None]] = None,
        with_docs: bool = False,
    ) -> Iterator[Event]:
        """As the local engine: an event per input, in completion order; each id once."""
        if with_docs:
            raise ValueError("the Ray engine's actors return records, not Docs; write --format jsonl")
        if options.n_process != 1:
            raise ValueError("--n-process is the local engine's; size the Ray engine with --workers")
        done = done_ids or set()
        progress = on_progress or (lambda n_bytes: None)
        seen: Set[str] = set()
        emitted: Set[str] = set()
        rows: List[Dict[str, Any]] = []
        for source in iter_inputs(inputs, options.glob, stdin=stdin, encoding=options.encoding,
                                  exclude=options.exclude):
            if isinstance(source, InputError):
                event: Event = source
            elif source.id in seen:  # before done: a duplicate of a done id is no resume
                event = duplicate_id_error(source)  # type: ignore[arg-type]  # a RemoteFile has .id, .path and .where
            elif source.id in done:
                seen.add(source.id)
                event = Resumed(source.id)
            else:
                seen.add(source.id)
                rows.append(_row(source))
                if len(rows) >= self.chunk_rows:
                    yield from self._run(rows, options, emitted, progress)
                    rows = []
                continue
            progress(input_size(source))
            yield event
        if rows:
            yield from self._run(rows, options, emitted, progress)

    def _actor_args(self, options: AnnotateOptions) -> Dict[str, Any]:
        return {"model": self.model, "code": self.code, "options": options, "settings": self.settings,
                "threads": self.threads, "cwd": os.getcwd()}

    def _run(
        self, rows: List[Dict[str, Any]], options: AnnotateOptions, emitted: Set[str],
        progress: Callable[[int], None],
    ) -> Iterator[Event]:
        blocks = max(1, math.ceil(len(rows) / options.batch_size))
        with warnings.catch_warnings():
            # Ray 2.60 deprecates these keyword arguments, to go in 2.64, and names no other way
            # to pass them: pyproject.toml's ray extra stays below 2.64.
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                AnnotateActor,
                fn_constructor_kwargs=self._actor_args(options),
                batch_size=options.batch_size,
                batch_format="numpy",
                compute=ActorPoolStrategy(size=self.pool_size()),
                num_cpus=self.threads,
                # Ray Data's defaults (-1, -1) retry a task forever: a text that kills its
                # worker would hang the run. Restarting an actor stays unbounded.
                max_restarts=-1,
                max_task_retries=ATTEMPTS - 1,
            )
        # A block whose task failed every try is dropped, not the run: its rows go to _isolate.
        context = getattr(dataset, "context", None) or DataContext.get_current()
        context.max_errored_blocks = -1
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            yield from self._events(batch, emitted, progress)
        lost = [row for row in rows if str(row["id"]) not in emitted]
        if lost:
            yield from self._isolate(lost, options, emitted, progress)

    def _isolate(
        self, rows: List[Dict[str, Any]], options: AnnotateOptions, emitted: Set[str],
        progress: Callable[[int], None],
    ) -> Iterator[Event]:
        """Annotate ``rows`` one per task, each actor running one task at a time, so a row that
        kills its worker takes no other row with it; a row whose worker dies ``ATTEMPTS`` times
        is a ``WORKER_DIED`` error. An exception the actor raised is a bug: it is raised."""
        actor_class = ray.remote(AnnotateActor).options(
            num_cpus=self.threads, max_restarts=-1, max_task_retries=ATTEMPTS - 1,
        )
        actors = [actor_class.remote(**self._actor_args(options)) for _ in range(min(self.pool_size(), len(rows)))]
        idle = list(actors)
        queue: Deque[Dict[str, Any]] = deque(rows)
        running: Dict[Any, Tuple[Any, Dict[str, Any]]] = {}
        try:
            while queue or running:
                while idle and queue:
                    actor, row = idle.pop(), queue.popleft()
                    running[actor.annotate.remote(_batch([row]))] = (actor, row)
                (ref,), _ = ray.wait(list(running), num_returns=1)
                actor, row = running.pop(ref)
                idle.append(actor)
                try:
                    batch = ray.get(ref)
                except RayTaskError:
                    raise
                except RayError as err:  # the actor died (ActorDiedError, ActorUnavailableError, ...)
                    emitted.add(str(row["id"]))
                    progress(int(row["size"]))
                    yield worker_died(row, err)
                    continue
                yield from self._events(batch, emitted, progress)
        finally:
            for actor in actors:
                ray.kill(actor)

    def _events(
        self, batch: Dict[str, np.ndarray], emitted: Set[str], progress: Callable[[int], None]
    ) -> Iterable[Event]:
        for id, kind, line, size in zip(batch["id"], batch["kind"], batch["line"], batch["size"]):
            if str(id) in emitted:
                self.duplicates_dropped += 1
                continue
            emitted.add(str(id))
            progress(int(size))
            yield _event(str(kind), json.loads(line))

    def close(self) -> None:
        if self._owns_ray:
            self._owns_ray = False
            ray.shutdown()
