"""Evaluate a pipeline on each split of a converted corpus and write the metrics as JSON.

Beyond ``spacy evaluate``'s numbers this adds what the project reports: seqeval F1,
per-type entity scores, relation-type scores at the pipeline's own thresholds, the
natasha-comparable PER/LOC/ORG scores and the measured speed.

``predict_and_score`` is the one "annotate the gold texts, then score" loop: evaluate,
benchmark, tune-thresholds and the scripts in ``benchmarks/`` all go through it.
"""
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import spacy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

from .batching import DEFAULT_MAX_BATCH_CHARS, pipe_by_chars
from .corpus import find_split_files, read_corpus
from .load_settings import load_with_settings
from .machine import describe_machine
from .scoring import score_natasha_mapping

PathLike = Union[str, Path]


def predict_and_score(
    nlp: Language, gold_docs: Sequence[Doc], batch_size: int = 16,
    max_batch_chars: int = DEFAULT_MAX_BATCH_CHARS,
) -> Tuple[Dict[str, object], List[Example]]:
    """Annotate the texts of ``gold_docs`` with ``nlp`` and score the result.

    Batches hold at most ``batch_size`` docs and ``max_batch_chars`` characters, as
    annotate's do. Returns the scores and the ``Example`` pairs (predicted, gold) they
    were computed on. The scores are those of ``spacy evaluate`` (each component's
    ``score()``), plus ``natasha_mapping`` and ``speed`` (the annotation alone, timed).
    """
    start = time.perf_counter()
    predicted = list(pipe_by_chars(nlp, (doc.text for doc in gold_docs), max_batch_chars, batch_size))
    seconds = time.perf_counter() - start
    examples = [Example(p, g) for p, g in zip(predicted, gold_docs)]
    scores: Dict[str, object] = dict(Scorer(nlp).score(examples))
    scores["natasha_mapping"] = score_natasha_mapping(examples)
    n_tokens = sum(len(eg.predicted) for eg in examples)
    scores["speed"] = {
        "docs": len(gold_docs),
        "seconds": seconds,
        "docs_per_second": len(gold_docs) / seconds if seconds else 0.0,
        "tokens_per_second": n_tokens / seconds if seconds else 0.0,
    }
    return scores, examples


# The splits a corpus folder is scored on unless others are asked for: the held-out ones.
# Scoring train as well shows the fit, at about eight times dev's cost on NEREL.
HELD_OUT_SPLITS = ("dev", "test")
# A split a NEREL copy may lack (the public release holds test back): asked for and absent,
# it is left out, as long as another asked-for split is there.
OPTIONAL_SPLITS = ("test",)


def splits_to_score(corpus: PathLike, splits: Optional[Sequence[str]] = HELD_OUT_SPLITS) -> Dict[str, Path]:
    """``{split: path}`` to score: a ``.spacy`` file as it is; of a folder's files, those named
    in ``splits`` (every one when ``splits`` is None), dev first. A named split that is not
    there is an error (a typo would otherwise drop it quietly), unless it is optional."""
    files = find_split_files(corpus)
    if splits is None or Path(corpus).is_file():
        return files
    found = ", ".join(f"{name}.spacy" for name in files)
    missing = [name for name in splits if name not in files]
    chosen = {name: path for name, path in files.items() if name in splits}
    if not chosen or any(name not in OPTIONAL_SPLITS for name in missing):
        raise FileNotFoundError(
            f"{corpus}: no {' or '.join(f'{name}.spacy' for name in (missing or splits))} here (found: "
            f"{found}). Name the splits to score, or the file itself."
        )
    return chosen


def evaluate_model(
    model: Union[str, Path, Language],
    corpus: PathLike,
    output_dir: Optional[PathLike] = None,
    batch_size: int = 16,
    max_batch_chars: int = DEFAULT_MAX_BATCH_CHARS,
    splits: Optional[Sequence[str]] = HELD_OUT_SPLITS,
    settings: Sequence[str] = (),
    report: Callable[[str], None] = lambda message: None,
) -> Dict[str, Dict[str, object]]:
    """Evaluate ``model`` (a path, a package name or an nlp) on ``corpus``: a ``.spacy`` file,
    or a folder's ``splits`` (dev and test by default; None for every ``.spacy`` file).
    ``settings`` (``COMPONENT.SETTING=VALUE``) change a loaded pipeline's component settings.
    The corpus and ``output_dir`` are checked before the pipeline loads, so a wrong path
    fails at once, not after a transformer has loaded or every split has been scored.
    ``report`` hears what is under way ("Loading …", "Scoring dev: 94 documents …")."""
    to_score = splits_to_score(corpus, splits)
    if output_dir is not None:
        output_dir = Path(output_dir)
        if output_dir.exists() and not output_dir.is_dir():
            raise ValueError(f"{output_dir} is a file; -o takes a folder for one SPLIT.json per split")
        output_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Language):
        if settings:
            raise ValueError("settings apply to a pipeline evaluate_model loads, not to an nlp given to it")
        nlp = model
    else:
        report(f"Loading {model}")
        nlp = load_with_settings(str(model), settings)
    results = {}
    for split, path in to_score.items():
        gold_docs = read_corpus(path, nlp.vocab)
        report(f"Scoring {split}: {len(gold_docs)} documents")
        scores, _ = predict_and_score(nlp, gold_docs, batch_size=batch_size, max_batch_chars=max_batch_chars)
        scores["meta"] = describe_run(nlp, model, path, settings)
        results[split] = scores
        if output_dir is not None:
            (output_dir / f"{split}.json").write_text(
                json.dumps(scores, indent=2, ensure_ascii=False), encoding="utf-8"
            )
    return results


def describe_run(nlp: Language, model: object, corpus: Path, settings: Sequence[str] = ()) -> Dict[str, object]:
    """Where the numbers came from: model (and the settings changed at load), corpus, machine and date."""
    return {
        "model": str(model) if not isinstance(model, Language) else nlp.meta.get("name"),
        "settings": list(settings),
        "pipeline": nlp.pipe_names,
        "corpus": str(corpus),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
    }


__all__ = ["HELD_OUT_SPLITS", "OPTIONAL_SPLITS", "describe_run", "evaluate_model", "predict_and_score", "splits_to_score"]
