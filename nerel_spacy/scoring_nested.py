"""Nested-mention scores: exact ``(start, end, label)`` over every mention, the NEREL metric.

``score_nested`` compares ``doc.spans[key]`` of the predicted and the reference docs
by character offsets and label, with spaCy's ``PRFScore``: micro P/R/F over all
mentions, per type, and split into outermost and inner mentions. A gold mention is
inner when another gold mention contains it; a spurious prediction is counted as
inner or outer by the predicted mentions' own nesting.

``nerel.joint_scorer.v2`` adds these to ``nerel.joint_scorer.v1``'s flat scores.
"""
import functools
from collections import defaultdict
from typing import Callable, Dict, Iterable, List, Set, Tuple

from spacy.scorer import PRFScore
from spacy.training import Example
from spacy.util import registry

from .schema import SPANS_KEY
from .scoring import score_joint

Mention = Tuple[int, int, str]


def char_mentions(doc, key: str) -> Set[Mention]:
    """The ``(start_char, end_char, label)`` of every mention in ``doc.spans[key]``."""
    if key not in doc.spans:
        return set()
    return {(span.start_char, span.end_char, span.label_) for span in doc.spans[key]}


def inner_mentions(mentions: Iterable[Mention]) -> Set[Mention]:
    """Mentions that lie inside another mention of a different extent."""
    mentions = list(mentions)
    extents = sorted({(s, e) for s, e, _ in mentions}, key=lambda x: (x[0], -x[1]))
    inner_extents = set()
    # An extent is inner when an earlier-starting (or same-start, longer) extent covers it.
    for i, (s, e) in enumerate(extents):
        for s2, e2 in extents[:i]:
            if s2 <= s and e <= e2 and (s2, e2) != (s, e):
                inner_extents.add((s, e))
                break
    return {m for m in mentions if (m[0], m[1]) in inner_extents}


def score_nested(examples: Iterable[Example], key: str = SPANS_KEY) -> Dict[str, object]:
    """``spans_{key}_p/r/f``, ``_per_type``, and ``_outer_*``/``_inner_*`` P/R/F."""
    total = PRFScore()
    by_depth = {"outer": PRFScore(), "inner": PRFScore()}
    per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    for eg in examples:
        gold = char_mentions(eg.reference, key)
        predicted = char_mentions(eg.predicted, key)
        gold_inner = inner_mentions(gold)
        predicted_inner = inner_mentions(predicted)
        for mention in gold | predicted:
            depth_of_gold = "inner" if mention in gold_inner else "outer"
            depth_of_predicted = "inner" if mention in predicted_inner else "outer"
            label = mention[2]
            if mention in gold and mention in predicted:
                for score in (total, by_depth[depth_of_gold], per_type[label]):
                    score.tp += 1
            elif mention in gold:
                for score in (total, by_depth[depth_of_gold], per_type[label]):
                    score.fn += 1
            else:
                for score in (total, by_depth[depth_of_predicted], per_type[label]):
                    score.fp += 1
    prefix = f"spans_{key}"
    scores: Dict[str, object] = {
        f"{prefix}_p": total.precision,
        f"{prefix}_r": total.recall,
        f"{prefix}_f": total.fscore,
        f"{prefix}_per_type": {label: s.to_dict() for label, s in sorted(per_type.items())},
    }
    for depth, score in by_depth.items():
        scores[f"{prefix}_{depth}_p"] = score.precision
        scores[f"{prefix}_{depth}_r"] = score.recall
        scores[f"{prefix}_{depth}_f"] = score.fscore
    return scores


def score_joint_nested(
    examples: Iterable[Example], *, spans_key: str = SPANS_KEY, **kwargs
) -> Dict[str, object]:
    """The flat joint scores plus the nested-mention scores of ``doc.spans[spans_key]``."""
    examples = list(examples)
    scores = score_joint(examples, **kwargs)
    scores.update(score_nested(examples, spans_key))
    return scores


@registry.scorers("nerel.joint_scorer.v2")
def make_nested_joint_scorer(spans_key: str = SPANS_KEY) -> Callable[..., Dict[str, object]]:
    """``nerel.joint_scorer.v1`` plus nested P/R/F over ``doc.spans[spans_key]``."""
    return functools.partial(score_joint_nested, spans_key=spans_key)  # not a closure: the pipeline pickles


__all__: List[str] = ["char_mentions", "inner_mentions", "score_nested", "score_joint_nested"]
