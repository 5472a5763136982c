"""Relation-triple scores: end to end, and with gold mentions (comparable to the NEREL paper).

- ``score_relations``: end-to-end strict micro P/R/F and per-type P/R/F of
  ``doc._.relations``. A predicted triple is right when both argument spans match a
  gold triple's in character offsets and entity type, and the relation type matches.
- ``score_gold_mention_relations``: runs a relation head on each example's gold mentions
  and scores micro P/R/F over all pairs and over pairs whose arguments share a sentence
  (the NEREL authors' in-sentence setting; sentences from ``nerel_spacy.sentences``:
  razdel's, and a break at each line break); ``score_relations_with_gold_mentions`` does
  so for a whole pipeline and bare docs.

``nerel.joint_scorer.v3`` adds both to ``nerel.joint_scorer.v2``'s, so ``spacy evaluate``,
``nerel-batch evaluate`` and training's dev scores all carry them.
"""
import functools
from collections import defaultdict
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import numpy

from spacy.language import Language
from spacy.scorer import PRFScore
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import minibatch, registry

from .gold_targets import gold_relations
from .relation_protocols import DocPairs
from .schema import SPANS_KEY
from .scoring_nested import score_joint_nested
from .sentences import sentence_ids
from .spans import get_relations

Argument = Tuple[int, int, str]
Triple = Tuple[Argument, Argument, str]


def relation_triples(doc: Doc, key: str = SPANS_KEY) -> Set[Triple]:
    """``doc._.relations`` as ``((start_char, end_char, type), (…), relation)`` triples."""
    group = list(doc.spans[key]) if key in doc.spans else []
    triples = set()
    for relation in get_relations(doc):
        head, tail = relation["head"], relation["tail"]
        if 0 <= head < len(group) and 0 <= tail < len(group):
            arguments = [(group[i].start_char, group[i].end_char, group[i].label_) for i in (head, tail)]
            triples.add((arguments[0], arguments[1], relation["label"]))
    return triples


def prf_scores(prefix: str, total: PRFScore, per_type: Dict[str, PRFScore]) -> Dict[str, object]:
    """``{prefix}_p/r/f`` and ``{prefix}_per_type`` from counted ``PRFScore`` objects."""
    return {
        f"{prefix}_p": total.precision,
        f"{prefix}_r": total.recall,
        f"{prefix}_f": total.fscore,
        f"{prefix}_per_type": {label: s.to_dict() for label, s in sorted(per_type.items())},
    }


def count_triples(gold: Set, predicted: Set, total: PRFScore, per_type: Dict[str, PRFScore]) -> None:
    """Add one doc's true and false positives and false negatives; the type is a triple's last item."""
    for triple in gold | predicted:
        for score in (total, per_type[triple[-1]]):
            if triple in gold and triple in predicted:
                score.tp += 1
            elif triple in gold:
                score.fn += 1
            else:
                score.fp += 1


def score_relations(examples: Iterable[Example], key: str = SPANS_KEY) -> Dict[str, object]:
    """End-to-end strict ``relations_p/r/f`` and ``relations_per_type``."""
    total = PRFScore()
    per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    for eg in examples:
        count_triples(relation_triples(eg.reference, key), relation_triples(eg.predicted, key), total, per_type)
    return prf_scores("relations", total, per_type)


def in_one_sentence(sentence: Sequence[int], head: Sequence[int], tail: Sequence[int]) -> bool:
    """Whether every token of two ``(start, end, …)`` mentions lies in one sentence (``sentence_ids``)."""
    tokens = [*range(head[0], head[1]), *range(tail[0], tail[1])]
    return len({sentence[t] for t in tokens}) == 1


RelationPredictor = Callable[[List[Doc], Sequence[numpy.ndarray]], List[list]]


def gold_mention_triples(
    examples: Sequence[Example],
    predict_relations: RelationPredictor,
    entity_labels: Sequence[str],
    relation_labels: Sequence[str],
    *,
    spans_key: str = SPANS_KEY,
    batch_size: int = 16,
) -> Iterator[Tuple[Set, Set, Set]]:
    """Per example, ``(gold, predicted, in_sentence)`` sets of ``(head, tail, label)`` triples.

    ``predict_relations(docs, mentions)`` (``NerelJoint.predict_relations``) scores pairs
    of each example's gold mentions on its predicted doc, which must have been through the
    components before the relation head's (a transformer), as in ``nlp.evaluate``. ``head``
    and ``tail`` index the gold mentions; ``in_sentence`` holds the triples of either set
    whose arguments share a sentence.
    """
    for batch in minibatch(list(examples), batch_size):
        gold = gold_relations(batch, entity_labels, relation_labels, spans_key)
        docs = [eg.predicted for eg in batch]
        predicted = predict_relations(docs, [g.mentions for g in gold])
        for doc, doc_gold, doc_predicted in zip(docs, gold, predicted):
            sentence = sentence_ids(doc)
            rows = doc_gold.mentions
            gold_set = {(h, t, relation_labels[k]) for h, t, k in doc_gold.triples}
            predicted_set = {(r.head, r.tail, relation_labels[r.label]) for r in doc_predicted}
            inside = {triple for triple in gold_set | predicted_set
                      if in_one_sentence(sentence, rows[triple[0]], rows[triple[1]])}
            yield gold_set, predicted_set, inside


def score_gold_mention_relations(
    examples: Sequence[Example],
    predict_relations: RelationPredictor,
    entity_labels: Sequence[str],
    relation_labels: Sequence[str],
    *,
    spans_key: str = SPANS_KEY,
    batch_size: int = 16,
) -> Dict[str, object]:
    """``relations_gold_*`` (all pairs) and ``relations_gold_insent_*`` micro P/R/F, per type too,
    over :func:`gold_mention_triples`. Gold pairs beyond the head's ``max_distance`` count
    as missed.
    """
    scores = {scope: (PRFScore(), defaultdict(PRFScore)) for scope in ("all", "insent")}
    for gold_set, predicted_set, inside in gold_mention_triples(
        examples, predict_relations, entity_labels, relation_labels, spans_key=spans_key, batch_size=batch_size,
    ):
        count_triples(gold_set, predicted_set, *scores["all"])
        count_triples(gold_set & inside, predicted_set & inside, *scores["insent"])
    found = prf_scores("relations_gold", *scores["all"])
    found.update(prf_scores("relations_gold_insent", *scores["insent"]))
    return found


def run_upstream(nlp: Language, examples: Sequence[Example], component: str, batch_size: int = 16) -> List[Example]:
    """Examples whose predicted docs are copies run through the components before ``component``."""
    upstream = [proc for name, proc in nlp.pipeline[: nlp.pipe_names.index(component)]]
    prepared = []
    for batch in minibatch(list(examples), batch_size):
        docs = [eg.predicted.copy() for eg in batch]
        for proc in upstream:
            docs = list(proc.pipe(docs))
        prepared.extend(Example(doc, eg.reference) for doc, eg in zip(docs, batch))
    return prepared


def gold_mention_pairs(
    nlp: Language, examples: Sequence[Example], *, component: str = "nerel_joint", batch_size: int = 16
) -> List[DocPairs]:
    """Each example's candidate pairs of gold mentions with their probabilities, and its
    in-sentence gold triples, for ``relation_protocols`` (examples with bare predicted docs)."""
    pipe = nlp.get_pipe(component)
    found = []
    for batch in minibatch(run_upstream(nlp, examples, component, batch_size), batch_size):
        gold = gold_relations(batch, pipe.entity_labels, pipe.cats_labels, pipe.cfg["spans_key"] or SPANS_KEY)
        pairs = pipe.pair_probabilities([eg.predicted for eg in batch], [g.mentions for g in gold])
        for eg, doc_gold, (heads, tails, probs) in zip(batch, gold, pairs):
            sentence = sentence_ids(eg.predicted)
            rows = doc_gold.mentions
            inside = numpy.asarray(
                [in_one_sentence(sentence, rows[h], rows[t]) for h, t in zip(heads.tolist(), tails.tolist())],
                dtype=bool,
            )
            triples = {(h, t, k) for h, t, k in doc_gold.triples if in_one_sentence(sentence, rows[h], rows[t])}
            found.append(DocPairs(heads, tails, probs, inside, triples, rows))
    return found


def score_relations_with_gold_mentions(
    nlp: Language,
    examples: Sequence[Example],
    *,
    component: str = "nerel_joint",
    batch_size: int = 16,
) -> Dict[str, object]:
    """``score_gold_mention_relations`` for examples whose predicted docs are bare.

    The components before ``component`` (a transformer) run on copies of the examples'
    predicted docs first.
    """
    pipe = nlp.get_pipe(component)
    prepared = run_upstream(nlp, examples, component, batch_size)
    return score_gold_mention_relations(
        prepared, pipe.predict_relations, pipe.entity_labels, pipe.cats_labels,
        spans_key=pipe.cfg["spans_key"] or SPANS_KEY, batch_size=batch_size,
    )


def score_joint_relations(
    examples: Iterable[Example],
    *,
    spans_key: str = SPANS_KEY,
    predict_relations: Optional[RelationPredictor] = None,
    entity_labels: Sequence[str] = (),
    **kwargs,
) -> Dict[str, object]:
    """``nerel.joint_scorer.v2``'s scores plus the end-to-end relation scores.

    With ``predict_relations`` (the component passes its own), the gold-mention scores too.
    """
    examples = list(examples)
    scores = score_joint_nested(examples, spans_key=spans_key, **kwargs)
    scores.update(score_relations(examples, spans_key))
    if predict_relations is not None:
        scores.update(score_gold_mention_relations(
            examples, predict_relations, entity_labels, kwargs.get("cats_labels", ()), spans_key=spans_key,
        ))
    return scores


@registry.scorers("nerel.joint_scorer.v3")
def make_relation_joint_scorer(spans_key: str = SPANS_KEY) -> Callable[..., Dict[str, object]]:
    """``nerel.joint_scorer.v2`` plus relation P/R/F: end to end over ``doc._.relations``, and
    with gold mentions when the component hands over its relation head."""
    return functools.partial(score_joint_relations, spans_key=spans_key)  # not a closure: the pipeline pickles


__all__ = [
    "gold_mention_pairs",
    "gold_mention_triples",
    "relation_triples",
    "run_upstream",
    "score_gold_mention_relations",
    "score_relations",
    "score_relations_with_gold_mentions",
    "score_joint_relations",
    "in_one_sentence",
]
