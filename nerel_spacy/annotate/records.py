"""Output records: spans, relations, cats above their thresholds and the model, merged over a text's parts."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..schema import SPANS_KEY
from ..spans import get_relations
from .sources import InputError

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Resumed:
    """An input skipped because its id is already in the output (``--resume``)."""

    id: str


@dataclass(frozen=True)
class Annotated:
    """One output record, ready to be written, and the whole ``Doc`` when the run keeps docs.

    ``doc`` (parts of a split text joined) is set by ``annotate_sources(..., with_docs=True)``
    for the formats that write docs (spacy, brat, html). It is valid while the event is being
    handled, inside the pipeline's memory zone: write it then, don't keep it.
    """

    record: Dict[str, Any]
    doc: Optional[Doc] = field(default=None, compare=False, repr=False)


Event = Union[Annotated, Resumed, InputError]


@dataclass(frozen=True)
class Thresholds:
    """The score a ``doc.cats`` label needs to be reported: per label, else ``default``."""

    default: float = DEFAULT_THRESHOLD
    per_label: Dict[str, float] = field(default_factory=dict)

    def __call__(self, label: str) -> float:
        return self.per_label.get(label, self.default)


def resolve_thresholds(nlp: Language, threshold: Optional[float] = None) -> Thresholds:
    """The cats thresholds the pipeline's components hold, unless ``threshold`` overrides them all.

    A component with ``cats_thresholds`` (``nerel_joint``: tuned per label, else its
    ``threshold``) is read as it resolves them. Other labels take the ``cfg["threshold"]``
    of a component that assigns ``doc.cats`` (spaCy's textcat), else ``DEFAULT_THRESHOLD``.
    """
    if threshold is not None:
        return Thresholds(default=float(threshold))
    default: Optional[float] = None
    per_label: Dict[str, float] = {}
    for name in nlp.pipe_names:
        component = nlp.get_pipe(name)
        if hasattr(component, "cats_thresholds"):
            per_label.update(component.cats_thresholds)
        elif default is None and "doc.cats" in nlp.get_pipe_meta(name).assigns:
            cfg = getattr(component, "cfg", None)
            if isinstance(cfg, dict) and isinstance(cfg.get("threshold"), (int, float)):
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
class Part:
    """What one part of a text contributes to its record."""

    ents: List[Dict[str, Any]]
    spans: Optional[List[Dict[str, Any]]]
    cats: Dict[str, float]
    relations: Optional[List[Dict[str, Any]]] = None  # heads and tails index this part's spans


def relation_record(relation: Dict[str, Any], spans: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """A relation as ``{"head", "tail", "label"[, "score"], "head_span", "tail_span"}``.

    ``head`` and ``tail`` index the record's ``spans`` (as ``doc._.relations`` indexes
    ``doc.spans["nerel"]``); ``head_span``/``tail_span`` repeat those mentions' offsets,
    types and texts so that a reader needs nothing else.
    """
    record: Dict[str, Any] = {"head": relation["head"], "tail": relation["tail"], "label": relation["label"]}
    if relation.get("score") is not None:
        record["score"] = round(float(relation["score"]), 6)
    record["head_span"] = {k: v for k, v in spans[relation["head"]].items() if k != "score"}
    record["tail_span"] = {k: v for k, v in spans[relation["tail"]].items() if k != "score"}
    return record


def doc_part(doc: Doc, offset: int) -> Part:
    spans = relations = None
    if SPANS_KEY in doc.spans:
        group = doc.spans[SPANS_KEY]
        spans = [span_record(span, offset) for span in group]
        # A span head's predictions carry their scores, as spaCy's spancat stores them.
        scores = group.attrs.get("scores")
        if scores is not None and len(scores) == len(spans):
            for span, score in zip(spans, scores):
                span["score"] = round(float(score), 6)
        if doc.has_extension("relations") and doc._.relations is not None:
            relations = [
                relation_record(relation, spans)
                for relation in get_relations(doc)
                if 0 <= relation["head"] < len(spans) and 0 <= relation["tail"] < len(spans)
            ]
    return Part(
        ents=[span_record(ent, offset) for ent in doc.ents],
        spans=spans,
        cats={str(label): float(score) for label, score in doc.cats.items()},
        relations=relations,
    )


def build_record(
    id: str,
    n_chars: int,
    parts: Sequence[Part],
    ranges: Sequence[Tuple[int, int]],
    *,
    thresholds: Thresholds,
    all_cats: bool,
    model: Dict[str, str],
    encoding: Optional[str] = None,
) -> Dict[str, Any]:
    """Merge the parts of one text into its output record (one part unless it was split).

    A split text's cats take each label's highest score over its parts: the text expresses
    a relation type when any part does. Its relations' ``head``/``tail`` are shifted by
    the mentions of the parts before, so they index the record's ``spans``.
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
    if any(part.relations is not None for part in parts):
        relations, shift = [], 0
        for part in parts:
            for relation in part.relations or []:
                relations.append(dict(relation, head=relation["head"] + shift, tail=relation["tail"] + shift))
            shift += len(part.spans or [])
        record["relations"] = relations
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
