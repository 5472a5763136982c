"""Streaming annotation: sources in, one record, resume skip or error per input out.

Texts are read lazily, long ones split into parts, and the parts fed to ``nlp.pipe`` in
batches of a bounded number of characters, so a run holds one batch, not the corpus
nor a whole long text's parts, whatever the sizes of its inputs. A batch the pipeline
raises on is run again a part at a time; a text with a part that still raises is an
input error (``PIPELINE_ERROR``) and the run goes on. With ``n_process`` above 1 the
batches run in worker processes (``workers``), and a text that kills its worker each time
it runs alone is an input error too (``WORKER_DIED``).
"""
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Iterable, Iterator, List, Optional, Set, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..batching import DEFAULT_MAX_BATCH_CHARS, batch_by_chars
from ..formats.join import join_parts
from ..heap import HeapTrimmer
from .records import Annotated, Event, Part, Resumed, build_record, doc_part, model_info, resolve_thresholds
from .sources import (
    DEFAULT_GLOB,
    DUPLICATE_ID,
    TOO_LONG,
    InputError,
    Source,
    load_text,
    path_str,
    source_size,
)
from .split import split_text
from .workers import ATTEMPTS, Died, Outcome, Raised, annotate_batch, pipe_in_workers

# Longer texts are split into parts of at most this many characters; no larger than the
# batch budget, so a part fits one batch (benchmarks/memory.py).
DEFAULT_MAX_CHARS = 25_000
LONG_TEXT_POLICIES = ("split", "skip")
# Docs processed inside one ``nlp.memory_zone()``: strings added by a zone's docs are
# freed when it ends, which keeps a long run's memory flat.
MEMORY_ZONE_DOCS = 10_000
# Reason in the errors JSONL: the pipeline raised an exception on this text, alone in its
# batch. Not MemoryError (a smaller batch is no cure for a machine out of memory) nor
# BaseExceptions such as KeyboardInterrupt: those stop the run.
PIPELINE_ERROR = "pipeline-error"
# Reason in the errors JSONL: the worker process annotating this text died each time it ran
# alone (killed, out of memory?, or crashed in native code); ``--n-process`` and ``--engine ray``.
WORKER_DIED = "worker-died"


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
    # None: DEFAULT_MAX_BATCH_CHARS, or max_chars where that is larger.
    max_batch_chars: Optional[int] = None
    # Paths a folder walk never yields nor enters: the run's own output, errors file and
    # manifest, so an output inside an input folder is not read back (the CLI fills it).
    exclude: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.long_texts not in LONG_TEXT_POLICIES:
            raise ValueError(f"long_texts must be one of {LONG_TEXT_POLICIES}, not {self.long_texts!r}")
        if self.max_chars < 1 or self.batch_size < 1 or self.n_process < 1:
            raise ValueError("max_chars, batch_size and n_process must be at least 1")
        if self.max_batch_chars is not None and self.max_batch_chars < self.max_chars:
            raise ValueError(
                f"--max-batch-chars {self.max_batch_chars} is below --max-chars {self.max_chars}, "
                "so a part of a split text would not fit in a batch; raise --max-batch-chars or "
                "lower --max-chars"
            )
        if self.encoding is not None:
            "".encode(self.encoding)  # LookupError now rather than at the first bad file

    @property
    def batch_chars(self) -> int:
        """The character budget of one batch (at least ``max_chars``, so every part fits)."""
        if self.max_batch_chars is not None:
            return self.max_batch_chars
        return max(DEFAULT_MAX_BATCH_CHARS, self.max_chars)


@dataclass(frozen=True)
class _Context:
    id: str
    n_chars: int
    ranges: Tuple[Tuple[int, int], ...]
    index: int
    encoding: Optional[str]
    # Input bytes this part stands for in progress: its share of the source's size.
    progress: int
    path: Optional[str] = None


def annotate_sources(
    nlp: Language,
    sources: Iterable[Union[Source, InputError]],
    options: AnnotateOptions = AnnotateOptions(),
    done_ids: Optional[Set[str]] = None,
    on_progress: Optional[Callable[[int], None]] = None,
    *,
    with_docs: bool = False,
) -> Iterator[Event]:
    """Stream ``sources`` through ``nlp``, yielding a record, a resume skip or an error per input.

    Texts are read lazily and fed to ``nlp.pipe`` in batches of at most ``options.batch_chars``
    characters; ids in ``done_ids`` are skipped before their file is read. Parts of a split
    text come back in order and are merged into one record, so at most one text's parts are
    held at a time, and freed heap memory goes back to the OS every
    ``heap.TRIM_EVERY_CHARS`` characters. ``on_progress`` is called with the input bytes (``source_size``) each
    annotated part, failure or skip accounts for, so a bar moves within a long text. Raises
    ``nlp.max_length`` to ``options.max_chars`` where it is lower, since no part is longer.
    A text the pipeline raises on (``_pipe_parts``) is a ``PIPELINE_ERROR``, one that kills
    its worker process each time a ``WORKER_DIED``; the parts of it still to come are skipped.

    ``with_docs`` also hands each ``Annotated`` event its whole ``Doc`` (a split text's parts
    joined by ``join_parts``), for the formats that write docs. A memory zone ends only
    between texts, so the parts of a text are all valid when they are joined.
    """
    done = done_ids or set()
    thresholds = resolve_thresholds(nlp, options.threshold)
    model = model_info(nlp)
    if nlp.max_length < options.max_chars:
        nlp.max_length = options.max_chars
    pending: Deque[Event] = deque()
    seen: Set[str] = set()
    progress = on_progress or (lambda n_bytes: None)
    trimmer = HeapTrimmer()
    failed: Set[str] = set()  # texts a part of which the pipeline raised on

    def skip(event: Event, source: Union[Source, InputError]) -> None:
        pending.append(event)
        progress(source_size(source))

    def feed() -> Iterator[Tuple[str, _Context]]:
        for source in sources:
            if isinstance(source, InputError):
                skip(source, source)
                continue
            # A second source with an id is a duplicate even when the id is done: checked
            # first, a --resume would have skipped it as done and lost it without a trace.
            if source.id in seen:
                skip(duplicate_id_error(source), source)
                continue
            seen.add(source.id)
            if source.id in done:
                skip(Resumed(source.id), source)
                continue
            try:
                text, used = load_text(source, options.encoding)
            except InputError as err:
                skip(err, source)
                continue
            if len(text) > options.max_chars:
                if options.long_texts == "skip":
                    skip(InputError(
                        source.id, TOO_LONG,
                        f"{source.where}: {len(text)} characters, over --max-chars "
                        f"{options.max_chars}; raise --max-chars or use --long-texts split",
                        path=path_str(source),
                    ), source)
                    continue
                ranges = tuple(split_text(text, options.max_chars))
            else:
                ranges = ((0, len(text)),)
            size, n = source_size(source), len(text)
            for index, (start, end) in enumerate(ranges):
                share = size * end // n - size * start // n
                if source.id in failed:  # an earlier part raised: the text fails whole
                    progress(share)
                    continue
                yield text[start:end], _Context(source.id, n, ranges, index, used, share, path_str(source))

    texts = feed()
    parts: List[Part] = []
    doc_parts: List[Tuple[Doc, int]] = []
    while True:
        first = next(texts, None)
        while pending:
            yield pending.popleft()
        if first is None:
            break
        with nlp.memory_zone():
            for doc, ctx in _pipe_parts(nlp, _whole_texts(first, texts, MEMORY_ZONE_DOCS), options):
                while pending:
                    yield pending.popleft()
                progress(ctx.progress)
                if ctx.id in failed:
                    continue
                if not isinstance(doc, Doc):
                    failed.add(ctx.id)
                    parts, doc_parts = [], []
                    yield failure_error(ctx, doc)
                    continue
                trimmer.add(len(doc.text))
                offset = ctx.ranges[ctx.index][0]
                parts.append(doc_part(doc, offset))
                if with_docs:
                    doc_parts.append((doc, offset))
                if ctx.index == len(ctx.ranges) - 1:
                    record = build_record(
                        ctx.id, ctx.n_chars, parts, ctx.ranges, thresholds=thresholds,
                        all_cats=options.all_cats, model=model, encoding=ctx.encoding,
                    )
                    whole = join_parts(doc_parts) if with_docs else None
                    parts, doc_parts = [], []
                    yield Annotated(record, whole)
    while pending:
        yield pending.popleft()


def duplicate_id_error(source: Source) -> InputError:
    """The error of a source whose id an earlier source of the same run already took."""
    return InputError(
        source.id, DUPLICATE_ID,
        f"{source.where}: id {source.id!r} was already annotated in this "
        "run; give inputs with the same relative paths separate runs, or unique ids",
        path=path_str(source),
    )


def failure_error(ctx: _Context, failure: Union[Raised, Died]) -> InputError:
    """The error of a text the pipeline raised on, or whose worker process died, annotated alone."""
    where = ctx.id
    if len(ctx.ranges) > 1:
        start, end = ctx.ranges[ctx.index]
        where += f" (part {ctx.index + 1} of {len(ctx.ranges)}, characters {start}-{end})"
    if isinstance(failure, Raised):
        return InputError(
            ctx.id, PIPELINE_ERROR,
            f"{where}: the pipeline raised {failure.description}; the run went on without it. Fix "
            "the component or the text, then rerun with --resume to retry it",
            path=ctx.path,
        )
    return InputError(
        ctx.id, WORKER_DIED,
        f"{where}: the worker process annotating it died each of the {ATTEMPTS} times it ran "
        f"alone ({failure.cause}): killed (out of memory?) or crashed (a segfault in native "
        "code?); the run went on without it. --n-process 1 on it alone shows the crash; if "
        "memory ran out, lower --n-process or --max-batch-chars. Rerun with --resume to retry it",
        path=ctx.path,
    )


def _whole_texts(
    first: Tuple[str, _Context], rest: Iterator[Tuple[str, _Context]], size: int
) -> Iterator[Tuple[str, _Context]]:
    """``first`` and more parts up to ``size``, then on to the end of the text being read.

    A memory zone frees the docs made in it, so one that ended inside a text would free
    parts that ``join_parts`` still needs.
    """
    for count, part in enumerate(itertools.chain([first], rest), 1):
        yield part
        ctx = part[1]
        if count >= size and ctx.index == len(ctx.ranges) - 1:
            return


Piped = Tuple[Outcome, _Context]


def _pipe_parts(
    nlp: Language, parts: Iterable[Tuple[str, _Context]], options: AnnotateOptions
) -> Iterator[Piped]:
    """Run ``parts`` through ``nlp`` in batches of at most ``options.batch_chars`` characters.

    Each part comes back, in order, with its ``Doc``, or with what the pipeline raised on it
    alone (``annotate_batch``); with ``options.n_process`` above 1 from worker processes
    (``pipe_in_workers``), where it may also be that its worker died on it each time.
    """
    batches = batch_by_chars(parts, options.batch_chars, options.batch_size, size=_part_chars)
    if options.n_process > 1:
        yield from pipe_in_workers(nlp, batches, options.n_process)
        return
    for batch in batches:
        yield from zip(annotate_batch(nlp, [text for text, _ in batch]), (ctx for _, ctx in batch))


def _part_chars(part: Tuple[str, _Context]) -> int:
    return len(part[0])
