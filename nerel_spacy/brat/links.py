"""brat ``N`` lines to knowledge-base ids: Wikidata ids repaired or refused, NIL kept apart."""
import re
from typing import Dict, Optional, Set, Tuple

from .ann import BratAnnotations, BratLink
from .report import Collector, ReadReport

# Link ids that say "this entity has no Wikidata item"; "MULL" is a typo found in NEREL.
NIL_LINK_IDS = frozenset({"NULL", "NIL", "NONE", "MULL", "-"})

_KB_ID_RE = re.compile(r"[QP]\d+")


def link_kb_id(link: BratLink, collector: Collector) -> Tuple[Optional[str], str]:
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


def resolve_links(
    ann: BratAnnotations, entity_ids: Set[str], collector: Collector, report: ReadReport
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
        kb_id, status = link_kb_id(link, collector)
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
