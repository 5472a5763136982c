"""The joint component's training objective: each task's raw loss and its gradient.

``raw_task_losses`` pairs every head's output with its gold targets (see
``targets``) and the loss maths of ``models.loss``; the component then weighs the
tasks (uncertainty or fixed weights). ``check_settings`` refuses settings that
cannot work with the model, naming the config block to fix.
"""
from typing import Dict, List, Sequence, Tuple

import numpy
from spacy.training import Example
from thinc.api import Ops

from ..models.loss import sigmoid_binary_cross_entropy, softmax_cross_entropy
from ..relation_decoding import enumerate_pairs, relation_targets
from .targets import GoldRelations, gold_cats, gold_span_classes, gold_tag_ids

LOSS_WEIGHTINGS = ("uncertainty", "fixed")
ENTS_SOURCES = ("tags", "spans")
CATS_SOURCES = ("doc", "triples", "max")


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


def relation_task_loss(
    ops: Ops, logits: List[object], gold: Sequence[GoldRelations], max_distance: int
) -> Tuple[float, object]:
    """Sigmoid cross-entropy of every candidate pair of gold mentions, summed over the
    relation types and averaged over the pairs (``per_row``): with 49 types and one pair
    in ten related, a mean over types too made a positive's gradient 49 times smaller
    (measured: dev gold-mention F1 in docs/results.md).

    ``logits`` holds one ``(n_pairs, n_labels)`` array per doc, in ``enumerate_pairs``
    order over ``gold[i].mentions``; returns ``(loss, d_logits)`` with the gradient flat.
    """
    n_labels = logits[0].shape[1] if len(logits) else 0
    targets, masks = [], []
    for doc_gold in gold:
        heads, tails = enumerate_pairs(doc_gold.mentions, max_distance)
        doc_targets, _ = relation_targets(heads, tails, doc_gold.triples, n_labels)
        targets.append(doc_targets)
        masks.append(numpy.full(doc_targets.shape, float(doc_gold.known), dtype="float32"))
    flat = ops.flatten(logits) if len(logits) else ops.alloc2f(0, 0)
    if not targets:
        return 0.0, flat
    return sigmoid_binary_cross_entropy(
        ops, flat, numpy.concatenate(targets), numpy.concatenate(masks), per_row=True,
    )


def check_settings(cfg: Dict[str, object], tasks: Sequence[str], name: str) -> None:
    """Raise a ValueError naming ``[components.{name}]`` for a setting that cannot work."""
    checks = (("loss_weighting", LOSS_WEIGHTINGS), ("ents_source", ENTS_SOURCES), ("cats_source", CATS_SOURCES))
    for setting, allowed in checks:
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
    if cfg["cats_source"] != "doc" and "relations" not in tasks:
        raise ValueError(
            f"nerel_joint: cats_source = {cfg['cats_source']!r} needs a model with a relation "
            f"head (nerel.JointTagCat.v3); [components.{name}.model] has none."
        )


def output_gradients(
    ops: Ops, scores: Dict[str, object], raw: Dict[str, Tuple[float, object]], factor: Dict[str, float]
) -> Dict[str, object]:
    """Each head's gradient, scaled by its task weight, in the shape of its output."""
    d_outputs: Dict[str, object] = {}
    for task in ("ner", "spans", "relations"):
        if task in raw:
            lengths = ops.asarray1i([len(x) for x in scores[task]])
            d_flat = ops.asarray2f(raw[task][1] * factor[task])
            d_outputs[task] = ops.unflatten(d_flat, lengths) if len(lengths) else []
    d_outputs["cats"] = ops.asarray2f(raw["cats"][1] * factor["cats"])
    return d_outputs
