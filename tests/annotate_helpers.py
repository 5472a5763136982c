"""A tiny stand-in for the trained pipeline, for testing ``nerel-batch annotate``.

``build_pipeline`` saves blank ``ru`` + ``entity_ruler`` (doc.ents) + ``span_ruler``
(doc.spans["nerel"], nested) + ``annotate_test_cats`` (doc.cats and kb ids). The last one
holds a whole ``nlp.pipe`` batch at once, as a model's forward pass does, and records the
characters of each batch in ``BATCH_CHARS``. ``fail_marker`` adds ``annotate_test_fail``,
which fails on the texts holding the marker. ``annotate_test_process`` (not in the saved
pipeline) records which process annotated a doc, in an extension a test registers. Pass this
file to ``--code`` so a separate process (a Ray actor too) can load the saved pipeline.
"""
import contextlib
import os
import signal
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

# label -> (keyword, score when the text holds the keyword, score otherwise)
CATS_RULES = {
    "WORKS_AS": ("работает", 0.9, 0.1),
    "LOCATED_IN": ("Москв", 0.7, 0.2),
    "POINT_IN_TIME": ("", 0.45, 0.45),
}
CATS_THRESHOLDS = {"WORKS_AS": 0.5, "LOCATED_IN": 0.8, "POINT_IN_TIME": 0.4}
KB_IDS = {"Москва": "Q649", "Москве": "Q649"}
# A pipeline built with an interrupt_marker stops itself only in a process with this set.
INTERRUPT_ENV = "NEREL_TEST_INTERRUPT"
# Characters of each batch annotate_test_cats was given, in order (tests clear it).
BATCH_CHARS: List[int] = []
# How annotate_test_fail fails on its marker.
FAIL_HOWS = ("raise", "exit", "kill")

ENT_PATTERNS = [
    {"label": "CITY", "pattern": "Москва"},
    {"label": "CITY", "pattern": "Москве"},
    {"label": "PERSON", "pattern": [{"TEXT": "Иван"}, {"TEXT": "Петров"}]},
    {"label": "ORGANIZATION", "pattern": [{"TEXT": "Банк"}, {"TEXT": "России"}]},
]
# Nested: ORGANIZATION "Банк России" holds COUNTRY "России".
SPAN_PATTERNS = ENT_PATTERNS + [{"label": "COUNTRY", "pattern": "России"}]


class KeywordCats:
    """Keyword scores for three relation types, per-label thresholds, kb ids on spans."""

    def __init__(self, cats_thresholds: Dict[str, float], interrupt_marker: str):
        self.cats_thresholds = dict(cats_thresholds)
        self.interrupt_marker = interrupt_marker

    def __call__(self, doc: Doc) -> Doc:
        if self.interrupt_marker and self.interrupt_marker in doc.text and os.environ.get(INTERRUPT_ENV):
            # A real Ctrl-C, delivered to this process while it annotates. Only a process
            # started with INTERRUPT_ENV gets one, so the same pipeline can resume the run.
            os.kill(os.getpid(), signal.SIGINT)
        doc.cats = {
            label: high if keyword in doc.text else low
            for label, (keyword, high, low) in CATS_RULES.items()
        }
        if "nerel" in doc.spans:
            doc.spans["nerel"] = [
                Span(doc, span.start, span.end, label=span.label_, kb_id=KB_IDS.get(span.text, ""))
                for span in doc.spans["nerel"]
            ]
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(stream, size=batch_size):
            BATCH_CHARS.append(sum(len(doc.text) for doc in batch))
            yield from (self(doc) for doc in batch)


@Language.factory(
    "annotate_test_cats",
    assigns=["doc.cats"],
    default_config={"cats_thresholds": CATS_THRESHOLDS, "interrupt_marker": ""},
)
def make_test_cats(
    nlp: Language, name: str, cats_thresholds: Dict[str, float], interrupt_marker: str
) -> KeywordCats:
    return KeywordCats(cats_thresholds, interrupt_marker)


class FailOn:
    """Fails on a text holding ``marker``: ``raise`` a ValueError, ``exit`` its process at
    once (``os._exit``), as a crash in native code would, or ``kill`` it with SIGKILL, as the
    OOM killer would."""

    def __init__(self, marker: str, how: str):
        if how not in FAIL_HOWS:
            raise ValueError(f"how must be one of {FAIL_HOWS}, not {how!r}")
        self.marker = marker
        self.how = how

    def __call__(self, doc: Doc) -> Doc:
        if self.marker and self.marker in doc.text:
            if self.how == "exit":
                os._exit(1)
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError(f"can't handle {self.marker!r}")
        return doc


@Language.factory("annotate_test_fail", default_config={"marker": "", "how": "raise"})
def make_test_fail(nlp: Language, name: str, marker: str, how: str) -> FailOn:
    return FailOn(marker, how)


# The Doc extension annotate_test_process sets. Nothing registers it on import: a test does,
# in its own process, so a worker process started by spawn or forkserver (a fresh
# interpreter, which imports this module afresh) has it only if the parent hands it over.
PROCESS_EXTENSION = "annotate_test_process"


class RecordsProcess:
    """Sets ``doc._.annotate_test_process`` to ``(pid, parent pid)`` of the process annotating it."""

    def __call__(self, doc: Doc) -> Doc:
        doc._.set(PROCESS_EXTENSION, (os.getpid(), os.getppid()))
        return doc


@Language.factory("annotate_test_process")
def make_records_process(nlp: Language, name: str) -> RecordsProcess:
    return RecordsProcess()


# Markers annotate_test_fail fails on in the worker tests (kill or exit, and raise), and texts
# without them.
KILL, RAISE = "УМРИ", "ПЛОХО"
GOOD = ["Иван Петров работает в Москве.", "Банк России находится в Москве.", "Здесь нет сущностей."]
# Long enough for every worker test on a loaded machine, short enough that a hang fails soon.
DEADLINE_S = 60


class Overdue(Exception):
    """A test still ran after its deadline."""


@contextlib.contextmanager
def deadline(seconds: int = DEADLINE_S) -> Iterator[None]:
    """Raise ``Overdue`` in a test still running after ``seconds`` instead of hanging the suite."""
    def overdue(signum: int, frame: object) -> None:
        raise Overdue(f"still running after {seconds} s: waiting on a dead worker?")

    previous = signal.signal(signal.SIGALRM, overdue)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def build_pipeline(
    path: Path, *, cats: bool = True, spans: bool = True, interrupt_marker: Optional[str] = None,
    fail_marker: Optional[str] = None, fail_how: str = "raise",
) -> Path:
    """Save the test pipeline to ``path`` and return it."""
    nlp = spacy.blank("ru")
    nlp.meta["name"] = "annotate_test"
    nlp.meta["version"] = "0.0.1"
    nlp.add_pipe("entity_ruler").add_patterns(ENT_PATTERNS)
    if spans:
        ruler = nlp.add_pipe("span_ruler", config={"spans_key": "nerel"})
        ruler.add_patterns(SPAN_PATTERNS)
    if cats:
        config = {"interrupt_marker": interrupt_marker} if interrupt_marker else {}
        nlp.add_pipe("annotate_test_cats", config=config)
    if fail_marker:
        nlp.add_pipe("annotate_test_fail", config={"marker": fail_marker, "how": fail_how})
    nlp.to_disk(path)
    return path
