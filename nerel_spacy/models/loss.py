"""Loss maths for the joint model, as pure functions of arrays.

Each function returns the loss and its gradients, so the component only wires them
together and the tests can check every gradient against finite differences.

Uncertainty weighting follows Kendall, Gal & Cipolla (2018), "Multi-task learning
using uncertainty to weigh losses": ``L = Σ_i exp(-s_i)·L_i + s_i`` with
``s_i = log σ_i²`` learned alongside the weights. A task whose loss stays high gets
a larger σ and so a smaller weight; the ``+ s_i`` term stops σ from growing forever.
"""
from typing import Optional, Sequence, Tuple

import numpy

FloatArray = numpy.ndarray


def _log_softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(
    logits: FloatArray, gold: FloatArray, mask: Optional[FloatArray] = None
) -> Tuple[float, FloatArray]:
    """Mean cross-entropy of ``logits`` (n, n_classes) against class ids ``gold`` (n,).

    Rows whose ``mask`` is 0 (tokens whose gold tag is unknown, e.g. misaligned)
    add nothing to the loss or the gradient. Returns ``(loss, d_logits)``.
    """
    logits = numpy.asarray(logits, dtype="float64")
    n_rows = logits.shape[0]
    if mask is None:
        mask = numpy.ones((n_rows,), dtype="float64")
    mask = numpy.asarray(mask, dtype="float64")
    n_counted = mask.sum()
    if n_rows == 0 or n_counted == 0:
        return 0.0, numpy.zeros_like(logits, dtype="float32")
    gold = numpy.asarray(gold, dtype="int64")
    log_probs = _log_softmax(logits)
    rows = numpy.arange(n_rows)
    loss = -(log_probs[rows, gold] * mask).sum() / n_counted
    d_logits = numpy.exp(log_probs)
    d_logits[rows, gold] -= 1.0
    d_logits *= (mask / n_counted)[:, None]
    return float(loss), d_logits.astype("float32")


def sigmoid(logits: FloatArray) -> FloatArray:
    """The logistic function, without overflow for large negative logits."""
    logits = numpy.asarray(logits, dtype="float64")
    exp_neg_abs = numpy.exp(-numpy.abs(logits))
    return numpy.where(logits >= 0, 1.0 / (1.0 + exp_neg_abs), exp_neg_abs / (1.0 + exp_neg_abs))


def sigmoid_binary_cross_entropy(
    logits: FloatArray, targets: FloatArray, mask: Optional[FloatArray] = None
) -> Tuple[float, FloatArray]:
    """Mean binary cross-entropy of ``logits`` against 0/1 ``targets`` (same shape).

    Computed from logits in the numerically stable form
    ``max(x, 0) - x·y + log(1 + exp(-|x|))``. Entries whose ``mask`` is 0 (labels
    missing from a document's gold cats) are ignored. Returns ``(loss, d_logits)``.
    """
    logits = numpy.asarray(logits, dtype="float64")
    targets = numpy.asarray(targets, dtype="float64")
    if mask is None:
        mask = numpy.ones_like(logits)
    mask = numpy.asarray(mask, dtype="float64")
    n_counted = mask.sum()
    if logits.size == 0 or n_counted == 0:
        return 0.0, numpy.zeros_like(logits, dtype="float32")
    per_entry = (
        numpy.maximum(logits, 0) - logits * targets + numpy.log1p(numpy.exp(-numpy.abs(logits)))
    )
    loss = (per_entry * mask).sum() / n_counted
    probs = sigmoid(logits)
    d_logits = (probs - targets) * mask / n_counted
    return float(loss), d_logits.astype("float32")


def uncertainty_weighted_loss(
    task_losses: Sequence[float], log_variances: FloatArray
) -> Tuple[float, FloatArray, FloatArray]:
    """Kendall et al.'s total ``Σ exp(-s_i)·L_i + s_i`` for task losses ``L`` and ``s = log σ²``.

    Returns ``(total, d_task_losses, d_log_variances)``: the factor each task's own
    gradient must be scaled by (``exp(-s_i)``), and the gradient for ``s``
    (``1 - exp(-s_i)·L_i``), which the optimizer applies like any other weight.
    """
    losses = numpy.asarray(task_losses, dtype="float64")
    log_vars = numpy.asarray(log_variances, dtype="float64")
    precisions = numpy.exp(-log_vars)
    total = float((precisions * losses + log_vars).sum())
    d_log_vars = 1.0 - precisions * losses
    return total, precisions.astype("float32"), d_log_vars.astype("float32")


def fixed_weighted_loss(
    task_losses: Sequence[float], weights: Sequence[float]
) -> Tuple[float, FloatArray]:
    """The ablation baseline ``Σ w_i·L_i``; returns ``(total, d_task_losses)`` (= ``w``)."""
    losses = numpy.asarray(task_losses, dtype="float64")
    weights_arr = numpy.asarray(weights, dtype="float64")
    return float((losses * weights_arr).sum()), weights_arr.astype("float32")


def sigma_from_log_variance(log_variances: FloatArray) -> FloatArray:
    """σ = exp(s / 2) for s = log σ²: the number logged and stored in the pipeline."""
    return numpy.exp(numpy.asarray(log_variances, dtype="float64") / 2.0)
