"""A teacher's soft outputs, stored compactly beside each training doc, and mixed into gold targets.

Pure array code shared by the teacher pass (``distill.teacher``), which packs each doc's
outputs into ``doc.user_data[TEACHER_KEY]`` (saved with the corpus by
``DocBin(store_user_data=True)``), and by the student's loss (``pipeline.objective``),
which unpacks them aligned with its own outputs and mixes them with the gold labels:
``target = (1 - weight) · gold + weight · teacher`` (Hinton et al. 2015, at temperature 1).

Two outputs are sparse and stored sparsely, which makes the corpus about 30 times smaller:
- span candidates: almost all are "none" with probability near 1; only rows where the
  teacher gives "none" less than ``span_floor`` are stored, the rest count as one-hot "none";
- relation pairs: only probabilities of at least ``relation_floor`` are stored, the rest are 0.

The teacher's token vectors (the encoder output its heads read) are stored too when the
student is to learn them (``token_vectors``): float16, one row per token, the bulk of the
corpus (about 0.75 KB a token for e5-small's 384 dimensions).
"""
from typing import Dict, Optional

import numpy

TEACHER_KEY = "nerel_teacher"
FORMAT = 1
SPAN_FLOOR = 0.995
RELATION_FLOOR = 0.005


class TeacherMismatchError(ValueError):
    """Stored teacher outputs that do not fit the student's outputs (another tokenizer,
    another max_width or another label set)."""


def pack_teacher_outputs(
    tag_probs: numpy.ndarray,
    span_probs: Optional[numpy.ndarray],
    cat_probs: numpy.ndarray,
    relation_probs: Optional[numpy.ndarray],
    *,
    token_vectors: Optional[numpy.ndarray] = None,
    span_floor: float = SPAN_FLOOR,
    relation_floor: float = RELATION_FLOOR,
) -> Dict[str, object]:
    """One doc's teacher probabilities as a msgpack-friendly dict of float16 arrays.

    ``tag_probs`` (n_tokens, n_tags) and ``span_probs`` (n_candidates, 1 + n_types) are
    softmax rows, column 0 of the spans being "none"; ``cat_probs`` (n_cats,) and
    ``relation_probs`` (n_pairs, n_labels) are sigmoid probabilities; ``token_vectors``
    (n_tokens, width) is the encoder's output.
    """
    record: Dict[str, object] = {
        "format": FORMAT,
        "tags": numpy.asarray(tag_probs, dtype="float16"),
        "cats": numpy.asarray(cat_probs, dtype="float16"),
    }
    if span_probs is not None:
        span_probs = numpy.asarray(span_probs)
        rows = numpy.flatnonzero(span_probs[:, 0] < span_floor).astype("int32") if len(span_probs) else numpy.zeros(0, "int32")
        record["spans"] = {"shape": list(span_probs.shape), "rows": rows,
                           "probs": span_probs[rows].astype("float16")}
    if relation_probs is not None:
        relation_probs = numpy.asarray(relation_probs)
        rows, cols = numpy.nonzero(relation_probs >= relation_floor)
        record["relations"] = {"shape": list(relation_probs.shape), "rows": rows.astype("int32"),
                               "cols": cols.astype("int32"), "probs": relation_probs[rows, cols].astype("float16")}
    if token_vectors is not None:
        record["token_vectors"] = numpy.asarray(token_vectors, dtype="float16")
    return record


def _check_shape(name: str, stored, expected) -> None:
    if tuple(stored) != tuple(expected):
        raise TeacherMismatchError(
            f"the teacher's {name} outputs have shape {tuple(stored)} but the student's {tuple(expected)}: "
            "the distillation corpus was written by a teacher with another tokenizer, max_width or label "
            "set. Rebuild it from the student's own teacher with `nerel-batch distill`."
        )


def unpack_tags(record: Dict[str, object], n_tokens: int, n_tags: int) -> numpy.ndarray:
    """The (n_tokens, n_tags) tag distributions, float64, each row summing to 1."""
    tags = numpy.asarray(record["tags"], dtype="float64")
    _check_shape("tag", tags.shape, (n_tokens, n_tags))
    return _renormalise(tags)


def unpack_spans(record: Dict[str, object], n_candidates: int, n_classes: int) -> numpy.ndarray:
    """The (n_candidates, n_classes) span distributions; unstored rows are one-hot "none"."""
    stored = record["spans"]
    _check_shape("span", stored["shape"], (n_candidates, n_classes))
    dense = numpy.zeros((n_candidates, n_classes), dtype="float64")
    dense[:, 0] = 1.0
    rows = numpy.asarray(stored["rows"], dtype="int64")
    dense[rows] = _renormalise(numpy.asarray(stored["probs"], dtype="float64").reshape((len(rows), n_classes)))
    return dense


def unpack_cats(record: Dict[str, object], n_cats: int) -> numpy.ndarray:
    cats = numpy.asarray(record["cats"], dtype="float64")
    _check_shape("cats", cats.shape, (n_cats,))
    return cats


def unpack_relations(record: Dict[str, object], n_pairs: int, n_labels: int) -> numpy.ndarray:
    """The (n_pairs, n_labels) pair probabilities; unstored entries are 0."""
    stored = record["relations"]
    _check_shape("relation", stored["shape"], (n_pairs, n_labels))
    dense = numpy.zeros((n_pairs, n_labels), dtype="float64")
    dense[numpy.asarray(stored["rows"], dtype="int64"), numpy.asarray(stored["cols"], dtype="int64")] = stored["probs"]
    return dense


def unpack_token_vectors(record: Dict[str, object], n_tokens: int, width: int) -> Optional[numpy.ndarray]:
    """The teacher's (n_tokens, width) token vectors as float32, or None where none were stored."""
    if "token_vectors" not in record:
        return None
    vectors = numpy.asarray(record["token_vectors"], dtype="float32")
    _check_shape("token vector", vectors.shape, (n_tokens, width))
    return vectors


def mix_targets(gold: numpy.ndarray, mask: numpy.ndarray, teacher: numpy.ndarray, weight: float):
    """``(targets, mask)``: ``(1 - weight)·gold + weight·teacher`` where gold is known, the
    teacher alone where it is not (so those entries count too).

    ``gold`` and ``teacher`` have one shape; ``mask`` is that shape, or one entry per row
    (the softmax tasks, whose targets are whole rows).
    """
    gold = numpy.asarray(gold, dtype="float64")
    mask = numpy.asarray(mask, dtype="float64")
    known = mask.reshape(mask.shape + (1,) * (gold.ndim - mask.ndim)) > 0
    targets = numpy.where(known, (1.0 - weight) * gold + weight * teacher, teacher)
    return targets, numpy.ones_like(mask)


def _renormalise(rows: numpy.ndarray) -> numpy.ndarray:
    """float16 storage leaves rows summing to 1 ± 1e-3: make them distributions again."""
    sums = rows.sum(axis=1, keepdims=True)
    return numpy.divide(rows, sums, out=numpy.zeros_like(rows), where=sums > 0)
