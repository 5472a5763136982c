"""A text and its parsed ``.ann`` to a ``Doc`` that follows the data contract.

``annotations_to_doc`` runs named steps in order: read the parse counts, handle a BOM,
align each entity to tokens, attach the Wikidata links, write ``doc.spans`` and
``doc.ents``, map the relations to span indices, and set ``doc.cats``.
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..schema import SPANS_KEY, Schema
from ..spans import set_flat_entities
from .ann import BOM, BratAnnotations, BratEntity
from .links import resolve_links
from .report import BratWarning, Collector, PathLike, ReadReport, shorten

FRAGMENTS_KEY = "nerel_fragments"
# (token start, token end, label): one span, shared by duplicate entities.
SpanKey = Tuple[int, int, str]


@dataclass
class Alignment:
    """Where the entities of one document landed in its tokens."""

    # Ids of the T lines read (first use of each id), dropped or not.
    known_ids: Set[str] = field(default_factory=set)
    # Entity id -> its span's key; duplicates (same tokens, same label) share one span.
    span_of_entity: Dict[str, SpanKey] = field(default_factory=dict)
    spans: Dict[SpanKey, Span] = field(default_factory=dict)
    # Character fragments of the discontinuous spans, by span key.
    fragments_of: Dict[SpanKey, List[List[int]]] = field(default_factory=dict)


def annotations_to_doc(
    raw_text: str,
    ann: BratAnnotations,
    nlp: Language,
    schema: Schema,
    *,
    txt_path: PathLike = "<text>",
    strict: bool = False,
    warnings: Sequence[BratWarning] = (),
) -> Tuple[Doc, ReadReport]:
    """Build a ``Doc`` that follows the data contract from a text and its parsed ``.ann``."""
    collector = Collector(ann.path, strict)
    collector.warnings.extend(warnings)
    report = start_report(ann)
    text, shift = strip_bom(raw_text, ann.entities, collector, txt_path)
    doc = nlp.make_doc(text)
    report.tokens = len(doc)
    alignment = align_entities(doc, ann.entities, shift, set(schema.entity_types), collector, report)
    attach_links(ann, alignment, collector, report)
    index_of = set_spans_and_ents(doc, alignment, report)
    relations = map_relations(
        ann, alignment, index_of, set(schema.relation_types), collector, report
    )
    doc._.relations = relations
    set_cats(doc, relations, schema)
    report.warnings = collector.warnings
    return doc, report


def start_report(ann: BratAnnotations) -> ReadReport:
    """A one-document report holding the line counts and parse failures of ``ann``."""
    report = ReadReport(
        documents=1,
        entity_lines=ann.entity_lines,
        relation_lines=ann.relation_lines,
        link_lines=ann.link_lines,
        ignored_lines=Counter(ann.ignored),
    )
    for kind, dropped in (("T", report.entities_dropped), ("R", report.relations_dropped),
                          ("N", report.links_dropped)):
        if ann.malformed[kind]:
            dropped["malformed"] += ann.malformed[kind]
    return report


def strip_bom(
    raw_text: str, entities: Sequence[BratEntity], collector: Collector, txt_path: PathLike
) -> Tuple[str, int]:
    """``doc.text`` (a leading BOM removed) and how far the offsets are ahead of it (0 or 1)."""
    if not raw_text.startswith(BOM):
        return raw_text, 0
    shift = bom_offset(raw_text, entities)
    collector.warn(
        "bom_in_text",
        None,
        "the text starts with a UTF-8 BOM; the .ann offsets were read as "
        + ("counting it, as brat does" if shift else "not counting it"),
        "save the .txt as UTF-8 without BOM",
        path=txt_path,
    )
    return raw_text[1:], shift


def bom_offset(raw_text: str, entities: Sequence[BratEntity]) -> int:
    """How many characters the ``.ann`` offsets are ahead of ``doc.text`` (0 or 1).

    brat counts a leading BOM as a character, tools that decode with ``utf-8-sig`` do
    not: choose the reading under which more mention texts match, brat's on a tie.
    """
    if not raw_text.startswith(BOM):
        return 0
    with_bom = without_bom = 0
    for entity in entities:
        if _same_mention(_fragment_text(raw_text, entity.fragments), entity.text):
            with_bom += 1
        if _same_mention(_fragment_text(raw_text[1:], entity.fragments), entity.text):
            without_bom += 1
    return 1 if with_bom >= without_bom else 0


def _fragment_text(text: str, fragments: Sequence[Tuple[int, int]]) -> str:
    # brat writes a discontinuous mention as its fragments joined by one space.
    return " ".join(text[start:end] for start, end in fragments)


def _same_mention(expected: str, found: str) -> bool:
    # brat replaces line breaks inside a mention by spaces when it writes the .ann.
    return expected == found or expected.split() == found.split()


def align_entities(
    doc: Doc,
    entities: Sequence[BratEntity],
    shift: int,
    entity_labels: Set[str],
    collector: Collector,
    report: ReadReport,
) -> Alignment:
    """Align every entity to tokens; duplicate ids and impossible offsets are dropped."""
    alignment = Alignment()
    for entity in entities:
        if entity.id in alignment.known_ids:
            collector.warn(
                "duplicate_id",
                entity.line,
                f"entity id {entity.id} is used twice; keeping the first",
                "give every T line its own id",
            )
            report.entities_dropped["duplicate_id"] += 1
            continue
        alignment.known_ids.add(entity.id)
        fragments = sorted((start - shift, end - shift) for start, end in entity.fragments)
        reason = _check_fragments(entity, fragments, len(doc.text), shift, collector)
        if reason:
            report.entities_dropped[reason] += 1
            continue
        span = _align_entity(doc, entity, fragments, shift, entity_labels, collector, report)
        if span is None:
            report.entities_dropped["unalignable"] += 1
            continue
        key = (span.start, span.end, entity.label)
        alignment.span_of_entity[entity.id] = key
        if key in alignment.spans:
            report.entities_dropped["duplicate"] += 1
            continue
        alignment.spans[key] = span
        if entity.is_discontinuous:
            alignment.fragments_of[key] = [list(fragment) for fragment in fragments]
    return alignment


def _check_fragments(
    entity: BratEntity,
    fragments: List[Tuple[int, int]],
    length: int,
    shift: int,
    collector: Collector,
) -> Optional[str]:
    """The drop reason for impossible offsets, else None.

    ``fragments`` are shifted to ``doc.text`` (``shift``: a counted BOM); messages give
    the offsets as written in the ``.ann``, and the length as those offsets count it.
    """
    for start, end in fragments:
        # As written in the .ann.
        written = f"{start + shift}-{end + shift}"
        if start < 0 or end > length:
            counted = f"length {length + shift}" + (", BOM included" if shift else "")
            collector.warn(
                "offset_out_of_range",
                entity.line,
                f"{entity.id} offsets {written} lie outside the text ({counted})",
                "check that the .txt belongs to this .ann and was not edited",
            )
            return "offset_out_of_range"
        if start >= end:
            collector.warn(
                "empty_span",
                entity.line,
                f"{entity.id} has an empty or reversed fragment {written}",
                "a fragment's end must be greater than its start",
            )
            return "empty_span"
    return None


def _align_entity(
    doc: Doc,
    entity: BratEntity,
    fragments: List[Tuple[int, int]],
    shift: int,
    entity_labels: Set[str],
    collector: Collector,
    report: ReadReport,
) -> Optional[Span]:
    """The hull span of a checked entity, expanded to token edges; None if it covers no token."""
    text = doc.text
    start, end = fragments[0][0], fragments[-1][1]
    # brat writes the mention in the order of the fragments on the line.
    found = _fragment_text(text, [(s - shift, e - shift) for s, e in entity.fragments])
    if not _same_mention(entity.text, found):
        collector.warn(
            "text_mismatch",
            entity.line,
            f"{entity.id} mention {shorten(entity.text)!r} != text at offsets "
            f"{shorten(found)!r}; keeping the offsets",
            "check that the .txt is the file that was annotated: same encoding, BOM and line ends",
        )
    if entity.label not in entity_labels:
        collector.warn(
            "unknown_entity_label",
            entity.line,
            f"{entity.id} has label {entity.label!r}, which is not in the schema; kept",
            "add it to annotation.conf or fix the label",
        )
    span = doc.char_span(start, end, label=entity.label, alignment_mode="strict")
    if span is not None:
        return span
    span = doc.char_span(start, end, label=entity.label, alignment_mode="expand")
    if span is None or len(span) == 0 or not span.text.strip():
        collector.warn(
            "unalignable_entity",
            entity.line,
            f"{entity.id} {text[start:end]!r} ({start + shift}-{end + shift}) covers no token",
            "fix the offsets; a span must cover some non-space text",
        )
        return None
    report.entities_misaligned += 1
    return span


def attach_links(
    ann: BratAnnotations, alignment: Alignment, collector: Collector, report: ReadReport
) -> None:
    """Set ``span.kb_id_`` from the ``N`` lines; a span keeps the first id it gets."""
    kb_ids = resolve_links(ann, alignment.known_ids, collector, report)
    for entity_id, kb_id in kb_ids.items():
        key = alignment.span_of_entity.get(entity_id)
        if key is None:
            # The entity's T line was dropped with its own warning.
            report.links_kept -= 1
            report.links_dropped["entity_dropped"] += 1
        elif not alignment.spans[key].kb_id_:
            alignment.spans[key].kb_id_ = kb_id


def set_spans_and_ents(doc: Doc, alignment: Alignment, report: ReadReport) -> Dict[SpanKey, int]:
    """Write ``doc.spans["nerel"]``, the fragments and the flat ``doc.ents``; span key -> index.

    Spans are ordered by start, longer first, then label. Discontinuous spans stay out
    of ``doc.ents``.
    """
    spans, fragments_of = alignment.spans, alignment.fragments_of
    ordered = sorted(spans, key=lambda key: (key[0], -key[1], key[2]))
    index_of = {key: i for i, key in enumerate(ordered)}
    group = [spans[key] for key in ordered]
    doc.spans[SPANS_KEY] = group
    doc.user_data[FRAGMENTS_KEY] = {
        str(index_of[key]): fragments for key, fragments in fragments_of.items()
    }
    contiguous = [spans[key] for key in ordered if key not in fragments_of]
    set_flat_entities(doc, contiguous)
    report.entities_kept = len(group)
    report.entities_discontinuous = len(fragments_of)
    report.entities_flat = len(doc.ents)
    report.entities_nested = len(contiguous) - len(doc.ents)
    return index_of


def map_relations(
    ann: BratAnnotations,
    alignment: Alignment,
    index_of: Dict[SpanKey, int],
    relation_labels: Set[str],
    collector: Collector,
    report: ReadReport,
) -> List[dict]:
    """``doc._.relations`` triples from the ``R`` lines, with span indices; duplicates dropped."""
    relations: List[dict] = []
    seen = set()
    for relation in ann.relations:
        missing = [arg for arg in (relation.head, relation.tail) if arg not in alignment.known_ids]
        if missing:
            collector.warn(
                "relation_unknown_entity",
                relation.line,
                f"relation {relation.id} names {', '.join(missing)}, not an entity in the file",
                "fix the argument ids or delete the R line",
            )
            report.relations_dropped["unknown_entity"] += 1
            continue
        head_key = alignment.span_of_entity.get(relation.head)
        tail_key = alignment.span_of_entity.get(relation.tail)
        if head_key is None or tail_key is None:
            # The argument's T line was dropped with its own warning.
            report.relations_dropped["entity_dropped"] += 1
            continue
        if relation.label not in relation_labels:
            collector.warn(
                "unknown_relation_label",
                relation.line,
                f"relation {relation.id} has label {relation.label!r}, not in the schema; "
                "kept in doc._.relations, not in doc.cats",
                "add it to annotation.conf or fix the label",
            )
        triple = (index_of[head_key], index_of[tail_key], relation.label)
        if triple in seen:
            report.relations_dropped["duplicate"] += 1
            continue
        seen.add(triple)
        relations.append({"head": triple[0], "tail": triple[1], "label": triple[2]})
    report.relations_kept = len(relations)
    return relations


def set_cats(doc: Doc, relations: Sequence[dict], schema: Schema) -> None:
    """``doc.cats``: 1.0 for each schema relation type the document expresses, else 0.0."""
    present = {relation["label"] for relation in relations}
    doc.cats = {label: float(label in present) for label in schema.relation_types}


def get_fragments(doc: Doc) -> Dict[int, List[Tuple[int, int]]]:
    """The fragments of discontinuous entities, by index into ``doc.spans["nerel"]``."""
    stored = doc.user_data.get(FRAGMENTS_KEY) or {}
    return {int(i): [(int(s), int(e)) for s, e in frags] for i, frags in stored.items()}
