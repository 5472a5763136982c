"""How consistently the training documents annotate a mention's words.

A dev mention such as EVENT "выборов" is only as learnable as the training data is
consistent about it: if the same words appear 40 times in train and are an EVENT mention
in 12 of them, a model that answers "none" for them is mostly right there. For each gold
mention this counts, over the training documents, the occurrences of its exact lower-cased
token sequence and the share of them annotated as a mention of the same type with exactly
that extent (``train_consistency``); ``recall_by_consistency`` then sets the model's recall
beside it, bucket by bucket.
"""
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

from .schema import SPANS_KEY

Surface = Tuple[str, ...]
BUCKETS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0001))
UNSEEN = "unseen in train"


def surface(doc: Doc, start: int, end: int) -> Surface:
    return tuple(token.lower_ for token in doc[start:end])


def train_consistency(
    train_docs: Iterable[Doc], wanted: Iterable[Tuple[Surface, str]], key: str = SPANS_KEY,
) -> Dict[Tuple[Surface, str], Tuple[int, int]]:
    """``{(surface, label): (occurrences, annotated)}`` over ``train_docs``.

    ``occurrences`` counts every place the token sequence appears; ``annotated`` those where
    a mention of ``label`` covers exactly it.
    """
    wanted = set(wanted)
    surfaces = {text for text, _ in wanted}
    lengths = sorted({len(text) for text in surfaces})
    occurrences: Counter = Counter()
    annotated: Counter = Counter()
    for doc in train_docs:
        lowered = [token.lower_ for token in doc]
        mentions = {(span.start, span.end, span.label_) for span in doc.spans.get(key, [])}
        for length in lengths:
            for start in range(len(lowered) - length + 1):
                text = tuple(lowered[start : start + length])
                if text not in surfaces:
                    continue
                occurrences[text] += 1
                for label in {span[2] for span in mentions if span[:2] == (start, start + length)}:
                    annotated[(text, label)] += 1
    return {(text, label): (occurrences[text], annotated[(text, label)]) for text, label in wanted}


def bucket_name(low: float, high: float) -> str:
    return f"{low:.2f}-{min(high, 1.0):.2f}"


def bucket_of(occurrences: int, annotated: int) -> str:
    if occurrences == 0:
        return UNSEEN
    share = annotated / occurrences
    for low, high in BUCKETS:
        if low <= share < high:
            return bucket_name(low, high)
    raise ValueError(f"share {share} outside 0..1")


def recall_by_consistency(
    gold: Sequence[Tuple[Surface, str, bool]],
    consistency: Dict[Tuple[Surface, str], Tuple[int, int]],
    label: Optional[str] = None,
) -> Dict[str, Dict[str, float]]:
    """Per consistency bucket: how many gold mentions, how many found, and the recall.

    ``gold`` holds ``(surface, label, found)`` per gold mention; ``label`` keeps one type.
    """
    rows: Dict[str, List[bool]] = {UNSEEN: []}
    rows.update({bucket_name(low, high): [] for low, high in BUCKETS})
    for text, mention_label, found in gold:
        if label is not None and mention_label != label:
            continue
        rows[bucket_of(*consistency[(text, mention_label)])].append(found)
    return {
        bucket: {"gold": len(found), "found": sum(found), "recall": sum(found) / len(found) if found else 0.0}
        for bucket, found in rows.items()
    }


__all__ = ["UNSEEN", "bucket_of", "recall_by_consistency", "surface", "train_consistency"]
