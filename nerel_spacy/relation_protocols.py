"""Relation scores with gold mentions under two protocols, from one set of pair probabilities.

- **Extraction** (our ``relations_gold_insent_*``, ``scoring_relations``): every ordered
  pair of gold mentions within a sentence is asked a multi-label question. About one
  such pair in ten is related on NEREL; each type whose probability reaches the
  threshold is a predicted triple, scored against the gold triples.
- **Classification** (OpenNRE's sentence-level evaluation, TACRED-style): the model is
  handed a list of instances, each a pair with one gold label or ``NA``, and answers the
  single most probable type, or ``NA`` when no type reaches the threshold. Micro P/R/F
  leave ``NA`` out: precision over the instances answered with a type, recall over the
  instances with a gold type. A pair with two gold types is two instances with the same
  answer, as in OpenNRE's data.

How many ``NA`` instances the list holds decides the classification score. The NEREL
authors' 0.849 (OpenNRE over RuBERT-base) does not say: its P 0.853 ≠ R 0.846 shows there
were some. ``classification_instances`` therefore takes the ratio of unrelated pairs to gold
triples as a parameter, from none to every unrelated candidate pair of the sentences.

Both protocols score either every in-sentence pair or, with ``nested_only``, the pairs one
of whose arguments lies inside the other (the authors' "in-sentence nested relations").
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy
from spacy.scorer import PRFScore

from .relation_decoding import DecodedRelation, best_of_nested_variants, one_inside_the_other

NA = -1


class DocPairs(NamedTuple):
    """One doc's candidate pairs of gold mentions, their probabilities and its gold triples."""

    heads: numpy.ndarray  # (n_pairs,) mention rows, the relation head's candidate order
    tails: numpy.ndarray  # (n_pairs,)
    probs: numpy.ndarray  # (n_pairs, n_labels) probability of each relation type
    in_sentence: numpy.ndarray  # (n_pairs,) bool: both arguments in one sentence
    gold: Set[Tuple[int, int, int]]  # (head, tail, label) in-sentence gold triples, any distance
    mentions: numpy.ndarray  # (n_mentions, 3) start, end, type: the rows heads and tails index


def scoped(doc: DocPairs, nested_only: bool) -> Tuple[numpy.ndarray, Set[Tuple[int, int, int]]]:
    """The candidate pairs (a mask) and gold triples a protocol scores."""
    if not nested_only:
        return doc.in_sentence, doc.gold
    nested = numpy.asarray(
        [one_inside_the_other(doc.mentions, h, t) for h, t in zip(doc.heads.tolist(), doc.tails.tolist())], dtype=bool
    ).reshape(doc.in_sentence.shape)
    return doc.in_sentence & nested, {g for g in doc.gold if one_inside_the_other(doc.mentions, g[0], g[1])}


class Instance(NamedTuple):
    """A classification instance: a pair of doc ``doc`` and its gold label (``NA`` if unrelated)."""

    doc: int
    head: int
    tail: int
    label: int


def prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    """Precision, recall and F1 from counts, by spaCy's ``PRFScore`` (0 where undefined)."""
    return PRFScore(tp=tp, fp=fp, fn=fn).to_dict()


def extraction_scores(
    docs: Sequence[DocPairs], threshold: float, nested_only: bool = False, nested_arguments: str = "all"
) -> Dict[str, float]:
    """Multi-label micro P/R/F over in-sentence pairs: each type at or above ``threshold`` is a
    triple (with ``nested_arguments="best"``, the best of each nest: ``best_of_nested_variants``,
    chosen among every candidate pair, as the pipeline decodes, before the scored pairs are
    kept). Gold triples without a candidate pair (beyond the head's window) count as missed."""
    tp = fp = fn = 0
    for doc in docs:
        asked, gold = scoped(doc, nested_only)
        rows, labels = numpy.nonzero(doc.probs >= threshold)
        found = [DecodedRelation(int(doc.heads[r]), int(doc.tails[r]), int(k), float(doc.probs[r, k]))
                 for r, k in zip(rows, labels)]
        if nested_arguments == "best":
            found = best_of_nested_variants(found, doc.mentions)
        scored = {(h, t) for h, t, inside in zip(doc.heads.tolist(), doc.tails.tolist(), asked.tolist()) if inside}
        predicted = {(rel.head, rel.tail, rel.label) for rel in found if (rel.head, rel.tail) in scored}
        tp += len(predicted & gold)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
    return {**prf(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn}


def classification_instances(
    docs: Sequence[DocPairs], negative_ratio: Optional[float], seed: int = 0, nested_only: bool = False
) -> List[Instance]:
    """Every in-sentence gold triple, plus unrelated in-sentence candidate pairs as ``NA``.

    ``negative_ratio``: how many ``NA`` instances per gold triple, drawn without replacement
    with ``seed`` (``None``: every unrelated pair; a ratio asking for more than there are
    takes them all).
    """
    positives, negatives = [], []
    for i, doc in enumerate(docs):
        asked, gold = scoped(doc, nested_only)
        positives.extend(Instance(i, h, t, k) for h, t, k in sorted(gold))
        related = {(h, t) for h, t, _ in doc.gold}
        for head, tail, inside in zip(doc.heads.tolist(), doc.tails.tolist(), asked.tolist()):
            if inside and (head, tail) not in related:
                negatives.append(Instance(i, head, tail, NA))
    if negative_ratio is not None:
        wanted = min(len(negatives), int(round(negative_ratio * len(positives))))
        chosen = numpy.random.default_rng(seed).choice(len(negatives), size=wanted, replace=False)
        negatives = [negatives[j] for j in sorted(chosen.tolist())]
    return positives + negatives


def classify(docs: Sequence[DocPairs], instances: Sequence[Instance], threshold: float) -> List[int]:
    """Each instance's answer: the most probable type, or ``NA`` when none reaches ``threshold``
    (or the pair is no candidate of the head)."""
    rows = [{(h, t): r for r, (h, t) in enumerate(zip(doc.heads.tolist(), doc.tails.tolist()))} for doc in docs]
    answers = []
    for instance in instances:
        row = rows[instance.doc].get((instance.head, instance.tail))
        if row is None:
            answers.append(NA)
            continue
        probs = docs[instance.doc].probs[row]
        best = int(numpy.argmax(probs))
        answers.append(best if probs[best] >= threshold else NA)
    return answers


def classification_scores(instances: Sequence[Instance], answers: Sequence[int]) -> Dict[str, float]:
    """OpenNRE's micro P/R/F: right typed answers over typed answers, and over typed instances."""
    if len(instances) != len(answers):
        raise ValueError(f"{len(instances)} instances but {len(answers)} answers")
    correct = sum(1 for inst, ans in zip(instances, answers) if ans != NA and ans == inst.label)
    answered = sum(1 for ans in answers if ans != NA)
    typed = sum(1 for inst in instances if inst.label != NA)
    scores = prf(correct, answered - correct, typed - correct)
    return {**scores, "instances": len(instances), "na_instances": len(instances) - typed}


__all__ = [
    "NA",
    "DocPairs",
    "Instance",
    "classification_instances",
    "classification_scores",
    "classify",
    "extraction_scores",
    "prf",
]
