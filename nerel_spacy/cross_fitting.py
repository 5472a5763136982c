"""Honest estimates for a setting chosen on the data it is scored on.

Choosing a decoding setting (a threshold, where ``doc.cats`` comes from) by its dev score
and then reporting that dev score overstates what the setting gives on unseen text.
Both functions here work on per-document counts, ``(n_docs, 3)`` arrays of true
positives, false positives and false negatives, one array per option:

- ``cross_fitted_choice``: each fold of documents is scored with the option that was
  best on the other folds; the pooled micro-F1 is what choosing by dev score is worth on
  documents the choice did not see.
- ``paired_bootstrap``: resample documents with replacement and compare two options on
  the same resample; how often the second beats the first, and the spread of the gain.
- ``bootstrap_interval``: the spread of one option's micro-F1 over the same resamples, and
  how often it reaches a target.
"""
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

import numpy

Counts = numpy.ndarray  # (n_docs, 3): tp, fp, fn per document


def micro_f(counts: Counts) -> float:
    """Micro F1 of summed ``(tp, fp, fn)`` rows; 0.0 when there is nothing to count."""
    tp, fp, fn = numpy.asarray(counts, dtype="float64").reshape(-1, 3).sum(axis=0)
    denominator = 2 * tp + fp + fn
    return float(2 * tp / denominator) if denominator else 0.0


def _checked(options: Mapping[str, Counts]) -> Dict[str, numpy.ndarray]:
    if not options:
        raise ValueError("no options to choose from")
    arrays = {name: numpy.asarray(counts, dtype="int64") for name, counts in options.items()}
    shapes = {array.shape for array in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] != 3:
        raise ValueError(f"every option needs an (n_docs, 3) array of tp, fp, fn; got shapes {sorted(shapes)}")
    return arrays


def best_option(options: Mapping[str, Counts], rows: numpy.ndarray) -> str:
    """The option with the highest micro F1 on ``rows``; ties go to the earliest option."""
    best_name, best_f = None, -1.0
    for name, counts in options.items():
        f = micro_f(counts[rows])
        if f > best_f + 1e-12:
            best_name, best_f = name, f
    return best_name


def cross_fitted_choice(options: Mapping[str, Counts], n_folds: int = 5, seed: int = 0) -> Dict[str, object]:
    """Micro P/R/F when each fold is scored with the option chosen on the other folds.

    Returns ``p``, ``r``, ``f``, the option chosen for each fold (``choices``) and the
    option chosen on all documents (``chosen_on_all``) with its in-sample ``f``.
    """
    arrays = _checked(options)
    n_docs = next(iter(arrays.values())).shape[0]
    if not 2 <= n_folds <= n_docs:
        raise ValueError(f"n_folds must be between 2 and the number of documents ({n_docs}), got {n_folds}")
    order = numpy.random.default_rng(seed).permutation(n_docs)
    pooled = numpy.zeros(3, dtype="int64")
    choices: List[str] = []
    for held_out in numpy.array_split(order, n_folds):
        choice = best_option(arrays, numpy.setdiff1d(order, held_out))
        choices.append(choice)
        pooled += arrays[choice][held_out].sum(axis=0)
    tp, fp, fn = pooled.tolist()
    everything = best_option(arrays, order)
    return {
        "p": tp / (tp + fp) if tp + fp else 0.0,
        "r": tp / (tp + fn) if tp + fn else 0.0,
        "f": micro_f(pooled),
        "choices": choices,
        "chosen_on_all": everything,
        "chosen_on_all_f": micro_f(arrays[everything]),
        "folds": n_folds,
    }


def resampled_rows(n_docs: int, n_resamples: int, seed: int) -> Iterator[numpy.ndarray]:
    """``n_resamples`` draws of ``n_docs`` document rows with replacement; the same draws for
    the same seed, so every bootstrap here resamples the same documents."""
    rng = numpy.random.default_rng(seed)
    for _ in range(n_resamples):
        yield rng.integers(0, n_docs, n_docs)


def paired_bootstrap(
    base: Counts, other: Counts, n_resamples: int = 2000, seed: int = 0, interval: float = 0.95
) -> Dict[str, float]:
    """How ``other``'s micro F1 compares with ``base``'s over documents resampled with replacement.

    ``gain`` is the difference on all documents; ``low`` and ``high`` bound the central
    ``interval`` of the resampled differences; ``p_better`` is the share of resamples in
    which ``other`` scores higher.
    """
    arrays = _checked({"base": base, "other": other})
    base, other = arrays["base"], arrays["other"]
    gains = numpy.array([
        micro_f(other[rows]) - micro_f(base[rows]) for rows in resampled_rows(base.shape[0], n_resamples, seed)
    ])
    tail = (1.0 - interval) / 2
    return {
        "gain": micro_f(other) - micro_f(base),
        "low": float(numpy.quantile(gains, tail)),
        "high": float(numpy.quantile(gains, 1.0 - tail)),
        "p_better": float((gains > 0).mean()),
        "resamples": n_resamples,
    }


def bootstrap_interval(
    counts: Counts, n_resamples: int = 2000, seed: int = 0, interval: float = 0.95, target: Optional[float] = None,
) -> Dict[str, float]:
    """The micro F1 of ``counts`` and the central ``interval`` of it over documents resampled
    with replacement (the same resamples as ``paired_bootstrap`` with the same seed).

    With a ``target``, ``p_reached`` is the share of resamples whose F1 is at least it.
    """
    counts = _checked({"counts": counts})["counts"]
    scores = numpy.array([micro_f(counts[rows]) for rows in resampled_rows(counts.shape[0], n_resamples, seed)])
    tail = (1.0 - interval) / 2
    result = {
        "f": micro_f(counts),
        "low": float(numpy.quantile(scores, tail)),
        "high": float(numpy.quantile(scores, 1.0 - tail)),
        "resamples": n_resamples,
    }
    if target is not None:
        result["target"] = target
        result["p_reached"] = float((scores >= target).mean())
    return result


def choice_report(options: Mapping[str, Counts], shipped: str, n_folds: int = 5, seed: int = 0) -> Dict[str, object]:
    """What choosing among ``options`` by their scores is worth, for a benchmark's JSON.

    ``shipped`` is tried first, so it wins ties. Gives the shipped option's micro F1,
    the cross-fitted choice, and the paired bootstrap of the option best on all
    documents against the shipped one; floats rounded to 4 places.
    """
    if shipped not in options:
        raise ValueError(f"the shipped option {shipped!r} is not among {sorted(options)}")
    ordered = {shipped: options[shipped], **{k: v for k, v in options.items() if k != shipped}}
    chosen = cross_fitted_choice(ordered, n_folds=n_folds, seed=seed)
    gain = paired_bootstrap(options[shipped], options[chosen["chosen_on_all"]])
    return {
        "shipped": shipped,
        "shipped_f": round(micro_f(options[shipped]), 4),
        "cross_fitted": {k: round(v, 4) if isinstance(v, float) else v for k, v in chosen.items()},
        "bootstrap_best_vs_shipped": {k: round(v, 4) if isinstance(v, float) else v for k, v in gain.items()},
    }


def counts_rows(rows: Sequence[Sequence[int]]) -> Counts:
    """``[(tp, fp, fn), …]`` as an ``(n_docs, 3)`` array."""
    return numpy.asarray(rows, dtype="int64").reshape(-1, 3)


__all__ = ["best_option", "bootstrap_interval", "choice_report", "counts_rows", "cross_fitted_choice", "micro_f", "paired_bootstrap", "resampled_rows"]
