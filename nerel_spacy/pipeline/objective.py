"""The joint component's training objective: each task's raw loss and its gradient.

``raw_task_losses`` pairs every head's output with its gold targets (see
``gold_targets``) and the loss maths of ``models.loss``; the component then weighs the
tasks (uncertainty or fixed weights). ``check_settings`` refuses settings that
cannot work with the model, naming the config block to fix.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.training import Example
from thinc.api import Ops

from ..soft_targets import (
    TEACHER_KEY,
    mix_targets,
    unpack_cats,
    unpack_relations,
    unpack_spans,
    unpack_tags,
    unpack_token_vectors,
)
from ..models.loss import (
    relative_squared_error,
    weigh_task_losses,
    sigmoid_binary_cross_entropy,
    soft_cross_entropy,
    softmax_cross_entropy,
)
from ..models.joint import LOG_VARIANCES, TOKENS
from ..relation_decoding import enumerate_pairs, relation_targets
from ..span_decoding import n_candidates
from ..gold_targets import GoldRelations, gold_cats, gold_span_classes, gold_tag_ids

LOSS_WEIGHTINGS = ("uncertainty", "fixed")
TASK_LOSSES = "task_losses"  # the key of each raw loss in the gradients dict, for the logger
TOKEN_VECTORS = "token_vectors"  # the raw distillation loss on the encoder's output, when there is one
ENTS_SOURCES = ("tags", "spans")
CATS_SOURCES = ("doc", "triples", "max")
NESTED_ARGUMENTS = ("all", "best")


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
    distill_weight: float = 0.0,
) -> Dict[str, Tuple[float, object]]:
    """``{task: (loss, d_logits)}`` for each head in ``scores``; token and span gradients flat.

    With ``distill_weight > 0``, docs that carry a teacher's outputs (``TEACHER_KEY`` in
    the reference's ``user_data``) learn from gold and teacher mixed (``mix_targets``).
    """
    raw: Dict[str, Tuple[float, object]] = {}
    teachers = [teacher_record(eg) if distill_weight > 0 else None for eg in examples]
    distilling = any(record is not None for record in teachers)
    gold_tags, tag_mask = gold_tag_ids(examples, tag_labels)
    tag_logits = scores["ner"]
    flat_tags = ops.flatten(tag_logits) if tag_logits else ops.alloc2f(0, 0)
    if distilling:
        n_tags = len(tag_labels)
        raw["ner"] = soft_cross_entropy(ops, flat_tags, *_mixed_rows(
            examples, teachers, numpy.eye(n_tags)[gold_tags], tag_mask, distill_weight,
            size=lambda eg: len(eg.predicted), unpack=lambda r, n: unpack_tags(r, n, n_tags)))
    else:
        raw["ner"] = softmax_cross_entropy(ops, flat_tags, gold_tags, tag_mask)
    if "spans" in scores:
        classes, span_mask, _ = gold_span_classes(examples, entity_labels, max_width, spans_key)
        span_logits = scores["spans"]
        flat_spans = ops.flatten(span_logits) if span_logits else ops.alloc2f(0, 0)
        if distilling:
            n_classes = 1 + len(entity_labels)
            raw["spans"] = soft_cross_entropy(ops, flat_spans, *_mixed_rows(
                examples, teachers, numpy.eye(n_classes)[classes], span_mask, distill_weight,
                size=lambda eg: n_candidates(len(eg.predicted), max_width),
                unpack=lambda r, n: unpack_spans(r, n, n_classes)))
        else:
            raw["spans"] = softmax_cross_entropy(ops, flat_spans, classes, span_mask)
    truths, cats_mask = gold_cats(examples, cats_labels)
    if distilling:
        truths, cats_mask = _mixed_rows(
            examples, teachers, truths, cats_mask, distill_weight,
            size=lambda eg: 1, unpack=lambda r, n: unpack_cats(r, len(cats_labels))[None, :])
    raw["cats"] = sigmoid_binary_cross_entropy(ops, scores["cats"], truths, cats_mask)
    return raw


def teacher_record(example: Example) -> Optional[dict]:
    """The teacher's stored outputs for this example (``soft_targets``), if any."""
    return example.reference.user_data.get(TEACHER_KEY)


def _mixed_rows(examples, teachers, gold, mask, weight, *, size, unpack):
    """Flat gold targets with each distilled doc's rows mixed with its teacher's."""
    targets, mask = numpy.asarray(gold, dtype="float64").copy(), numpy.asarray(mask, dtype="float64").copy()
    offset = 0
    for eg, record in zip(examples, teachers):
        n = size(eg)
        if record is not None:
            rows = slice(offset, offset + n)
            targets[rows], mask[rows] = mix_targets(targets[rows], mask[rows], unpack(record, n), weight)
        offset += n
    return targets, mask


def relation_task_loss(
    ops: Ops, logits: List[object], gold: Sequence[GoldRelations], max_distance: int,
    teachers: Optional[Sequence[Optional[dict]]] = None, distill_weight: float = 0.0,
) -> Tuple[float, object]:
    """Sigmoid cross-entropy of every candidate pair of gold mentions, summed over the
    relation types and averaged over the pairs (``per_row``): with 49 types and one pair
    in ten related, a mean over types too made a positive's gradient 49 times smaller
    (measured: dev gold-mention F1 in docs/results.md).

    ``logits`` holds one ``(n_pairs, n_labels)`` array per doc, in ``enumerate_pairs``
    order over ``gold[i].mentions``; returns ``(loss, d_logits)`` with the gradient flat.
    A doc with a ``teachers`` record learns from gold and teacher mixed by ``distill_weight``.
    """
    n_labels = logits[0].shape[1] if len(logits) else 0
    targets, masks = [], []
    teachers = teachers if teachers is not None and distill_weight > 0 else [None] * len(gold)
    for doc_gold, record in zip(gold, teachers):
        heads, tails = enumerate_pairs(doc_gold.mentions, max_distance)
        doc_targets, _ = relation_targets(heads, tails, doc_gold.triples, n_labels)
        doc_mask = numpy.full(doc_targets.shape, float(doc_gold.known), dtype="float32")
        if record is not None and "relations" in record:
            teacher = unpack_relations(record, len(heads), n_labels)
            doc_targets, doc_mask = mix_targets(doc_targets, doc_mask, teacher, distill_weight)
        targets.append(doc_targets)
        masks.append(doc_mask)
    flat = ops.flatten(logits) if len(logits) else ops.alloc2f(0, 0)
    if not targets:
        return 0.0, flat
    return sigmoid_binary_cross_entropy(
        ops, flat, numpy.concatenate(targets), numpy.concatenate(masks), per_row=True,
    )


def token_vectors_loss(
    ops: Ops, token_vectors: Sequence[object], teachers: Sequence[Optional[dict]],
) -> Tuple[float, Optional[List[object]]]:
    """How far the encoder's token vectors are from the teacher's stored ones.

    ``relative_squared_error`` over the tokens of every doc whose teacher record holds
    token vectors; ``(0.0, None)`` when none does. The gradient is one array per doc,
    zero for the docs without them.
    """
    rows, targets = [], []
    for i, (vectors, record) in enumerate(zip(token_vectors, teachers)):
        target = unpack_token_vectors(record, *vectors.shape) if record is not None else None
        if target is not None:
            rows.append(i)
            targets.append(target)
    if not rows:
        return 0.0, None
    lengths = ops.asarray1i([token_vectors[i].shape[0] for i in rows])
    loss, d_flat = relative_squared_error(
        ops, ops.flatten([token_vectors[i] for i in rows]), ops.asarray(numpy.concatenate(targets)),
    )
    gradients = [ops.alloc2f(*vectors.shape) for vectors in token_vectors]
    for i, d_doc in zip(rows, ops.unflatten(ops.asarray2f(d_flat), lengths)):
        gradients[i] = d_doc
    return loss, gradients


def add_token_vectors_loss(
    ops: Ops, examples: Sequence[Example], scores: Dict[str, object], d_outputs: Dict[str, object], weight: float,
) -> float:
    """With ``weight > 0``: ``weight`` times ``token_vectors_loss``, a fixed-weight pull of the
    encoder's output towards the teacher's (not a task of the uncertainty weighting).

    Adds its gradient to ``d_outputs[TOKENS]`` and its raw value to ``d_outputs[TASK_LOSSES]``;
    returns the weighted loss (0.0 when off, or when no doc carries the teacher's vectors).
    """
    if weight <= 0 or TOKENS not in scores:
        return 0.0
    loss, d_tokens = token_vectors_loss(ops, scores[TOKENS], [teacher_record(eg) for eg in examples])
    if d_tokens is None:
        return 0.0
    d_outputs[TOKENS] = sum_gradients(d_outputs.get(TOKENS), [d * weight for d in d_tokens])
    d_outputs[TASK_LOSSES][TOKEN_VECTORS] = loss
    return weight * loss


def sum_gradients(first: Optional[List[object]], second: List[object]) -> List[object]:
    """Two gradients of one list output (one array per doc), added; ``first`` may be None."""
    return second if first is None else [a + b for a, b in zip(first, second)]


def check_settings(cfg: Dict[str, object], tasks: Sequence[str], name: str) -> None:
    """Raise a ValueError naming ``[components.{name}]`` for a setting that cannot work."""
    checks = (("loss_weighting", LOSS_WEIGHTINGS), ("ents_source", ENTS_SOURCES), ("cats_source", CATS_SOURCES),
              ("nested_arguments", NESTED_ARGUMENTS))
    for setting, allowed in checks:
        if cfg[setting] not in allowed:
            raise ValueError(
                f"nerel_joint: {setting} must be one of {allowed}, not {cfg[setting]!r}. "
                f"Set it in [components.{name}] of your config."
            )
    for setting in ("threshold", "span_threshold", "relation_threshold"):
        if not 0.0 <= cfg[setting] <= 1.0:
            raise ValueError(
                f"nerel_joint: {setting} is a probability, from 0 to 1, not {cfg[setting]}. "
                f"Set it in [components.{name}] of your config."
            )
    if cfg.get("max_batch_tokens", 0) < 0:
        raise ValueError(
            f"nerel_joint: max_batch_tokens must be 0 (one pass per batch) or a positive number "
            f"of tokens, not {cfg['max_batch_tokens']}. Set it in [components.{name}] of your config."
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


def weighted_total_loss(
    ops: Ops, examples: Sequence[Example], scores: Dict[str, object], raw: Dict[str, Tuple[float, object]],
    tasks: Sequence[str], cfg: Dict[str, object],
) -> Tuple[float, Dict[str, object]]:
    """The tasks' raw losses weighed into one total (``cfg["loss_weighting"]``), and the
    gradient of every model output: one per task, the log-variances', and ``TASK_LOSSES``."""
    fixed = cfg["fixed_weights"]
    total, factors, d_log_vars = weigh_task_losses(
        ops,
        [raw[task][0] for task in tasks],
        cfg["loss_weighting"],
        log_variances=scores[LOG_VARIANCES],
        fixed_weights=[fixed.get(task, 1.0) for task in tasks],
    )
    factor = {task: float(f) for task, f in zip(tasks, factors)}
    d_outputs: Dict[str, object] = {
        LOG_VARIANCES: d_log_vars,
        TASK_LOSSES: {task: raw[task][0] for task in tasks},
    }
    d_outputs.update(output_gradients(ops, scores, raw, factor))
    weight = cfg.get("distill_token_vectors_weight", 0.0)
    total += add_token_vectors_loss(ops, examples, scores, d_outputs, weight)
    return total, d_outputs
