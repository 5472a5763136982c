"""The teacher pass: a trained joint pipeline's soft outputs for every training doc.

``teacher_records`` runs the teacher on the docs exactly as ``spacy train`` will hand them
to the student (``nlp.make_doc(reference.text)``, the gold mentions aligned to those
tokens), so every stored row lines up with a row of the student's outputs.
``label_texts`` turns unlabeled texts into training docs whose "gold" is the teacher's
own prediction; their soft outputs are then taken like any other doc's.
"""
from contextlib import nullcontext
from typing import Callable, Iterable, Iterator, List, Optional, Sequence

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..models import joint as joint_model
from ..models.loss import sigmoid, softmax
from ..schema import SPANS_KEY
from ..soft_targets import TEACHER_KEY, pack_teacher_outputs

TEACHER_SOURCE = "nerel_teacher_source"  # user_data key marking docs labelled by the teacher


def joint_component(nlp: Language):
    """The pipeline's ``nerel_joint`` component (the first one, whatever its name)."""
    from ..pipeline.joint import NerelJoint

    for _, component in nlp.components:
        if isinstance(component, NerelJoint):
            return component
    raise ValueError("the teacher has no nerel_joint component: pass a pipeline trained by this project.")


def teacher_records(nlp: Language, references: Sequence[Doc], token_vectors: bool = False) -> List[dict]:
    """``pack_teacher_outputs`` for each reference doc (one batch; empty docs get none);
    ``token_vectors``: with the encoder's token vectors too."""
    component = joint_component(nlp)
    examples = [Example(nlp.make_doc(ref.text), ref) for ref in references]
    docs = [eg.predicted for eg in examples]
    for name, proc in nlp.pipeline:
        if proc is component:
            break
        docs = list(proc.pipe(docs)) if hasattr(proc, "pipe") else [proc(doc) for doc in docs]
    non_empty = [i for i, doc in enumerate(docs) if len(doc)]
    records: List[Optional[dict]] = [None] * len(docs)
    if not non_empty:
        return records
    ops = component.model.ops
    with joint_model.tokens_exposed(component.model) if token_vectors else nullcontext():
        outputs = component.model.predict([docs[i] for i in non_empty])
    cats = ops.to_numpy(sigmoid(ops, outputs["cats"]))
    relations = [None] * len(non_empty)
    if component.relation_head is not None:
        gold = component._gold_relations([examples[i] for i in non_empty])
        logits = component.relation_head.predict((outputs[joint_model.TOKENS], [g.mentions for g in gold]))
        relations = [ops.to_numpy(sigmoid(ops, x)) for x in logits]
    for k, i in enumerate(non_empty):
        spans = ops.to_numpy(softmax(ops, outputs["spans"][k])) if "spans" in outputs else None
        vectors = ops.to_numpy(outputs[joint_model.TOKENS][k]) if token_vectors else None
        records[i] = pack_teacher_outputs(
            ops.to_numpy(softmax(ops, outputs["ner"][k])), spans, cats[k], relations[k], token_vectors=vectors,
        )
    return records


def with_teacher_outputs(
    nlp: Language, references: Iterable[Doc], batch_size: int = 8,
    on_batch: Optional[Callable[[int], None]] = None, token_vectors: bool = False,
) -> Iterator[Doc]:
    """Each reference doc with its teacher record in ``user_data[TEACHER_KEY]``."""
    batch: List[Doc] = []

    def flush() -> Iterator[Doc]:
        for ref, record in zip(batch, teacher_records(nlp, batch, token_vectors)):
            if record is not None:
                ref.user_data[TEACHER_KEY] = record
            yield ref
        if on_batch:
            on_batch(len(batch))
        batch.clear()

    for ref in references:
        batch.append(ref)
        if len(batch) >= batch_size:
            yield from flush()
    if batch:
        yield from flush()


def label_texts(nlp: Language, texts: Iterable[str], batch_size: int = 8) -> Iterator[Doc]:
    """Unlabeled texts as training docs whose gold is the teacher's prediction.

    A fresh doc carries the teacher's entities, mentions (``doc.spans["nerel"]``),
    triples (``doc._.relations``, without scores) and relation types (1.0 at or above the
    component's threshold, else 0.0), so that the student's gold-side code reads it like
    a converted NEREL doc; nothing of the teacher's encoder output is kept.
    """
    component = joint_component(nlp)
    spans_key = component.cfg.get("spans_key") or SPANS_KEY
    thresholds = component.cats_thresholds
    for predicted in nlp.pipe(texts, batch_size=batch_size):
        doc = Doc(nlp.vocab, words=[t.text for t in predicted], spaces=[bool(t.whitespace_) for t in predicted])
        doc.ents = [Span(doc, e.start, e.end, label=e.label_) for e in predicted.ents]
        mentions = predicted.spans[spans_key] if spans_key in predicted.spans else []
        doc.spans[spans_key] = [Span(doc, s.start, s.end, label=s.label_) for s in mentions]
        if Doc.has_extension("relations") and predicted._.relations is not None:
            doc._.relations = [{k: rel[k] for k in ("head", "tail", "label")} for rel in predicted._.relations]
        doc.cats = {label: float(score >= thresholds.get(label, component.cfg["threshold"]))
                    for label, score in predicted.cats.items()}
        doc.user_data[TEACHER_SOURCE] = True
        yield doc


__all__ = ["joint_component", "label_texts", "teacher_records", "with_teacher_outputs"]
