"""Join the parts of a long text, annotated one by one, back into one ``Doc``.

``nerel-batch annotate`` cuts a text longer than ``--max-chars`` at paragraph or sentence
boundaries (``split_text``) and annotates each part. ``join_parts`` rebuilds the whole:
``Doc.from_docs`` keeps the tokens, ``ents`` and span groups; what it drops is carried
over here: the ``attrs`` of ``spans["nerel"]`` (scores), ``cats`` (each label's highest
score over the parts, as in the JSONL record) and ``_.relations`` (indices shifted onto
the joined span group), and fragments of discontinuous mentions.
"""
from typing import Any, Dict, List, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from ..brat import DOC_ID_KEY, FRAGMENTS_KEY, get_fragments
from ..schema import SPANS_KEY
from ..spans import get_relations


def _joined_attrs(parts: Sequence[Doc]) -> Dict[str, Any]:
    """A list-valued attr with one value per span in every part is concatenated; others come from the first part."""
    attrs: Dict[str, Any] = {}
    groups = [doc.spans[SPANS_KEY] for doc in parts if SPANS_KEY in doc.spans]
    keys = {key for group in groups for key in group.attrs}
    for key in sorted(keys):
        values = [group.attrs.get(key) for group in groups]
        per_span = all(
            value is not None and hasattr(value, "__len__") and not isinstance(value, (str, dict))
            and len(value) == len(group)
            for value, group in zip(values, groups)
        )
        if per_span and any(isinstance(value, numpy.ndarray) for value in values):
            attrs[key] = numpy.concatenate([numpy.asarray(value) for value in values])
        elif per_span:
            attrs[key] = [item for value in values for item in value]
        else:
            attrs[key] = next(value for value in values if value is not None)
    return attrs


def join_parts(parts: Sequence[Tuple[Doc, int]]) -> Doc:
    """One ``Doc`` from ``(doc, char offset)`` parts that cover a text end to end, in order.

    Raises ``ValueError`` when an offset does not follow on from the previous part, since
    the joined text would then not be the original.
    """
    if not parts:
        raise ValueError("join_parts needs at least one part")
    expected = parts[0][1]
    for index, (doc, offset) in enumerate(parts):
        if offset != expected:
            raise ValueError(
                f"part {index} starts at character {offset}, but the parts before it end at "
                f"{expected}; give every part of the text, in order, with its start offset"
            )
        expected += len(doc.text)
    docs = [doc for doc, _ in parts]
    if len(docs) == 1:
        return docs[0]
    joined = Doc.from_docs(docs, ensure_whitespace=False, exclude=["user_data", "tensor"])
    if SPANS_KEY in joined.spans:
        joined.spans[SPANS_KEY].attrs.update(_joined_attrs(docs))

    cats: Dict[str, float] = {}
    relations: List[dict] = []
    fragments: Dict[str, List[List[int]]] = {}
    span_offset = 0
    for doc, offset in parts:
        for label, score in doc.cats.items():
            cats[label] = max(float(score), cats.get(label, float(score)))
        for relation in get_relations(doc):
            shifted = dict(relation)
            shifted["head"] = relation["head"] + span_offset
            shifted["tail"] = relation["tail"] + span_offset
            relations.append(shifted)
        char_offset = offset - parts[0][1]
        for index, frags in get_fragments(doc).items():
            fragments[str(index + span_offset)] = [
                [start + char_offset, end + char_offset] for start, end in frags
            ]
        span_offset += len(doc.spans[SPANS_KEY]) if SPANS_KEY in doc.spans else 0
    joined.cats = cats
    if any(doc.has_extension("relations") and doc._.relations is not None for doc in docs):
        joined._.relations = relations
    if fragments:
        joined.user_data[FRAGMENTS_KEY] = fragments
    if DOC_ID_KEY in docs[0].user_data:
        joined.user_data[DOC_ID_KEY] = docs[0].user_data[DOC_ID_KEY]
    return joined


__all__ = ["join_parts"]
