"""The brat ``.ann`` format: one record per ``T``, ``R`` and ``N`` line.

Lines that cannot be parsed are skipped with a warning; lines of kinds this project
does not use (attributes, events, notes, equivalences) are counted and skipped.
"""
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Tuple

from .report import BratWarning, Collector, PathLike, shorten

BOM = "\ufeff"

_ID_RE = re.compile(r"^(?:[TRENAM#]\d+|\*)$")
_T_BODY_RE = re.compile(r"^(\S+) (\d+ \d+(?:;\d+ \d+)*)$")
_R_BODY_RE = re.compile(r"^(\S+) (\S+):(\S+) (\S+):(\S+)$")
_N_BODY_RE = re.compile(r"^(\S+) (\S+) (\S+?):(\S+)$")


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


def parse_ann(
    text: str, path: PathLike = "<string>", *, strict: bool = False
) -> Tuple[BratAnnotations, List[BratWarning]]:
    """Parse the text of a brat ``.ann`` file into entities, relations and links.

    Lines that cannot be parsed are skipped with a warning; lines of kinds this project
    does not use (attributes, events, notes, equivalences) are counted and skipped.
    """
    collector = Collector(path, strict)
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
                f"not a brat annotation line: {shorten(line)!r}",
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
                f"{name} line {ann_id} cannot be parsed: {shorten(line)!r}",
                f"expected '{expected}'",
            )
            ann.malformed[kind] += 1
            continue
        extra = "\t".join(parts[2:])
        {"T": ann.entities, "R": ann.relations, "N": ann.links}[kind].append(
            build(ann_id, match, extra, lineno)
        )
    return ann, collector.warnings


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
