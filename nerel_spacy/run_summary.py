"""Summarising a ``nerel-batch annotate`` run in one streaming pass (for the report).

``summarize_run`` streams the output JSONL and its errors JSONL once, keeping counters
and a bounded sample, so a run of millions of documents is summarised in constant
memory; ``record_to_doc`` rebuilds a sampled record as a ``Doc`` for rendering.

Records follow ``build_record`` in ``nerel_spacy.annotate``; ``spans``, ``relations``,
``cats`` and ``ents`` may be absent (older files). A record's ``time`` (seconds since
the epoch when it was written), where present, gives the docs/s. The manifest annotate
wrote beside the output (``out.run.json``), where present, gives the pipeline and settings.
"""
import heapq
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import filter_spans

from .schema import SPANS_KEY

if TYPE_CHECKING:
    from .annotate.manifest import RunManifest

PathLike = Union[str, Path]
DEFAULT_TOP = 10
DEFAULT_SAMPLES = 3
# Sampled documents longer than this are passed over while shorter ones are available.
SAMPLE_MAX_CHARS = 4000
# Malformed lines shown on the page; all are counted.
MALFORMED_SHOWN = 20



class BoundedCounter:
    """Counts strings in bounded memory: past ``2 * capacity`` keys it keeps the top ``capacity``.

    Counts of frequent items stay exact unless a label has more than ``capacity`` distinct
    texts; then they are lower bounds (``exact`` says which).
    """

    def __init__(self, capacity: int = 1000):
        self.capacity = capacity
        self.counts: Counter = Counter()
        self.exact = True

    def add(self, key: str) -> None:
        self.counts[key] += 1
        if len(self.counts) > 2 * self.capacity:
            self.counts = Counter(dict(self.counts.most_common(self.capacity)))
            self.exact = False

    def most_common(self, n: int) -> List[Tuple[str, int]]:
        return self.counts.most_common(n)


@dataclass(frozen=True)
class Malformed:
    """A line of a JSONL file that is not a usable record."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: {self.message}"


@dataclass
class RunSummary:
    """Counters over one annotate run; everything the report page shows."""

    output: str
    errors_path: Optional[str] = None
    errors_found: bool = False
    documents: int = 0
    chars: int = 0
    mentions: int = 0
    ents: int = 0
    relations: int = 0
    split: int = 0
    fallback_decoded: int = 0
    has_spans: bool = False
    has_relations: bool = False
    entity_types: Counter = field(default_factory=Counter)
    relation_types: Counter = field(default_factory=Counter)
    relation_docs: Counter = field(default_factory=Counter)
    top_entities: Dict[str, BoundedCounter] = field(default_factory=dict)
    models: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    error_examples: Dict[str, str] = field(default_factory=dict)
    malformed: List[Malformed] = field(default_factory=list)
    n_malformed: int = 0
    first_time: Optional[float] = None
    last_time: Optional[float] = None
    samples: List[Tuple[Dict[str, Any], Optional[str]]] = field(default_factory=list)
    sample_notes: List[str] = field(default_factory=list)
    # How the run was made, from the manifest annotate wrote beside its output (None: none there).
    manifest: Optional["RunManifest"] = None

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def docs_per_second(self) -> Optional[float]:
        if self.first_time is None or self.last_time is None or self.last_time <= self.first_time:
            return None
        return self.documents / (self.last_time - self.first_time)

    def add_malformed(self, item: Malformed) -> None:
        self.n_malformed += 1
        if len(self.malformed) < MALFORMED_SHOWN:
            self.malformed.append(item)


def iter_jsonl(path: PathLike) -> Iterator[Union[Dict[str, Any], Malformed]]:
    """Each line of a JSONL file as a dict with an ``id``, or a ``Malformed`` saying why not."""
    path = Path(path)
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            if not raw.strip():
                continue
            where = "" if raw.endswith(b"\n") else " (the last line is cut off: was the run killed?)"
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                yield Malformed(str(path), number, f"not UTF-8 at byte {err.start}{where}")
                continue
            except ValueError as err:
                yield Malformed(str(path), number, f"not JSON ({err}){where}")
                continue
            if not isinstance(obj, dict) or "id" not in obj:
                yield Malformed(str(path), number, 'not a JSON object with an "id"')
                continue
            yield obj


def _valid_spans(record: Dict[str, Any], key: str) -> List[Dict[str, Any]]:
    spans = record.get(key)
    if not isinstance(spans, list):
        return []
    return [
        span for span in spans
        if isinstance(span, dict) and isinstance(span.get("start"), int)
        and isinstance(span.get("end"), int) and isinstance(span.get("label"), str)
    ]


def _mentions(record: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The record's mentions: ``spans`` (nested included) when present, else ``ents``."""
    return _valid_spans(record, "spans" if "spans" in record else "ents")


def _sample_key(record: Dict[str, Any], line: int) -> Tuple[int, int, int, int]:
    """Short enough documents first, then the most entity types, then the most mentions."""
    mentions = _mentions(record)
    short = int(record.get("n_chars", 0) <= SAMPLE_MAX_CHARS)
    return (short, len({m["label"] for m in mentions}), len(mentions), -line)


def _count_record(summary: RunSummary, record: Dict[str, Any], top_capacity: int) -> None:
    summary.documents += 1
    n_chars = record.get("n_chars")
    summary.chars += n_chars if isinstance(n_chars, int) else 0
    summary.split += "parts" in record
    summary.fallback_decoded += "encoding" in record
    summary.has_spans |= "spans" in record
    mentions = _mentions(record)
    summary.mentions += len(mentions)
    summary.ents += len(_valid_spans(record, "ents"))
    for mention in mentions:
        label = mention["label"]
        summary.entity_types[label] += 1
        text = " ".join(str(mention.get("text", "")).split())
        if text:
            summary.top_entities.setdefault(label, BoundedCounter(top_capacity)).add(text)
    relations = record.get("relations")
    if isinstance(relations, list):
        summary.has_relations = True
        for relation in relations:
            if isinstance(relation, dict) and isinstance(relation.get("label"), str):
                summary.relations += 1
                summary.relation_types[relation["label"]] += 1
    cats = record.get("cats")
    if isinstance(cats, dict):
        summary.relation_docs.update(str(label) for label in cats)
    model = record.get("model")
    if isinstance(model, dict):
        summary.models[f"{model.get('name', '?')} {model.get('version', '?')}"] += 1
    stamp = record.get("time")
    if isinstance(stamp, (int, float)):
        summary.first_time = stamp if summary.first_time is None else min(summary.first_time, stamp)
        summary.last_time = stamp if summary.last_time is None else max(summary.last_time, stamp)


def _source_text(record: Dict[str, Any], texts: Optional[Path]) -> Optional[str]:
    """The text a record was made from: its ``text`` field, else the file ``texts/<id>``."""
    if isinstance(record.get("text"), str):
        return record["text"]
    if texts is None:
        return None
    path = texts / str(record["id"])
    if texts.is_file():
        path = texts
    if not path.resolve().is_relative_to(texts.resolve()) or not path.is_file():
        return None
    data = path.read_bytes()
    encoding = record.get("encoding")
    try:
        return data.decode(encoding) if isinstance(encoding, str) else data.decode("utf-8-sig")
    except (UnicodeDecodeError, LookupError):
        return None


def _matches(record: Dict[str, Any], text: str) -> bool:
    if record.get("n_chars") not in (None, len(text)):
        return False
    return all(
        text[m["start"] : m["end"]] == m.get("text", text[m["start"] : m["end"]])
        for m in _mentions(record) + _valid_spans(record, "ents")
    )


def summarize_run(
    output: PathLike,
    errors: Optional[PathLike] = None,
    *,
    texts: Optional[PathLike] = None,
    samples: int = DEFAULT_SAMPLES,
    top_capacity: int = 1000,
) -> RunSummary:
    """Stream ``output`` (records) and ``errors`` (default: beside it) into a ``RunSummary``.

    ``texts`` is the input folder (or file) of the run: sampled documents are read from it
    when their records carry no ``text``. Malformed lines are counted, never fatal.
    """
    from .annotate import OutputError, errors_path_for, manifest_path
    from .annotate.manifest import read_manifest

    output = Path(output)
    if not output.is_file():
        raise FileNotFoundError(f"{output}: no such annotate output; give the JSONL that -o wrote")
    errors_path = Path(errors) if errors is not None else errors_path_for(output)
    summary = RunSummary(output=str(output), errors_path=str(errors_path))
    try:
        summary.manifest = read_manifest(manifest_path(output))
    except OutputError:
        summary.manifest = None  # an unreadable manifest only costs the page its settings rows
    heap: List[Tuple[Tuple[int, int, int, int], int, Dict[str, Any]]] = []
    for number, item in enumerate(iter_jsonl(output), 1):
        if isinstance(item, Malformed):
            summary.add_malformed(item)
            continue
        _count_record(summary, item, top_capacity)
        entry = (_sample_key(item, number), number, item)
        if len(heap) < 3 * samples:
            heapq.heappush(heap, entry)
        elif samples:
            heapq.heappushpop(heap, entry)
    if errors_path.is_file():
        summary.errors_found = True
        for item in iter_jsonl(errors_path):
            if isinstance(item, Malformed):
                summary.add_malformed(item)
                continue
            reason = str(item.get("reason", "unknown"))
            summary.errors[reason] += 1
            summary.error_examples.setdefault(reason, str(item.get("message", "")))
    texts_path = Path(texts) if texts is not None else None
    for _, _, record in sorted(heap, reverse=True):
        if len(summary.samples) >= samples:
            break
        text = _source_text(record, texts_path)
        if text is None:
            if texts_path is not None:  # without --texts there is nothing to look for
                summary.sample_notes.append(f"{record['id']}: text not found under {texts_path}")
        elif not _matches(record, text):
            summary.sample_notes.append(f"{record['id']}: the text differs from the one annotated")
        else:
            summary.samples.append((record, text))
    return summary


def record_to_doc(record: Dict[str, Any], text: str, nlp: Language) -> Doc:
    """A ``Doc`` of ``text`` with the record's mentions, flat entities, relations and cats.

    Offsets are aligned to ``nlp``'s tokens with ``alignment_mode="expand"``; a relation
    whose mention can't be aligned is left out.
    """
    doc = nlp.make_doc(text)
    new_index: Dict[int, int] = {}
    group = []
    for index, mention in enumerate(_mentions(record)):
        span = doc.char_span(
            mention["start"], mention["end"], label=mention["label"],
            kb_id=str(mention.get("kb_id", "")), alignment_mode="expand",
        )
        if span is not None and len(span):
            new_index[index] = len(group)
            group.append(span)
    if "spans" in record:
        doc.spans[SPANS_KEY] = group
        ents = [
            doc.char_span(e["start"], e["end"], label=e["label"], kb_id=str(e.get("kb_id", "")),
                          alignment_mode="expand")
            for e in _valid_spans(record, "ents")
        ]
    else:
        ents = group
    doc.ents = filter_spans([ent for ent in ents if ent is not None and len(ent)])
    relations = []
    for relation in record.get("relations") or []:
        if not isinstance(relation, dict):
            continue
        head, tail = relation.get("head"), relation.get("tail")
        if head in new_index and tail in new_index:
            relations.append(dict(relation, head=new_index[head], tail=new_index[tail]))
    doc._.relations = relations
    cats = record.get("cats")
    doc.cats = {str(k): float(v) for k, v in cats.items()} if isinstance(cats, dict) else {}
    return doc
