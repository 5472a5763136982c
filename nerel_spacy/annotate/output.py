"""Output: whole JSON lines, synced per batch and safe from Ctrl-C, that a rerun resumes.

An interrupted run leaves valid JSONL that ``prepare_output(..., resume=True)`` continues
without duplicates. ``write_events`` drives any writer with ``write_annotated``, ``sync``
and ``lines``: ``JsonlWriter`` here, ``DocSinkWriter`` (``sink.py``) for the formats that
write whole docs.
"""
import errno
import json
import os
import signal
import stat
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Optional, Protocol, Set

from ..formats.base import OutputError
from .records import Annotated, Event, Resumed
from .sources import InputError


class JsonlWriter:
    """Appends JSON lines, each in one ``write`` call; ``sync()`` flushes and fsyncs them.

    A ``lazy`` writer opens its file at the first line, so a run with nothing to write
    leaves no file behind.
    """

    def __init__(
        self,
        path: Optional[Path] = None,
        stream: Optional[IO[bytes]] = None,
        *,
        append: bool = True,
        lazy: bool = False,
    ):
        if (path is None) == (stream is None):
            raise ValueError("give JsonlWriter a path or a stream")
        self.path = path
        self._owned = stream is None
        self._mode = "ab" if append else "wb"
        self._file: Optional[IO[bytes]] = None
        self._fsync = False
        self._closed = False
        self.lines = 0
        if stream is not None:
            self._attach(stream)
        elif not lazy:
            self._open()

    def _open(self) -> IO[bytes]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._attach(open(self.path, self._mode))

    def _attach(self, stream: IO[bytes]) -> IO[bytes]:
        self._file = stream
        try:
            self._fsync = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):
            self._fsync = False
        return stream

    def write(self, record: Dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        file = self._file or self._open()
        with _sigint_deferred():
            file.write(line.encode("utf-8"))
        self.lines += 1

    def write_annotated(self, event: Annotated) -> None:
        self.write(event.record)

    def sync(self) -> None:
        if self._file is None:
            return
        with _sigint_deferred():
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """Sync and close the file; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self.sync()
        if self._owned and self._file is not None:
            self._file.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends, so a line is never cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: List[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if received and previous is not signal.SIG_IGN:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            else:
                raise KeyboardInterrupt


# Errors of the output's file system as a whole (full, read-only, failing): no other
# document would be written either, so the run stops; what it wrote stays, for --resume.
OUTPUT_FATAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})

def read_done_ids(path: Path, truncate_partial: bool = True) -> Set[str]:
    """The ids already in an output JSONL; a trailing partial line is cut off the file.

    A crash can leave the last line half written; it is removed so that appending
    continues on a line boundary. A bad line before the last one is an ``OutputError``.
    """
    ids: Set[str] = set()
    good_end = 0
    with open(path, "rb") as file:
        for number, line in enumerate(file, 1):
            if not line.endswith(b"\n"):
                break
            if line.strip():
                try:
                    record = json.loads(line)
                    ids.add(str(record["id"]))
                except (ValueError, KeyError, TypeError):
                    raise OutputError(
                        f"{path}, line {number}: not a JSON object with an \"id\"; remove that "
                        "line to resume, or start again with --overwrite"
                    ) from None
            good_end += len(line)
        size = file.seek(0, os.SEEK_END)
    if size > good_end and truncate_partial:
        with open(path, "r+b") as file:
            file.truncate(good_end)
            file.flush()
            os.fsync(file.fileno())
    return ids


def prepare_output(path: Path, *, resume: bool = False, overwrite: bool = False) -> Set[str]:
    """Make ``path`` ready to append to; return the ids it already holds (when resuming).

    Without ``resume`` or ``overwrite``, an existing non-empty output is an ``OutputError``
    rather than work silently lost or duplicated.
    """
    if resume and overwrite:
        raise OutputError("--resume and --overwrite contradict each other; choose one")
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name such as {path / 'out.jsonl'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if resume:
        return read_done_ids(path) if path.exists() else set()
    if path.exists() and path.stat().st_size > 0 and not overwrite:
        raise OutputError(
            f"{path} already exists and is not empty; add --resume to continue it, "
            "or --overwrite to start again"
        )
    with open(path, "wb"):
        pass
    return set()


@dataclass
class RunStats:
    """What a run did, for the summary table and the exit status."""

    annotated: int = 0
    resumed: int = 0
    failed: Counter = field(default_factory=Counter)
    chars: int = 0
    split: int = 0
    fallback_decoded: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: Optional[float] = None

    @property
    def n_failed(self) -> int:
        return sum(self.failed.values())

    @property
    def docs_seen(self) -> int:
        """Inputs dealt with so far: annotated, skipped or failed."""
        return self.annotated + self.resumed + self.n_failed

    @property
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def docs_per_second(self) -> float:
        return self.annotated / self.seconds if self.seconds > 0 else 0.0

    @property
    def chars_per_second(self) -> float:
        return self.chars / self.seconds if self.seconds > 0 else 0.0

    def count(self, event: Event) -> None:
        if isinstance(event, Annotated):
            self.annotated += 1
            self.chars += event.record["n_chars"]
            self.split += "parts" in event.record
            self.fallback_decoded += "encoding" in event.record
        elif isinstance(event, Resumed):
            self.resumed += 1
        else:
            self.failed[event.reason] += 1


class EventWriter(Protocol):
    """What ``write_events`` writes records to: ``JsonlWriter`` or ``DocSinkWriter``."""

    lines: int
    path: Optional[Path]

    def write_annotated(self, event: Annotated) -> None:
        """Write one record (or its doc); an ``InputError`` says this input can't be written."""

    def sync(self) -> None:
        """Make what was written durable."""

    def close(self) -> None:
        """Sync and release the output; a second call does nothing."""


def write_events(
    events: Iterable[Event],
    output: EventWriter,
    errors: Optional[JsonlWriter] = None,
    *,
    stats: Optional[RunStats] = None,
    sync_every: int = 32,
    on_event: Optional[Callable[[Event], None]] = None,
) -> RunStats:
    """Write records to ``output`` and failures to ``errors``, syncing every ``sync_every`` records.

    ``stats`` is updated as events arrive, so it is complete up to an interruption;
    both writers are synced on the way out, whatever stopped the run. A record ``output``
    refuses with an ``InputError`` is counted and listed as that failure instead.
    """
    stats = stats if stats is not None else RunStats()
    try:
        for event in events:
            if isinstance(event, Annotated):
                try:
                    output.write_annotated(event)
                except InputError as err:
                    event = err  # annotated, but the output format can't hold it
                else:
                    if output.lines % sync_every == 0:
                        output.sync()
                        if errors is not None:
                            errors.sync()
            if isinstance(event, InputError) and errors is not None:
                errors.write(event.to_record())
            stats.count(event)
            if on_event is not None:
                on_event(event)
    finally:
        stats.finished = time.perf_counter()
        output.sync()
        if errors is not None:
            errors.sync()
    return stats
