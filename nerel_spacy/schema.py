"""NEREL's label inventory: 29 entity types and 49 relation types.

The built-in lists match NEREL v1.1's ``annotation.conf``. ``parse_annotation_conf``
reads a user's own (``nerel_spacy.brat.load_schema`` finds and reads the file), so that a
newer release needs no code change.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

ENTITY_TYPES: Tuple[str, ...] = (
    "AGE", "AWARD", "CITY", "COUNTRY", "CRIME", "DATE", "DISEASE", "DISTRICT",
    "EVENT", "FACILITY", "FAMILY", "IDEOLOGY", "LANGUAGE", "LAW", "LOCATION",
    "MONEY", "NATIONALITY", "NUMBER", "ORDINAL", "ORGANIZATION", "PENALTY",
    "PERCENT", "PERSON", "PRODUCT", "PROFESSION", "RELIGION",
    "STATE_OR_PROVINCE", "TIME", "WORK_OF_ART",
)

RELATION_TYPES: Tuple[str, ...] = (
    "ABBREVIATION", "KNOWS", "AGE_IS", "AGE_DIED_AT", "ALTERNATIVE_NAME",
    "AWARDED_WITH", "PLACE_OF_BIRTH", "CAUSE_OF_DEATH", "DATE_DEFUNCT_IN",
    "DATE_FOUNDED_IN", "DATE_OF_BIRTH", "DATE_OF_CREATION", "DATE_OF_DEATH",
    "POINT_IN_TIME", "PLACE_OF_DEATH", "FOUNDED_BY", "HEADQUARTERED_IN",
    "IDEOLOGY_OF", "LOCATED_IN", "SPOUSE", "MEDICAL_CONDITION", "MEMBER_OF",
    "ORGANIZES", "ORIGINS_FROM", "OWNER_OF", "PARENT_OF", "PLACE_RESIDES_IN",
    "PRICE_OF", "PRODUCES", "RELATIVE", "RELIGION_OF", "SCHOOLS_ATTENDED",
    "SIBLING", "SUBEVENT_OF", "SUBORDINATE_OF", "TAKES_PLACE_IN", "WORKPLACE",
    "WORKS_AS", "START_TIME", "END_TIME", "CONVICTED_OF", "PENALIZED_AS",
    "PART_OF", "HAS_CAUSE", "AGENT", "PARTICIPANT_IN", "INANIMATE_INVOLVED",
    "EXPENDITURE", "INCOME",
)

# The span group that holds every entity, nested ones included (the data contract).
SPANS_KEY = "nerel"


@dataclass(frozen=True)
class Schema:
    """The entity and relation types a corpus may use."""

    entity_types: Tuple[str, ...] = ENTITY_TYPES
    relation_types: Tuple[str, ...] = RELATION_TYPES


def _section_names(lines: List[str]) -> List[str]:
    names = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("<"):
            continue
        # Hierarchical brat confs indent children with tabs; the name is the first field.
        name = line.split("\t")[0].split()[0].lstrip("!")
        names.append(name)
    return names


def parse_annotation_conf(text: str) -> Schema:
    """Read the ``[entities]`` and ``[relations]`` sections of a brat ``annotation.conf``."""
    sections: dict = {}
    current: Optional[str] = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip().lower()
            sections.setdefault(current, [])
        elif current is not None:
            sections[current].append(line)
    entities = tuple(_section_names(sections.get("entities", [])))
    relations = tuple(_section_names(sections.get("relations", [])))
    if not entities:
        raise ValueError("annotation.conf has no [entities] section with types in it")
    return Schema(entity_types=entities, relation_types=relations)
