"""The data contract's span policies, applied the same way to gold and predictions.

``doc.spans["nerel"]`` holds every entity; ``doc.ents`` is a flat view chosen by
``select_flat_entities``: outermost spans first, ties to the longer, then the earlier.
``doc._.relations`` holds relation triples indexing ``doc.spans["nerel"]`` by position:
gold ones from a corpus, or a pipeline's predictions, which also carry a ``score``.
"""
from typing import Iterable, List

from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from .schema import SPANS_KEY

if not Doc.has_extension("relations"):
    # Stored in doc.user_data, so DocBin(store_user_data=True) keeps it.
    Doc.set_extension("relations", default=None)


def select_flat_entities(spans: Iterable[Span]) -> List[Span]:
    """Choose non-overlapping spans: the longest first (so outermost wins), ties to the earlier.

    This is spaCy's ``filter_spans`` policy; a span that contains another is always longer,
    so nested children give way to their parents. Returned in document order.
    """
    return sorted(filter_spans(list(spans)), key=lambda span: span.start)


def set_flat_entities(doc: Doc, spans: Iterable[Span]) -> None:
    """Write the flat view of ``spans`` into ``doc.ents`` (tokens outside them become O)."""
    doc.set_ents(select_flat_entities(spans), default="outside")


def get_relations(doc: Doc) -> List[dict]:
    """The relation triples of ``doc``, ``{"head", "tail", "label"}`` (and ``"score"`` when
    predicted), ``head`` and ``tail`` indexing ``doc.spans["nerel"]``; empty when none."""
    return list(doc._.relations or [])


__all__ = ["SPANS_KEY", "select_flat_entities", "set_flat_entities", "get_relations"]
