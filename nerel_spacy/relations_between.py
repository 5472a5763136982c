"""Relation triples among mentions you bring: your own NER's, natasha's, or hand-picked ones.

``relations_between(nlp, doc, mentions)`` runs a ``nerel_joint`` pipeline's relation head on
the given mentions instead of its span head's, and returns triples in ``doc._.relations``'s
form, ``{"head", "tail", "label", "score"}``, with ``head`` and ``tail`` indexing the
mentions as given. A mention is a ``Span`` of ``doc`` or a ``(start_char, end_char,
label)`` tuple; ``label_map`` renames labels to NEREL's types first (natasha's ``PER`` →
``PERSON``). The components before ``nerel_joint`` (a transformer) run on a copy of ``doc``.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span

from .pipeline.relations import relations_to_dicts
from .relation_decoding import mention_array

Mention = Union[Span, Tuple[int, int, str]]


def mention_rows(
    doc: Doc, mentions: Sequence[Mention], entity_labels: Sequence[str], label_map: Optional[Dict[str, str]] = None
) -> List[Tuple[int, int, int]]:
    """``(start token, end token, type index)`` of each mention; a clear error for one that
    has no NEREL type, is no span of ``doc`` nor a ``(start_char, end_char, label)`` tuple,
    or covers no token. Character offsets inside a token are widened to the whole token."""
    label_map = label_map or {}
    index = {label: i for i, label in enumerate(entity_labels)}
    rows = []
    for number, mention in enumerate(mentions):
        if isinstance(mention, Span):
            if mention.doc is not doc:
                raise ValueError(f"mention {number} ({mention.text!r}) is a span of another Doc; "
                                 "pass spans of this doc, or (start_char, end_char, label) tuples")
            span = mention
        else:
            if not (isinstance(mention, (tuple, list)) and len(mention) == 3
                    and all(isinstance(offset, int) for offset in mention[:2]) and isinstance(mention[2], str)):
                raise ValueError(f"mention {number} ({mention!r}) is neither a Span of the doc nor a "
                                 "(start_char, end_char, label) tuple")
            start_char, end_char, label = mention
            span = doc.char_span(start_char, end_char, label=label, alignment_mode="expand")
            if span is None or not len(span):
                raise ValueError(f"mention {number} ({start_char}, {end_char}, {label!r}) covers no token of "
                                 f"the doc ({len(doc.text)} characters)")
        label = label_map.get(span.label_, span.label_)
        if label not in index:
            raise ValueError(
                f"mention {number} ({span.text!r}): type {span.label_!r} is not one the relation head knows; "
                f"map it with label_map to one of {', '.join(entity_labels)}"
            )
        rows.append((span.start, span.end, index[label]))
    return rows


def relations_between(
    nlp: Language,
    doc: Union[Doc, str],
    mentions: Iterable[Mention],
    *,
    label_map: Optional[Dict[str, str]] = None,
    component: str = "nerel_joint",
) -> List[dict]:
    """Triples among ``mentions`` at the component's ``relation_threshold``, indexing ``mentions``."""
    if component in nlp.disabled:
        raise ValueError(f"{component!r} is disabled in this pipeline; enable it (nlp.enable_pipe) first")
    if component not in nlp.pipe_names:
        raise ValueError(f"the pipeline has no {component!r} component (it has {', '.join(nlp.pipe_names)})")
    pipe = nlp.get_pipe(component)
    if isinstance(doc, str):
        doc = nlp.make_doc(doc)
    mentions = list(mentions)
    rows = mention_rows(doc, mentions, pipe.entity_labels, label_map)
    if len(rows) < 2:
        return []
    prepared = doc.copy()
    for name, proc in nlp.pipeline[: nlp.pipe_names.index(component)]:
        prepared = proc(prepared)
    relations = pipe.predict_relations([prepared], [mention_array(rows)])[0]
    return relations_to_dicts(relations, pipe.cats_labels)


__all__ = ["relations_between", "mention_rows"]
