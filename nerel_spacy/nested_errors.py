"""Where nested-mention errors come from, per entity type.

Every false negative and false positive of the nested metric (exact ``(start, end,
label)``, ``scoring_nested``) is put in one class, by what the other side holds:

- ``label``: the other side has a mention with the same extent and another label;
- ``boundary``: no such mention, but one with the same label that overlaps it;
- ``missed`` (a gold mention) or ``spurious`` (a predicted one): neither.

``errors_by_label`` adds up the classes for each label, with its gold count and true
positives, so a report can say which types hold the score back and how.
"""
from collections import defaultdict
from typing import Dict, Iterable, List, Set, Tuple

from spacy.training import Example

from .schema import SPANS_KEY
from .scoring_nested import Mention, char_mentions

ERROR_KINDS = ("label", "boundary", "missed", "spurious")
# The columns of ``errors_by_label`` that split its false negatives and false positives.
ERROR_COLUMNS = ("fn_label", "fn_boundary", "fn_missed", "fp_label", "fp_boundary", "fp_spurious")


def overlaps(a: Mention, b: Mention) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def error_kind(mention: Mention, other_side: Set[Mention], unmatched: str) -> str:
    """The class of an unmatched ``mention`` given the mentions of the other side."""
    start, end, label = mention
    if any(o[0] == start and o[1] == end and o[2] != label for o in other_side):
        return "label"
    if any(o[2] == label and overlaps(o, mention) for o in other_side):
        return "boundary"
    return unmatched


def classify_errors(gold: Set[Mention], predicted: Set[Mention]) -> List[Tuple[str, str, Mention]]:
    """``(side, kind, mention)`` for every unmatched mention; side is ``fn`` or ``fp``."""
    errors = [("fn", error_kind(m, predicted, "missed"), m) for m in sorted(gold - predicted)]
    errors += [("fp", error_kind(m, gold, "spurious"), m) for m in sorted(predicted - gold)]
    return errors


def errors_by_label(examples: Iterable[Example], key: str = SPANS_KEY) -> Dict[str, Dict[str, int]]:
    """``{label: {"gold", "tp", "fn", "fp", "fn_label", "fn_boundary", "fn_missed", "fp_label",
    "fp_boundary", "fp_spurious"}}`` over ``examples``, labels sorted by their error count."""
    table: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for eg in examples:
        gold, predicted = char_mentions(eg.reference, key), char_mentions(eg.predicted, key)
        for mention in gold:
            table[mention[2]]["gold"] += 1
            table[mention[2]]["tp"] += mention in predicted
        for side, kind, mention in classify_errors(gold, predicted):
            table[mention[2]][side] += 1
            table[mention[2]][f"{side}_{kind}"] += 1
    columns = ("gold", "tp", "fn", "fp") + ERROR_COLUMNS
    rows = {label: {column: int(counts[column]) for column in columns} for label, counts in table.items()}
    return dict(sorted(rows.items(), key=lambda item: (-(item[1]["fn"] + item[1]["fp"]), item[0])))


__all__ = ["ERROR_COLUMNS", "ERROR_KINDS", "classify_errors", "error_kind", "errors_by_label", "overlaps"]
