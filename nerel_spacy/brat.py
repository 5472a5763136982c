"""Read brat standoff files (``.txt`` + ``.ann``) into spaCy ``Doc`` objects.

Pure reading and alignment: no training code. The result follows the data contract
(see ``CONVENTIONS.md``): every entity in ``doc.spans["nerel"]``, the flat view in
``doc.ents``, relation types in ``doc.cats``, relation triples in ``doc._.relations``.

Bad input never ends in a traceback: each problem becomes a ``BratWarning`` (file,
1-based line, message, hint) collected in a ``ReadReport``. With ``strict=True`` the
first one raises ``BratFormatError`` instead.

Choices worth knowing:

* Offsets count characters of the ``.txt`` as written (brat reads it without newline
  translation), so ``\\r\\n`` counts two characters and the ``Doc`` keeps the ``\\r``.
* A UTF-8 BOM never reaches ``doc.text``. Whether the offsets count it is decided per
  document by which reading makes more mention texts match (brat itself counts it).
* A discontinuous entity becomes its hull span (first fragment start to last fragment
  end) in ``doc.spans["nerel"]``; its fragments are kept in
  ``doc.user_data["nerel_fragments"]`` and it never enters ``doc.ents``.
"""
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span

from .schema import SPANS_KEY, Schema
from .spans import set_flat_entities

BOM = "\ufeff"
FRAGMENTS_KEY = "nerel_fragments"
DOC_ID_KEY = "nerel_doc_id"
# Link ids that say "this entity has no Wikidata item"; "MULL" is a typo found in NEREL.
NIL_LINK_IDS = frozenset({"NULL", "NIL", "NONE", "MULL", "-"})

_ID_RE = re.compile(r"^(?:[TRENAM#]\d+|\*)$")
_T_BODY_RE = re.compile(r"^(\S+) (\d+ \d+(?:;\d+ \d+)*)$")
_R_BODY_RE = re.compile(r"^(\S+) (\S+):(\S+) (\S+):(\S+)$")
_N_BODY_RE = re.compile(r"^(\S+) (\S+) (\S+?):(\S+)$")
_KB_ID_RE = re.compile(r"[QP]\d+")

PathLike = Union[str, Path]


class BratFormatError(ValueError):
    """A brat file cannot be read (or, in strict mode, breaks a rule); names file and line."""

    def __init__(self, path: PathLike, line: Optional[int], message: str, hint: str = ""):
        self.path = str(path)
        self.line = line
        self.message = message
        self.hint = hint
        where = f"{self.path}:{line}" if line else self.path
        text = f"{where}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


@dataclass(frozen=True)
class BratWarning:
    """One problem found in the input, kept so that it can be counted and reported."""

    kind: str
    path: str
    line: Optional[int]
    message: str
    hint: str = ""

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass(frozen=True)
class BratEntity:
    """A ``T`` line: ``fragments`` are (start, end) character offsets in file order."""

    id: str
    label: str
    fragments: Tuple[Tuple[int, int], ...]
    text: str
    line: int

    @property
    def start(self) -> int:
        return min(start for start, _ in self.fragments)

    @property
    def end(self) -> int:
        return max(end for _, end in self.fragments)

    @property
    def is_discontinuous(self) -> bool:
        return len(self.fragments) > 1


@dataclass(frozen=True)
class BratRelation:
    """An ``R`` line: ``head`` is Arg1's entity id, ``tail`` Arg2's."""

    id: str
    label: str
    head: str
    tail: str
    line: int


@dataclass(frozen=True)
class BratLink:
    """An ``N`` line linking ``target`` (an entity id) to ``db:db_id``, e.g. Wikidata:Q813."""

    id: str
    kind: str
    target: str
    db: str
    db_id: str
    text: str
    line: int


@dataclass
class BratAnnotations:
    """Everything parsed from one ``.ann`` file, plus the lines it did not use."""

    path: str
    entities: List[BratEntity] = field(default_factory=list)
    relations: List[BratRelation] = field(default_factory=list)
    links: List[BratLink] = field(default_factory=list)
    # T/R/N lines seen, and those that could not be parsed, by kind ("T", "R", "N").
    lines: Counter = field(default_factory=Counter)
    malformed: Counter = field(default_factory=Counter)
    # Known brat line kinds this project does not use (A, M, E, #, *), by kind.
    ignored: Counter = field(default_factory=Counter)

    @property
    def entity_lines(self) -> int:
        return self.lines["T"]

    @property
    def relation_lines(self) -> int:
        return self.lines["R"]

    @property
    def link_lines(self) -> int:
        return self.lines["N"]


@dataclass
class ReadReport:
    """Counts over one or many documents; ``merge`` adds another report into this one.

    Every ``T`` line is either kept (``entities_kept``, a span in ``doc.spans``) or
    dropped with a reason (``entities_dropped``); ``unaccounted_entities`` checks it.
    """

    documents: int = 0
    tokens: int = 0
    entity_lines: int = 0
    entities_kept: int = 0
    entities_flat: int = 0
    entities_nested: int = 0
    entities_discontinuous: int = 0
    entities_misaligned: int = 0
    entities_dropped: Counter = field(default_factory=Counter)
    relation_lines: int = 0
    relations_kept: int = 0
    relations_dropped: Counter = field(default_factory=Counter)
    link_lines: int = 0
    links_kept: int = 0
    links_nil: int = 0
    links_dropped: Counter = field(default_factory=Counter)
    ignored_lines: Counter = field(default_factory=Counter)
    warnings: List[BratWarning] = field(default_factory=list)

    def merge(self, other: "ReadReport") -> "ReadReport":
        """Add ``other``'s counts and warnings into this report and return it."""
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            elif isinstance(mine, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)
        return self

    @property
    def unaccounted_entities(self) -> int:
        """T lines neither kept nor dropped with a reason: always 0 unless there is a bug."""
        return self.entity_lines - self.entities_kept - sum(self.entities_dropped.values())

    def warning_counts(self) -> Dict[str, int]:
        """Number of warnings of each kind, most frequent first."""
        return dict(Counter(w.kind for w in self.warnings).most_common())

    def first_warnings(self) -> Dict[str, BratWarning]:
        """The first warning of each kind, as an example to show the user."""
        first: Dict[str, BratWarning] = {}
        for warning in self.warnings:
            first.setdefault(warning.kind, warning)
        return first

    def to_dict(self) -> dict:
        """A JSON-safe summary (warnings as counts) for logs and metrics files."""
        data = {}
        for name, value in vars(self).items():
            if name == "warnings":
                data["warnings"] = self.warning_counts()
            elif isinstance(value, Counter):
                data[name] = dict(value)
            else:
                data[name] = value
        return data


class _Collector:
    """Collects warnings for one file; raises on the first one when strict."""

    def __init__(self, path: PathLike, strict: bool):
        self.path = str(path)
        self.strict = strict
        self.warnings: List[BratWarning] = []

    def warn(
        self, kind: str, line: Optional[int], message: str, hint: str = "",
        path: Optional[PathLike] = None,
    ) -> None:
        path = str(path) if path is not None else self.path
        if self.strict:
            raise BratFormatError(path, line, message, hint)
        self.warnings.append(BratWarning(kind, path, line, message, hint))


def parse_ann(
    text: str, path: PathLike = "<string>", *, strict: bool = False
) -> Tuple[BratAnnotations, List[BratWarning]]:
    """Parse the text of a brat ``.ann`` file into entities, relations and links.

    Lines that cannot be parsed are skipped with a warning; lines of kinds this project
    does not use (attributes, events, notes, equivalences) are counted and skipped.
    """
    collector = _Collector(path, strict)
    ann = BratAnnotations(path=str(path))
    if text.startswith(BOM):
        text = text[1:]
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        ann_id = line.split("\t", 1)[0].strip()
        if not _ID_RE.match(ann_id):
            collector.warn(
                "malformed_line",
                lineno,
                f"not a brat annotation line: {_shorten(line)!r}",
                "lines start with an id such as T1, R1 or N1 and a tab; remove stray text",
            )
            continue
        kind = ann_id[0]
        if kind not in _LINE_FORMATS:
            ann.ignored[kind] += 1
            continue
        name, body_re, expected, build = _LINE_FORMATS[kind]
        ann.lines[kind] += 1
        parts = line.split("\t")
        match = body_re.match(parts[1].strip()) if len(parts) >= 2 else None
        if match is None:
            collector.warn(
                f"malformed_{name}",
                lineno,
                f"{name} line {ann_id} cannot be parsed: {_shorten(line)!r}",
                f"expected '{expected}'",
            )
            ann.malformed[kind] += 1
            continue
        extra = "\t".join(parts[2:])
        {"T": ann.entities, "R": ann.relations, "N": ann.links}[kind].append(
            build(ann_id, match, extra, lineno)
        )
    return ann, collector.warnings


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _entity(ann_id: str, match: re.Match, mention: str, lineno: int) -> BratEntity:
    label, offsets = match.groups()
    fragments = tuple(
        (int(start), int(end)) for start, end in (f.split(" ") for f in offsets.split(";"))
    )
    return BratEntity(ann_id, label, fragments, mention, lineno)


def _relation(ann_id: str, match: re.Match, _: str, lineno: int) -> BratRelation:
    label, role1, head, role2, tail = match.groups()
    if role1 == "Arg2" and role2 == "Arg1":
        head, tail = tail, head
    return BratRelation(ann_id, label, head, tail, lineno)


def _link(ann_id: str, match: re.Match, text: str, lineno: int) -> BratLink:
    kind, target, db, db_id = match.groups()
    return BratLink(ann_id, kind, target, db, db_id, text, lineno)


# Line kind -> (name in warnings, regex of the second field, expected form, builder).
_LINE_FORMATS = {
    "T": ("entity", _T_BODY_RE, "T1<TAB>TYPE start end[;start end]<TAB>text", _entity),
    "R": ("relation", _R_BODY_RE, "R1<TAB>TYPE Arg1:T1 Arg2:T2", _relation),
    "N": ("link", _N_BODY_RE, "N1<TAB>Reference T1 Wikidata:Q123<TAB>name", _link),
}


def read_text(path: PathLike) -> str:
    """Read a ``.txt`` exactly as written: UTF-8, no newline translation, BOM kept."""
    with open(path, encoding="utf-8", newline="") as file_:
        return file_.read()


def read_ann(path: PathLike) -> str:
    """Read an ``.ann`` file as UTF-8; ``parse_ann`` strips a BOM and ``\\r`` line ends."""
    with open(path, encoding="utf-8", newline="") as file_:
        return file_.read()


def _fragment_text(text: str, fragments: Sequence[Tuple[int, int]]) -> str:
    # brat writes a discontinuous mention as its fragments joined by one space.
    return " ".join(text[start:end] for start, end in fragments)


def _same_mention(expected: str, found: str) -> bool:
    # brat replaces line breaks inside a mention by spaces when it writes the .ann.
    return expected == found or expected.split() == found.split()


def _bom_offset(raw_text: str, entities: Sequence[BratEntity]) -> int:
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


def _link_kb_id(link: BratLink, collector: _Collector) -> Tuple[Optional[str], str]:
    """The knowledge-base id of a link and its status: "kept", "nil" or "malformed"."""
    db_id = link.db_id.strip()
    if db_id.upper() in NIL_LINK_IDS:
        return None, "nil"
    if link.db.lower() != "wikidata":
        return f"{link.db}:{db_id}", "kept"
    if _KB_ID_RE.fullmatch(db_id):
        return db_id, "kept"
    found = _KB_ID_RE.findall(db_id)
    if len(found) == 1:
        collector.warn(
            "link_id_repaired",
            link.line,
            f"link {link.id} has Wikidata id {db_id!r}; read as {found[0]!r}",
            "write the bare id, e.g. Wikidata:Q813",
        )
        return found[0], "kept"
    collector.warn(
        "malformed_link_id",
        link.line,
        f"link {link.id} has no usable Wikidata id: {link.db}:{db_id!r}",
        "use Wikidata:Qnnn, or Wikidata:NULL when the entity has no item",
    )
    return None, "malformed"


def _resolve_links(
    ann: BratAnnotations, entity_ids: set, collector: _Collector, report: ReadReport
) -> Dict[str, str]:
    """Map entity id -> kb id. A real id wins over NULL; of two real ids the first wins."""
    kb_ids: Dict[str, str] = {}
    first_line: Dict[str, BratLink] = {}
    for link in ann.links:
        if link.target not in entity_ids:
            collector.warn(
                "link_unknown_entity",
                link.line,
                f"link {link.id} names entity {link.target}, which is not in the file",
                "fix the id or delete the N line",
            )
            report.links_dropped["unknown_entity"] += 1
            continue
        kb_id, status = _link_kb_id(link, collector)
        if status == "nil":
            report.links_nil += 1
            continue
        if status == "malformed":
            report.links_dropped["malformed_id"] += 1
            continue
        previous = kb_ids.get(link.target)
        if previous is not None and previous != kb_id:
            collector.warn(
                "conflicting_links",
                link.line,
                f"entity {link.target} is linked to {previous} (line "
                f"{first_line[link.target].line}) and to {kb_id}; keeping {previous}",
                "delete the wrong N line",
            )
            report.links_dropped["conflicting"] += 1
            continue
        if previous is None:
            kb_ids[link.target] = kb_id
            first_line[link.target] = link
        report.links_kept += 1
    return kb_ids


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
    collector = _Collector(ann.path, strict)
    collector.warnings.extend(warnings)
    report = ReadReport(
        documents=1,
        entity_lines=ann.entity_lines,
        relation_lines=ann.relation_lines,
        link_lines=ann.link_lines,
        ignored_lines=Counter(ann.ignored),
    )
    if ann.malformed["T"]:
        report.entities_dropped["malformed"] += ann.malformed["T"]
    if ann.malformed["R"]:
        report.relations_dropped["malformed"] += ann.malformed["R"]
    if ann.malformed["N"]:
        report.links_dropped["malformed"] += ann.malformed["N"]

    shift = _bom_offset(raw_text, ann.entities)
    text = raw_text[1:] if raw_text.startswith(BOM) else raw_text
    if raw_text.startswith(BOM):
        collector.warn(
            "bom_in_text",
            None,
            "the text starts with a UTF-8 BOM; the .ann offsets were read as "
            + ("counting it, as brat does" if shift else "not counting it"),
            "save the .txt as UTF-8 without BOM",
            path=txt_path,
        )
    doc = nlp.make_doc(text)
    report.tokens = len(doc)
    entity_labels = set(schema.entity_types)
    relation_labels = set(schema.relation_types)

    # Align every entity; duplicates (same tokens, same label) share one span.
    span_of_entity: Dict[str, Tuple[int, int, str]] = {}
    spans: Dict[Tuple[int, int, str], Span] = {}
    fragments_of: Dict[Tuple[int, int, str], List[List[int]]] = {}
    known_ids = set()
    for entity in ann.entities:
        if entity.id in known_ids:
            collector.warn(
                "duplicate_id",
                entity.line,
                f"entity id {entity.id} is used twice; keeping the first",
                "give every T line its own id",
            )
            report.entities_dropped["duplicate_id"] += 1
            continue
        known_ids.add(entity.id)
        fragments = sorted((start - shift, end - shift) for start, end in entity.fragments)
        reason = _check_fragments(entity, fragments, len(text), collector)
        if reason:
            report.entities_dropped[reason] += 1
            continue
        start, end = fragments[0][0], fragments[-1][1]
        # brat writes the mention in the order of the fragments on the line.
        found = _fragment_text(text, [(s - shift, e - shift) for s, e in entity.fragments])
        if not _same_mention(entity.text, found):
            collector.warn(
                "text_mismatch",
                entity.line,
                f"{entity.id} mention {_shorten(entity.text)!r} != text at offsets "
                f"{_shorten(found)!r}; keeping the offsets",
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
        if span is None:
            span = doc.char_span(start, end, label=entity.label, alignment_mode="expand")
            if span is None or len(span) == 0 or not span.text.strip():
                collector.warn(
                    "unalignable_entity",
                    entity.line,
                    f"{entity.id} {text[start:end]!r} ({start}-{end}) covers no token",
                    "fix the offsets; a span must cover some non-space text",
                )
                report.entities_dropped["unalignable"] += 1
                continue
            report.entities_misaligned += 1
        key = (span.start, span.end, entity.label)
        if key in spans:
            report.entities_dropped["duplicate"] += 1
            span_of_entity[entity.id] = key
            continue
        spans[key] = span
        span_of_entity[entity.id] = key
        if entity.is_discontinuous:
            fragments_of[key] = [list(fragment) for fragment in fragments]

    kb_ids = _resolve_links(ann, known_ids, collector, report)
    for entity_id, kb_id in kb_ids.items():
        key = span_of_entity.get(entity_id)
        if key is None:
            # The entity's T line was dropped with its own warning.
            report.links_kept -= 1
            report.links_dropped["entity_dropped"] += 1
        elif not spans[key].kb_id_:
            spans[key].kb_id_ = kb_id

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

    relations = _map_relations(
        ann, span_of_entity, known_ids, index_of, relation_labels, collector, report
    )
    doc._.relations = relations
    present = {relation["label"] for relation in relations}
    doc.cats = {label: float(label in present) for label in schema.relation_types}
    report.warnings = collector.warnings
    return doc, report


def _check_fragments(
    entity: BratEntity, fragments: List[Tuple[int, int]], length: int, collector: _Collector
) -> Optional[str]:
    """The drop reason for impossible offsets, else None."""
    for start, end in fragments:
        if start < 0 or end > length:
            collector.warn(
                "offset_out_of_range",
                entity.line,
                f"{entity.id} offsets {start}-{end} lie outside the text (length {length})",
                "check that the .txt belongs to this .ann and was not edited",
            )
            return "offset_out_of_range"
        if start >= end:
            collector.warn(
                "empty_span",
                entity.line,
                f"{entity.id} has an empty or reversed fragment {start}-{end}",
                "a fragment's end must be greater than its start",
            )
            return "empty_span"
    return None


def _map_relations(
    ann: BratAnnotations,
    span_of_entity: Dict[str, Tuple[int, int, str]],
    known_ids: set,
    index_of: Dict[Tuple[int, int, str], int],
    relation_labels: set,
    collector: _Collector,
    report: ReadReport,
) -> List[dict]:
    relations: List[dict] = []
    seen = set()
    for relation in ann.relations:
        missing = [arg for arg in (relation.head, relation.tail) if arg not in known_ids]
        if missing:
            collector.warn(
                "relation_unknown_entity",
                relation.line,
                f"relation {relation.id} names {', '.join(missing)}, not an entity in the file",
                "fix the argument ids or delete the R line",
            )
            report.relations_dropped["unknown_entity"] += 1
            continue
        head_key = span_of_entity.get(relation.head)
        tail_key = span_of_entity.get(relation.tail)
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


def read_brat_document(
    txt_path: PathLike,
    ann_path: Optional[PathLike] = None,
    nlp: Optional[Language] = None,
    schema: Optional[Schema] = None,
    *,
    strict: bool = False,
) -> Tuple[Doc, ReadReport]:
    """Read one brat document into a ``Doc`` and the report of what was kept and dropped.

    ``ann_path`` defaults to the ``.txt`` path with suffix ``.ann``; a missing ``.ann``
    raises ``BratFormatError`` (a text without annotation is not training data).
    """
    txt_path = Path(txt_path)
    ann_path = Path(ann_path) if ann_path is not None else txt_path.with_suffix(".ann")
    if nlp is None:
        from .tokenizer import make_blank_nlp

        nlp = make_blank_nlp()
    schema = schema if schema is not None else Schema()
    if not txt_path.exists():
        raise BratFormatError(txt_path, None, "text file not found", "check the path")
    if not ann_path.exists():
        raise _missing_ann_error(txt_path, ann_path)
    try:
        raw_text = read_text(txt_path)
        ann_text = read_ann(ann_path)
    except UnicodeDecodeError as err:
        raise BratFormatError(
            txt_path, None, f"not valid UTF-8 ({err.reason} at byte {err.start})",
            "re-save the .txt and .ann as UTF-8",
        ) from None
    ann, warnings = parse_ann(ann_text, ann_path, strict=strict)
    doc, report = annotations_to_doc(
        raw_text, ann, nlp, schema, txt_path=txt_path, strict=strict, warnings=warnings
    )
    doc.user_data[DOC_ID_KEY] = txt_path.stem
    return doc, report


def find_documents(folder: PathLike) -> List[Path]:
    """The ``.txt`` files of a brat folder, sorted by name (not recursive)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BratFormatError(folder, None, "folder not found", "pass a folder of .txt/.ann files")
    return sorted(path for path in folder.glob("*.txt") if path.is_file())


def check_pairs(folder: PathLike) -> List[Path]:
    """The ``.txt`` files of ``folder``; raises on the first one without its ``.ann``."""
    paths = find_documents(folder)
    for txt_path in paths:
        if not txt_path.with_suffix(".ann").exists():
            raise _missing_ann_error(txt_path, txt_path.with_suffix(".ann"))
    return paths


def _missing_ann_error(txt_path: Path, ann_path: Path) -> BratFormatError:
    return BratFormatError(
        txt_path,
        None,
        f"no annotation file {ann_path.name} next to it",
        "add the .ann (an empty one if the text has no entities) or remove the .txt",
    )


def read_brat_folder(
    folder: PathLike,
    nlp: Optional[Language] = None,
    schema: Optional[Schema] = None,
    *,
    strict: bool = False,
    on_document: Optional[Callable[[Path], None]] = None,
) -> Iterator[Tuple[Doc, ReadReport]]:
    """Yield ``(doc, report)`` for each ``.txt`` + ``.ann`` pair of a brat folder, by name.

    Missing ``.ann`` files are checked before anything is read, so a bad folder fails
    fast instead of after converting half of it.
    """
    paths = check_pairs(folder)
    if nlp is None:
        from .tokenizer import make_blank_nlp

        nlp = make_blank_nlp()
    for txt_path in paths:
        if on_document is not None:
            on_document(txt_path)
        yield read_brat_document(txt_path, None, nlp, schema, strict=strict)


def get_fragments(doc: Doc) -> Dict[int, List[Tuple[int, int]]]:
    """The fragments of discontinuous entities, by index into ``doc.spans["nerel"]``."""
    stored = doc.user_data.get(FRAGMENTS_KEY) or {}
    return {int(i): [(int(s), int(e)) for s, e in frags] for i, frags in stored.items()}


__all__ = [
    "BratAnnotations",
    "BratEntity",
    "BratFormatError",
    "BratLink",
    "BratRelation",
    "BratWarning",
    "ReadReport",
    "annotations_to_doc",
    "check_pairs",
    "find_documents",
    "get_fragments",
    "parse_ann",
    "read_brat_document",
    "read_brat_folder",
]
