"""seqeval's entity-level micro P/R/F (its default, conlleval-compatible mode), in pure Python.

The reference notebook scores flat NER with ``seqeval.metrics``; these functions give the
same numbers for any IOB1/IOB2/IOBES tag sequences (``tests/test_seqeval_metric.py``
checks them against seqeval itself). Having them here keeps seqeval, and with it
scikit-learn, out of the runtime dependencies: with scikit-learn installed, importing
spacy-transformers also imports it (transformers' generation utilities do), which cost
about 150 MB of resident memory and 1.5 s in every process that loads a pipeline.
"""
from typing import List, Sequence, Set, Tuple

Entity = Tuple[str, int, int]  # (type, first token, last token), over the concatenated sequences


def _tag_and_type(label: str) -> Tuple[str, str]:
    return label[:1], label[1:].split("-", maxsplit=1)[-1] or "_"


def _ends(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether a chunk ended between the previous token and this one (seqeval's end_of_chunk)."""
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _starts(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether a chunk starts at this token (seqeval's start_of_chunk)."""
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def entities(sequences: Sequence[Sequence[str]]) -> List[Entity]:
    """The chunks of ``sequences`` as seqeval's ``get_entities`` finds them: the sequences are
    joined with an ``O`` after each, so offsets run over the whole corpus."""
    joined: List[str] = [label for sequence in sequences for label in [*sequence, "O"]]
    prev_tag, prev_type, begin = "O", "", 0
    chunks: List[Entity] = []
    for i, label in enumerate([*joined, "O"]):
        tag, type_ = _tag_and_type(label)
        if _ends(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _starts(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def entity_prf(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> Tuple[float, float, float]:
    """Micro precision, recall and F1 of the predicted entities (0 where undefined, as
    seqeval's ``zero_division=0``)."""
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tag sequences must have the same lengths")
    true: Set[Entity] = set(entities(gold))
    found: Set[Entity] = set(entities(predicted))
    correct = len(true & found)
    precision = correct / len(found) if found else 0.0
    recall = correct / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


__all__ = ["entities", "entity_prf"]
