"""The joint component's training objective: each task's raw loss and its gradient.

``raw_task_losses`` pairs every head's output with its gold targets (see
``targets``) and the loss maths of ``models.loss``; the component then weighs the
tasks (uncertainty or fixed weights). ``check_settings`` refuses settings that
cannot work with the model, naming the config block to fix.
"""
from typing import Dict, Sequence, Tuple

from spacy.training import Example
from thinc.api import Ops

from ..models.loss import sigmoid_binary_cross_entropy, softmax_cross_entropy
from .targets import gold_cats, gold_span_classes, gold_tag_ids

LOSS_WEIGHTINGS = ("uncertainty", "fixed")
ENTS_SOURCES = ("tags", "spans")


def raw_task_losses(
    ops: Ops,
    examples: Sequence[Example],
    scores: Dict[str, object],
    *,
    tag_labels: Sequence[str],
    entity_labels: Sequence[str],
    cats_labels: Sequence[str],
    max_width: int,
    spans_key: str,
) -> Dict[str, Tuple[float, object]]:
    """``{task: (loss, d_logits)}`` for each head in ``scores``; token and span gradients flat."""
    raw: Dict[str, Tuple[float, object]] = {}
    gold_tags, tag_mask = gold_tag_ids(examples, tag_labels)
    tag_logits = scores["ner"]
    flat_tags = ops.flatten(tag_logits) if tag_logits else ops.alloc2f(0, 0)
    raw["ner"] = softmax_cross_entropy(ops, flat_tags, gold_tags, tag_mask)
    if "spans" in scores:
        classes, span_mask, _ = gold_span_classes(examples, entity_labels, max_width, spans_key)
        span_logits = scores["spans"]
        flat_spans = ops.flatten(span_logits) if span_logits else ops.alloc2f(0, 0)
        raw["spans"] = softmax_cross_entropy(ops, flat_spans, classes, span_mask)
    truths, cats_mask = gold_cats(examples, cats_labels)
    raw["cats"] = sigmoid_binary_cross_entropy(ops, scores["cats"], truths, cats_mask)
    return raw


def check_settings(cfg: Dict[str, object], tasks: Sequence[str], name: str) -> None:
    """Raise a ValueError naming ``[components.{name}]`` for a setting that cannot work."""
    for setting, allowed in (("loss_weighting", LOSS_WEIGHTINGS), ("ents_source", ENTS_SOURCES)):
        if cfg[setting] not in allowed:
            raise ValueError(
                f"nerel_joint: {setting} must be one of {allowed}, not {cfg[setting]!r}. "
                f"Set it in [components.{name}] of your config."
            )
    if cfg["ents_source"] == "spans" and "spans" not in tasks:
        raise ValueError(
            f"nerel_joint: ents_source = \"spans\" needs a model with a span head "
            f"(nerel.JointTagCat.v2); [components.{name}.model] has none."
        )
