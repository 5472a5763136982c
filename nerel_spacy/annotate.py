"""Batch annotation: stream texts through any spaCy pipeline into resumable JSONL.

Inputs are discovered lazily (folders, files, stdin lines), so a run over 100k files
holds one batch of texts in memory, not the corpus. Every bad input becomes an
``InputError`` that is recorded and counted; the run goes on. Output lines are
written whole and synced per batch, so an interrupted run leaves valid JSONL that
``prepare_output(..., resume=True)`` continues without duplicates.

Character offsets index the text as decoded: a UTF-8 byte order mark is dropped and
line endings are kept as they are (read files with ``newline=""`` to match them).
"""
import itertools
import json
import os
import re
import signal
import stat
import threading
import time
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import (
    IO,
    Any,
    BinaryIO,
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import import_file

from .schema import SPANS_KEY

STDIN = "-"
DEFAULT_GLOB = "*.txt"
DEFAULT_THRESHOLD = 0.5
DEFAULT_MAX_CHARS = 100_000
LONG_TEXT_POLICIES = ("split", "skip")
# Bytes sniffed for NUL to tell binary files from text.
BINARY_SNIFF_BYTES = 8192
# Docs processed inside one ``nlp.memory_zone()``: strings added by a zone's docs are
# freed when it ends, which keeps a long run's memory flat.
MEMORY_ZONE_DOCS = 10_000

# Reasons an input is not annotated (the ``reason`` field of the errors JSONL).
MISSING = "missing"
BROKEN_SYMLINK = "broken-symlink"
UNREADABLE = "unreadable"
BINARY = "binary"
NOT_UTF8 = "not-utf8"
EMPTY = "empty"
TOO_LONG = "too-long"
DUPLICATE_ID = "duplicate-id"
BAD_JSONL = "bad-jsonl"


class InputError(Exception):
    """An input that could not be annotated, with a machine-readable reason and the fix."""

    def __init__(self, id: str, reason: str, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.id = id
        self.reason = reason
        self.message = message
        self.path = path

    def to_record(self) -> Dict[str, Any]:
        record: Dict[str, Any] = {"id": self.id, "reason": self.reason, "message": self.message}
        if self.path is not None:
            record["path"] = self.path
        return record


class ModelError(ValueError):
    """The pipeline named by ``--model`` can't be loaded."""


class OutputError(ValueError):
    """The output file can't be used as asked (exists without --resume, or is corrupt)."""


@dataclass(frozen=True)
class Source:
    """One input document: a file still to be read, or a stdin line already decoded."""

    id: str
    path: Optional[Path] = None
    text: Optional[str] = None
    encoding: Optional[str] = None


@dataclass(frozen=True)
class Resumed:
    """An input skipped because its id is already in the output (``--resume``)."""

    id: str


@dataclass(frozen=True)
class Annotated:
    """One output record, ready to be written."""

    record: Dict[str, Any]


Event = Union[Annotated, Resumed, InputError]


def load_pipeline(model: str, code: Optional[Path] = None) -> Language:
    """Load a pipeline folder or installed package, after importing ``code`` (custom components)."""
    if code is not None:
        if not Path(code).is_file():
            raise ModelError(f"--code {code}: no such Python file")
        import_file("annotate_code", code)
    try:
        return spacy.load(model)
    except Exception as err:  # any failure to load is the same usage problem for the user
        raise ModelError(
            f"can't load pipeline {model!r}: {err}\nGive a pipeline folder (the one holding "
            "config.cfg) or an installed package name; a pipeline with custom components needs "
            "its package installed, or --code FILE that registers them."
        ) from err


# ---------------------------------------------------------------------------
# Input discovery


def iter_sources(
    inputs: Iterable[str],
    glob: str = DEFAULT_GLOB,
    *,
    stdin: Optional[BinaryIO] = None,
    encoding: Optional[str] = None,
) -> Iterator[Union[Source, InputError]]:
    """Lazily yield a ``Source`` per document named by ``inputs``, or an ``InputError``.

    A folder yields its files matching ``glob`` recursively in sorted order, with ids
    relative to the folder; a file yields itself with its name as id; ``-`` yields the
    lines of ``stdin``. Nothing is read from files here, so counting is cheap.

    ``glob`` is matched against the path relative to the folder from the right, as
    ``PurePath.match`` does, so ``*.txt`` matches at any depth (``**/`` in front is
    accepted and changes nothing). Symlinked folders are not followed.
    """
    for name in inputs:
        if name == STDIN:
            if stdin is None:
                raise ValueError("'-' names stdin, but no stdin stream was given")
            yield from iter_stdin(stdin, encoding=encoding)
            continue
        path = Path(name)
        if path.is_dir():
            yield from _iter_folder(path, glob)
        elif path.is_symlink() and not path.exists():
            yield _broken_symlink(path, id=name)
        elif not path.exists():
            yield InputError(
                name, MISSING, f"{name}: no such file or folder; check the path", path=name
            )
        else:
            yield Source(id=path.name, path=path)


def _iter_folder(root: Path, glob: str) -> Iterator[Union[Source, InputError]]:
    while glob.startswith("**/"):
        glob = glob[3:]
    walk_errors: List[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_errors.append):
        dirnames.sort()
        while walk_errors:
            err = walk_errors.pop(0)
            yield _unreadable(root, Path(err.filename or dirpath), err)
        for filename in sorted(filenames):
            path = Path(dirpath, filename)
            rel = PurePosixPath(path.relative_to(root).as_posix())
            if not rel.match(glob):
                continue
            if path.is_symlink() and not path.exists():
                yield _broken_symlink(path, id=str(rel))
            else:
                yield Source(id=str(rel), path=path)
    while walk_errors:
        err = walk_errors.pop(0)
        yield _unreadable(root, Path(err.filename or root), err)


def _broken_symlink(path: Path, id: str) -> InputError:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return InputError(
        id,
        BROKEN_SYMLINK,
        f"{path}: broken symlink (its target {target} does not exist or loops); "
        "fix or remove the link",
        path=str(path),
    )


def _unreadable(root: Path, path: Path, err: OSError) -> InputError:
    try:
        id = path.relative_to(root).as_posix()
    except ValueError:
        id = str(path)
    return InputError(
        id, UNREADABLE, f"{path}: can't be read ({err.strerror}); check its permissions",
        path=str(path),
    )


def iter_stdin(stream: BinaryIO, encoding: Optional[str] = None) -> Iterator[Union[Source, InputError]]:
    """Yield a ``Source`` per non-blank line: JSONL (an object with "text") or plain text.

    Each line is detected on its own. Ids are the JSONL ``id`` field, else ``stdin:N``
    with N the 1-based line number. Blank lines separate texts and are not inputs.
    """
    for number, raw in enumerate(stream, 1):
        line_id = f"stdin:{number}"
        raw = raw.rstrip(b"\r\n")
        try:
            line, used = decode_bytes(raw, encoding)
        except InputError as err:
            yield InputError(line_id, err.reason, f"stdin line {number}: {err.message}")
            continue
        if not line.strip():
            continue
        obj = None
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
        if isinstance(obj, dict):
            text = obj.get("text")
            if not isinstance(text, str):
                yield InputError(
                    line_id,
                    BAD_JSONL,
                    f"stdin line {number}: a JSON object without a string \"text\" field; "
                    'give each line as {"id": ..., "text": "..."}',
                )
                continue
            doc_id = obj.get("id")
            yield Source(id=line_id if doc_id is None else str(doc_id), text=text, encoding=used)
        else:
            yield Source(id=line_id, text=line, encoding=used)


def count_sources(inputs: Sequence[str], glob: str = DEFAULT_GLOB) -> Optional[int]:
    """How many sources ``inputs`` name, from paths alone; ``None`` when stdin is among them."""
    if STDIN in inputs:
        return None
    return sum(1 for _ in iter_sources(inputs, glob))


def decode_bytes(data: bytes, encoding: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """Decode UTF-8 (a BOM is dropped), else ``encoding``; returns the text and the fallback used."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        where = f"byte 0x{data[err.start]:02x} at offset {err.start}"
        if encoding is None:
            raise InputError("", NOT_UTF8, f"not UTF-8 ({where}); try --encoding cp1251") from None
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as err:
        raise InputError(
            "", NOT_UTF8,
            f"neither UTF-8 ({where}) nor {encoding} (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); convert it to UTF-8 or try another --encoding",
        ) from None
    except LookupError:
        raise ValueError(f"unknown --encoding {encoding!r}; try cp1251 or koi8_r") from None


def load_text(source: Source, encoding: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """The text of ``source`` and the fallback encoding used, or an ``InputError`` saying why not."""
    if source.path is None:
        text, used = source.text or "", source.encoding
    else:
        text, used = _read_file(source, encoding)
    if not text.strip():
        where = source.path if source.path is not None else source.id
        raise InputError(source.id, EMPTY, f"{where}: empty or only whitespace; nothing to annotate",
                         path=_path_str(source))
    return text, used


def _read_file(source: Source, encoding: Optional[str]) -> Tuple[str, Optional[str]]:
    path = source.path
    assert path is not None
    try:
        # Checked before opening: opening a FIFO for reading blocks until someone writes to it.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(source.id, UNREADABLE,
                             f"{path}: not a regular file (a FIFO or device); leave it out",
                             path=str(path))
        with open(path, "rb") as file:
            data = file.read()
    except OSError as err:
        raise InputError(
            source.id, UNREADABLE, f"{path}: can't be read ({err.strerror}); check its permissions",
            path=str(path),
        ) from None
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise InputError(
            source.id, BINARY,
            f"{path}: binary (NUL bytes in the first {BINARY_SNIFF_BYTES // 1024} KiB); "
            "if it is UTF-16 text, convert it to UTF-8",
            path=str(path),
        )
    try:
        return decode_bytes(data, encoding)
    except InputError as err:
        raise InputError(source.id, err.reason, f"{path}: {err.message}", path=str(path)) from None


def _path_str(source: Source) -> Optional[str]:
    return None if source.path is None else str(source.path)


# ---------------------------------------------------------------------------
# Long texts


_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SENTENCE = re.compile(r"[.!?…][\"'»”)\]]*\s+")
_LINE = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")


def split_text(text: str, max_chars: int) -> List[Tuple[int, int]]:
    """Cut ``text`` into ``(start, end)`` ranges of at most ``max_chars`` that cover it all.

    Each cut is the last paragraph break in the second half of the window, else the last
    sentence end, line break or space there, else a hard cut at ``max_chars``. Whitespace
    at a cut stays with the part before it, so parts join back into ``text`` exactly.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    ranges = []
    start = 0
    while len(text) - start > max_chars:
        window_start = start + max_chars // 2
        window = text[window_start : start + max_chars]
        cut = start + max_chars
        for boundary in (_PARAGRAPH, _SENTENCE, _LINE, _SPACE):
            last = None
            for last in boundary.finditer(window):
                pass
            if last is not None:
                cut = window_start + last.end()
                break
        ranges.append((start, cut))
        start = cut
    ranges.append((start, len(text)))
    return ranges


# ---------------------------------------------------------------------------
# Thresholds and records


@dataclass(frozen=True)
class Thresholds:
    """The score a ``doc.cats`` label needs to be reported: per label, else ``default``."""

    default: float = DEFAULT_THRESHOLD
    per_label: Dict[str, float] = field(default_factory=dict)

    def __call__(self, label: str) -> float:
        return self.per_label.get(label, self.default)


def resolve_thresholds(nlp: Language, threshold: Optional[float] = None) -> Thresholds:
    """The pipeline's own cats thresholds, unless ``threshold`` is given to override them all.

    A component's ``cats_thresholds`` dict (label -> float) wins; else the ``cfg["threshold"]``
    of a component that assigns ``doc.cats``; else ``DEFAULT_THRESHOLD``.
    """
    if threshold is not None:
        return Thresholds(default=float(threshold))
    default: Optional[float] = None
    per_label: Dict[str, float] = {}
    for name, component in nlp.pipeline:
        own = getattr(component, "cats_thresholds", None)
        if callable(own):
            own = own()
        if isinstance(own, dict) and own:
            per_label.update({str(k): float(v) for k, v in own.items()})
            continue
        cfg = getattr(component, "cfg", None)
        assigns = nlp.get_pipe_meta(name).assigns
        if (
            default is None
            and isinstance(cfg, dict)
            and isinstance(cfg.get("threshold"), (int, float))
            and "doc.cats" in assigns
        ):
            default = float(cfg["threshold"])
    return Thresholds(default=DEFAULT_THRESHOLD if default is None else default, per_label=per_label)


def model_info(nlp: Language) -> Dict[str, str]:
    """The ``model`` field of every record: ``{lang}_{name}`` and the pipeline's version."""
    meta = nlp.meta
    return {
        "name": f"{meta.get('lang', nlp.lang)}_{meta.get('name', 'pipeline')}",
        "version": str(meta.get("version", "0.0.0")),
    }


def span_record(span: Span, offset: int = 0) -> Dict[str, Any]:
    """A span as ``{"start", "end", "label", "text"}`` in the original text's char offsets."""
    record: Dict[str, Any] = {
        "start": span.start_char + offset,
        "end": span.end_char + offset,
        "label": span.label_,
        "text": span.text,
    }
    if span.kb_id_:
        record["kb_id"] = span.kb_id_
    return record


@dataclass
class _Part:
    """What one part of a text contributes to its record."""

    ents: List[Dict[str, Any]]
    spans: Optional[List[Dict[str, Any]]]
    cats: Dict[str, float]


def _doc_part(doc: Doc, offset: int) -> _Part:
    spans = None
    if SPANS_KEY in doc.spans:
        spans = [span_record(span, offset) for span in doc.spans[SPANS_KEY]]
    return _Part(
        ents=[span_record(ent, offset) for ent in doc.ents],
        spans=spans,
        cats={str(label): float(score) for label, score in doc.cats.items()},
    )


def build_record(
    id: str,
    n_chars: int,
    parts: Sequence[_Part],
    ranges: Sequence[Tuple[int, int]],
    *,
    thresholds: Thresholds,
    all_cats: bool,
    model: Dict[str, str],
    encoding: Optional[str] = None,
) -> Dict[str, Any]:
    """Merge the parts of one text into its output record (one part unless it was split).

    A split text's cats take each label's highest score over its parts: the text expresses
    a relation type when any part does.
    """
    ents = [ent for part in parts for ent in part.ents]
    have_spans = any(part.spans is not None for part in parts)
    cats: Dict[str, float] = {}
    for part in parts:
        for label, score in part.cats.items():
            cats[label] = max(score, cats.get(label, score))
    record: Dict[str, Any] = {"id": id, "n_chars": n_chars, "ents": ents}
    if have_spans:
        record["spans"] = [span for part in parts for span in (part.spans or [])]
    record["cats"] = {
        label: round(score, 6)
        for label, score in cats.items()
        if all_cats or score >= thresholds(label)
    }
    if len(ranges) > 1:
        record["parts"] = [{"start": start, "end": end} for start, end in ranges]
    if encoding is not None:
        record["encoding"] = encoding
    record["model"] = model
    return record


# ---------------------------------------------------------------------------
# Streaming annotation


@dataclass(frozen=True)
class AnnotateOptions:
    """The knobs of a run; the CLI's options map onto these one to one."""

    glob: str = DEFAULT_GLOB
    batch_size: int = 32
    n_process: int = 1
    threshold: Optional[float] = None
    all_cats: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    long_texts: str = "split"
    encoding: Optional[str] = None

    def __post_init__(self) -> None:
        if self.long_texts not in LONG_TEXT_POLICIES:
            raise ValueError(f"long_texts must be one of {LONG_TEXT_POLICIES}, not {self.long_texts!r}")
        if self.max_chars < 1 or self.batch_size < 1 or self.n_process < 1:
            raise ValueError("max_chars, batch_size and n_process must be at least 1")
        if self.encoding is not None:
            "".encode(self.encoding)  # LookupError now rather than at the first bad file


@dataclass(frozen=True)
class _Context:
    id: str
    n_chars: int
    ranges: Tuple[Tuple[int, int], ...]
    index: int
    encoding: Optional[str]


def annotate_sources(
    nlp: Language,
    sources: Iterable[Union[Source, InputError]],
    options: AnnotateOptions = AnnotateOptions(),
    done_ids: Optional[Set[str]] = None,
) -> Iterator[Event]:
    """Stream ``sources`` through ``nlp``, yielding a record, a resume skip or an error per input.

    Texts are read lazily and fed to ``nlp.pipe(as_tuples=True)``; ids in ``done_ids`` are
    skipped before their file is read. Parts of a split text come back in order and are
    merged into one record, so at most one text's parts are held at a time. Raises
    ``nlp.max_length`` to ``options.max_chars`` where it is lower, since no part is longer.
    """
    done = done_ids or set()
    thresholds = resolve_thresholds(nlp, options.threshold)
    model = model_info(nlp)
    if nlp.max_length < options.max_chars:
        nlp.max_length = options.max_chars
    pending: Deque[Event] = deque()
    seen: Set[str] = set()

    def feed() -> Iterator[Tuple[str, _Context]]:
        for source in sources:
            if isinstance(source, InputError):
                pending.append(source)
                continue
            if source.id in done:
                pending.append(Resumed(source.id))
                continue
            if source.id in seen:
                pending.append(InputError(
                    source.id, DUPLICATE_ID,
                    f"{source.path or source.id}: id {source.id!r} was already annotated in this "
                    "run; give inputs with the same relative paths separate runs, or unique ids",
                    path=_path_str(source),
                ))
                continue
            seen.add(source.id)
            try:
                text, used = load_text(source, options.encoding)
            except InputError as err:
                pending.append(err)
                continue
            if len(text) > options.max_chars:
                if options.long_texts == "skip":
                    pending.append(InputError(
                        source.id, TOO_LONG,
                        f"{source.path or source.id}: {len(text)} characters, over --max-chars "
                        f"{options.max_chars}; raise --max-chars or use --long-texts split",
                        path=_path_str(source),
                    ))
                    continue
                ranges = tuple(split_text(text, options.max_chars))
            else:
                ranges = ((0, len(text)),)
            for index, (start, end) in enumerate(ranges):
                yield text[start:end], _Context(source.id, len(text), ranges, index, used)

    texts = feed()
    parts: List[_Part] = []
    while True:
        first = next(texts, None)
        while pending:
            yield pending.popleft()
        if first is None:
            break
        zone = itertools.chain([first], itertools.islice(texts, MEMORY_ZONE_DOCS - 1))
        with nlp.memory_zone():
            stream = nlp.pipe(
                zone, as_tuples=True, batch_size=options.batch_size, n_process=options.n_process
            )
            for doc, ctx in stream:
                while pending:
                    yield pending.popleft()
                parts.append(_doc_part(doc, ctx.ranges[ctx.index][0]))
                if ctx.index == len(ctx.ranges) - 1:
                    record = build_record(
                        ctx.id, ctx.n_chars, parts, ctx.ranges, thresholds=thresholds,
                        all_cats=options.all_cats, model=model, encoding=ctx.encoding,
                    )
                    parts = []
                    yield Annotated(record)
    while pending:
        yield pending.popleft()


# ---------------------------------------------------------------------------
# Output


class JsonlWriter:
    """Appends JSON lines, each in one ``write`` call; ``sync()`` flushes and fsyncs them."""

    def __init__(
        self, path: Optional[Path] = None, stream: Optional[IO[bytes]] = None, *, append: bool = True
    ):
        if (path is None) == (stream is None):
            raise ValueError("give JsonlWriter a path or a stream")
        self.path = path
        self._owned = stream is None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = open(path, "ab" if append else "wb")
        self._file: IO[bytes] = stream
        self.lines = 0
        try:
            self._fsync = stat.S_ISREG(os.fstat(self._file.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):
            self._fsync = False

    def write(self, record: Dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with _sigint_deferred():
            self._file.write(line.encode("utf-8"))
        self.lines += 1

    def sync(self) -> None:
        with _sigint_deferred():
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        self.sync()
        if self._owned:
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


def errors_path_for(output: Path) -> Path:
    """The default errors file beside ``output``: ``out.jsonl`` -> ``out.errors.jsonl``."""
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(stem + ".errors.jsonl")


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
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def docs_per_second(self) -> float:
        return self.annotated / self.seconds if self.seconds > 0 else 0.0

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


def write_events(
    events: Iterable[Event],
    output: JsonlWriter,
    errors: Optional[JsonlWriter] = None,
    *,
    stats: Optional[RunStats] = None,
    sync_every: int = 32,
    on_event: Optional[Callable[[Event], None]] = None,
) -> RunStats:
    """Write records to ``output`` and failures to ``errors``, syncing every ``sync_every`` records.

    ``stats`` is updated as events arrive, so it is complete up to an interruption;
    both writers are synced on the way out, whatever stopped the run.
    """
    stats = stats if stats is not None else RunStats()
    try:
        for event in events:
            if isinstance(event, Annotated):
                output.write(event.record)
                if output.lines % sync_every == 0:
                    output.sync()
                    if errors is not None:
                        errors.sync()
            elif isinstance(event, InputError) and errors is not None:
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


__all__ = [
    "AnnotateOptions",
    "Annotated",
    "Event",
    "InputError",
    "JsonlWriter",
    "ModelError",
    "OutputError",
    "Resumed",
    "RunStats",
    "Source",
    "Thresholds",
    "annotate_sources",
    "build_record",
    "count_sources",
    "decode_bytes",
    "errors_path_for",
    "iter_sources",
    "iter_stdin",
    "load_pipeline",
    "load_text",
    "model_info",
    "prepare_output",
    "read_done_ids",
    "resolve_thresholds",
    "span_record",
    "split_text",
    "write_events",
]
