"""Loss maths for the joint model, as pure functions of arrays.

Each function takes the model's ``ops`` and returns the loss and its gradients as
arrays of ``ops`` (numpy on CPU, cupy on GPU: no copy to the host and back), so the
component only wires them together and the tests can check every gradient against
finite differences. The sums run in float64 for stable gradients; the gradients
come back as float32, the dtype of the model.

Uncertainty weighting follows Kendall, Gal & Cipolla (2018), "Multi-task learning
using uncertainty to weigh losses": ``L = Σ_i exp(-s_i)·L_i + s_i`` with
``s_i = log σ_i²`` learned alongside the weights. A task whose loss stays high gets
a larger σ and so a smaller weight; the ``+ s_i`` term stops σ from growing forever.
"""
from typing import Any, Optional, Sequence, Tuple

from thinc.api import Ops

FloatArray = Any  # numpy or cupy array


def log_softmax(ops: Ops, logits: FloatArray) -> FloatArray:
    """Row-wise log-softmax, shifted by the row maximum against overflow."""
    xp = ops.xp
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(
    ops: Ops, logits: FloatArray, gold: FloatArray, mask: Optional[FloatArray] = None
) -> Tuple[float, FloatArray]:
    """Mean cross-entropy of ``logits`` (n, n_classes) against class ids ``gold`` (n,).

    Rows whose ``mask`` is 0 (tokens whose gold tag is unknown, e.g. misaligned)
    add nothing to the loss or the gradient. Returns ``(loss, d_logits)``.
    """
    xp = ops.xp
    logits = xp.asarray(logits, dtype="float64")
    n_rows = logits.shape[0]
    if mask is None:
        mask = xp.ones((n_rows,), dtype="float64")
    mask = xp.asarray(mask, dtype="float64")
    n_counted = float(mask.sum())
    if n_rows == 0 or n_counted == 0:
        return 0.0, xp.zeros(logits.shape, dtype="float32")
    gold = xp.asarray(gold, dtype="int64")
    log_probs = log_softmax(ops, logits)
    rows = xp.arange(n_rows)
    loss = -(log_probs[rows, gold] * mask).sum() / n_counted
    d_logits = xp.exp(log_probs)
    d_logits[rows, gold] -= 1.0
    d_logits *= (mask / n_counted)[:, None]
    return float(loss), d_logits.astype("float32")


def soft_cross_entropy(
    ops: Ops, logits: FloatArray, targets: FloatArray, mask: Optional[FloatArray] = None
) -> Tuple[float, FloatArray]:
    """Mean cross-entropy of ``logits`` (n, n_classes) against target distributions (n, n_classes).

    The distillation form of ``softmax_cross_entropy``: a row of ``targets`` may be a
    teacher's probabilities mixed with the gold one-hot (each row sums to 1). Rows whose
    ``mask`` is 0 are ignored. Returns ``(loss, d_logits)``; ``d = softmax - targets``.
    """
    xp = ops.xp
    logits = xp.asarray(logits, dtype="float64")
    n_rows = logits.shape[0]
    mask = xp.ones((n_rows,), dtype="float64") if mask is None else xp.asarray(mask, dtype="float64")
    n_counted = float(mask.sum())
    if n_rows == 0 or n_counted == 0:
        return 0.0, xp.zeros(logits.shape, dtype="float32")
    targets = xp.asarray(targets, dtype="float64")
    log_probs = log_softmax(ops, logits)
    loss = -((targets * log_probs).sum(axis=1) * mask).sum() / n_counted
    d_logits = (xp.exp(log_probs) * targets.sum(axis=1, keepdims=True) - targets) * (mask / n_counted)[:, None]
    return float(loss), d_logits.astype("float32")


def sigmoid(ops: Ops, logits: FloatArray) -> FloatArray:
    """The logistic function in float64, without overflow for large negative logits."""
    xp = ops.xp
    logits = xp.asarray(logits, dtype="float64")
    exp_neg_abs = xp.exp(-xp.abs(logits))
    return xp.where(logits >= 0, 1.0 / (1.0 + exp_neg_abs), exp_neg_abs / (1.0 + exp_neg_abs))


def softmax(ops: Ops, logits: FloatArray) -> FloatArray:
    """Row-wise class probabilities in float64."""
    return ops.xp.exp(log_softmax(ops, ops.xp.asarray(logits, dtype="float64")))


def sigmoid_binary_cross_entropy(
    ops: Ops, logits: FloatArray, targets: FloatArray, mask: Optional[FloatArray] = None,
    *, per_row: bool = False,
) -> Tuple[float, FloatArray]:
    """Mean binary cross-entropy of ``logits`` against 0/1 ``targets`` (same shape).

    Computed from logits in the numerically stable form
    ``max(x, 0) - x·y + log(1 + exp(-|x|))``. Entries whose ``mask`` is 0 (labels
    missing from a document's gold cats) are ignored. ``per_row``: summed over each
    row's labels and averaged over the rows with a counted entry (SpERT's relation loss),
    so a rare label's gradient is not divided by the number of labels. Returns
    ``(loss, d_logits)``.
    """
    xp = ops.xp
    logits = xp.asarray(logits, dtype="float64")
    targets = xp.asarray(targets, dtype="float64")
    if mask is None:
        mask = xp.ones_like(logits)
    mask = xp.asarray(mask, dtype="float64")
    n_counted = float((mask.reshape((mask.shape[0], -1)).max(axis=1) > 0).sum() if per_row else mask.sum())
    if logits.size == 0 or n_counted == 0:
        return 0.0, xp.zeros(logits.shape, dtype="float32")
    per_entry = xp.maximum(logits, 0) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))
    loss = (per_entry * mask).sum() / n_counted
    probs = sigmoid(ops, logits)
    d_logits = (probs - targets) * mask / n_counted
    return float(loss), d_logits.astype("float32")


def relative_squared_error(ops: Ops, predicted: FloatArray, target: FloatArray) -> Tuple[float, FloatArray]:
    """``Σ (p - t)² / Σ t²`` over all entries of ``predicted`` and ``target`` (same shape).

    The distance between a student's token vectors and its teacher's, as a fraction of the
    teacher's own squared norm: 0 when they are equal, 1 for an all-zero student, whatever
    the scale of the encoder's outputs. Returns ``(loss, d_predicted)``.
    """
    xp = ops.xp
    predicted = xp.asarray(predicted, dtype="float64")
    target = xp.asarray(target, dtype="float64")
    norm = float((target * target).sum())
    if predicted.size == 0 or norm == 0:
        return 0.0, xp.zeros(predicted.shape, dtype="float32")
    diff = predicted - target
    return float((diff * diff).sum() / norm), (2.0 * diff / norm).astype("float32")


def uncertainty_weighted_loss(
    ops: Ops, task_losses: Sequence[float], log_variances: FloatArray
) -> Tuple[float, FloatArray, FloatArray]:
    """Kendall et al.'s total ``Σ exp(-s_i)·L_i + s_i`` for task losses ``L`` and ``s = log σ²``.

    Returns ``(total, d_task_losses, d_log_variances)``: the factor each task's own
    gradient must be scaled by (``exp(-s_i)``), and the gradient for ``s``
    (``1 - exp(-s_i)·L_i``), which the optimizer applies like any other weight.
    """
    xp = ops.xp
    losses = xp.asarray(task_losses, dtype="float64")
    log_vars = xp.asarray(log_variances, dtype="float64")
    precisions = xp.exp(-log_vars)
    total = float((precisions * losses + log_vars).sum())
    d_log_vars = 1.0 - precisions * losses
    return total, precisions.astype("float32"), d_log_vars.astype("float32")


def fixed_weighted_loss(
    ops: Ops, task_losses: Sequence[float], weights: Sequence[float]
) -> Tuple[float, FloatArray]:
    """The ablation baseline ``Σ w_i·L_i``; returns ``(total, d_task_losses)`` (= ``w``)."""
    losses = ops.xp.asarray(task_losses, dtype="float64")
    weights_arr = ops.xp.asarray(weights, dtype="float64")
    return float((losses * weights_arr).sum()), weights_arr.astype("float32")


def weigh_task_losses(
    ops: Ops,
    task_losses: Sequence[float],
    weighting: str,
    *,
    log_variances: Optional[FloatArray] = None,
    fixed_weights: Optional[Sequence[float]] = None,
) -> Tuple[float, FloatArray, Optional[FloatArray]]:
    """Combine task losses by ``weighting`` ("uncertainty" or "fixed").

    Returns ``(total, factors, d_log_variances)``: the factor each task's gradient is
    scaled by, and the log-variances' gradient (float32; None for fixed weights).
    """
    if weighting == "uncertainty":
        total, factors, d_log_vars = uncertainty_weighted_loss(ops, task_losses, log_variances)
        return total, factors, ops.asarray1f(d_log_vars)
    weights = fixed_weights if fixed_weights is not None else [1.0] * len(task_losses)
    total, factors = fixed_weighted_loss(ops, task_losses, weights)
    return total, factors, None


def sigma_from_log_variance(ops: Ops, log_variances: FloatArray) -> FloatArray:
    """σ = exp(s / 2) for s = log σ²: the number logged and stored in the pipeline."""
    return ops.xp.exp(ops.xp.asarray(log_variances, dtype="float64") / 2.0)
