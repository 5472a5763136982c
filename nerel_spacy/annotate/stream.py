"""Streaming annotation: sources in, one record, resume skip or error per input out.

Texts are read lazily and fed to ``nlp.pipe``, so a run over 100k files holds one batch
of texts in memory, not the corpus.
"""
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Deque, Iterable, Iterator, List, Optional, Set, Tuple, Union

from spacy.language import Language

from .records import Annotated, Event, Part, Resumed, build_record, doc_part, model_info, resolve_thresholds
from .sources import DEFAULT_GLOB, DUPLICATE_ID, TOO_LONG, InputError, Source, load_text, path_str
from .split import split_text

DEFAULT_MAX_CHARS = 100_000
LONG_TEXT_POLICIES = ("split", "skip")
# Docs processed inside one ``nlp.memory_zone()``: strings added by a zone's docs are
# freed when it ends, which keeps a long run's memory flat.
MEMORY_ZONE_DOCS = 10_000


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
                    path=path_str(source),
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
                        path=path_str(source),
                    ))
                    continue
                ranges = tuple(split_text(text, options.max_chars))
            else:
                ranges = ((0, len(text)),)
            for index, (start, end) in enumerate(ranges):
                yield text[start:end], _Context(source.id, len(text), ranges, index, used)

    texts = feed()
    parts: List[Part] = []
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
                parts.append(doc_part(doc, ctx.ranges[ctx.index][0]))
                if ctx.index == len(ctx.ranges) - 1:
                    record = build_record(
                        ctx.id, ctx.n_chars, parts, ctx.ranges, thresholds=thresholds,
                        all_cats=options.all_cats, model=model, encoding=ctx.encoding,
                    )
                    parts = []
                    yield Annotated(record)
    while pending:
        yield pending.popleft()
