"""Evaluate a pipeline on each split of a converted corpus and write the metrics as JSON.

Beyond ``spacy evaluate``'s numbers this adds what the project reports: seqeval F1,
per-type entity scores, relation-type scores at the pipeline's own thresholds, the
natasha-comparable PER/LOC/ORG scores and the measured speed.
"""
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Union

import spacy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

from .corpus import read_corpus
from .scoring import score_natasha_mapping

PathLike = Union[str, Path]
SPLIT_ORDER = ("dev", "test", "train")


def find_split_files(corpus: PathLike) -> Dict[str, Path]:
    """``{split: path}`` for a ``.spacy`` file, or for every ``.spacy`` file in a folder."""
    corpus = Path(corpus)
    if corpus.is_file():
        return {corpus.stem: corpus}
    if not corpus.is_dir():
        raise FileNotFoundError(
            f"{corpus}: no such corpus file or folder. Run `nerel-batch convert` first."
        )
    files = {path.stem: path for path in sorted(corpus.glob("*.spacy"))}
    if not files:
        raise FileNotFoundError(f"{corpus}: no .spacy files in this folder.")
    ordered = {name: files[name] for name in SPLIT_ORDER if name in files}
    ordered.update({name: path for name, path in files.items() if name not in ordered})
    return ordered


def evaluate_docs(nlp: Language, gold_docs: List[Doc], batch_size: int = 16) -> Dict[str, object]:
    """Annotate the texts of ``gold_docs`` with ``nlp`` and score them; includes docs/s."""
    start = time.perf_counter()
    predicted = list(nlp.pipe((doc.text for doc in gold_docs), batch_size=batch_size))
    seconds = time.perf_counter() - start
    examples = [Example(p, g) for p, g in zip(predicted, gold_docs)]
    # The same scorers as `spacy evaluate` (each component's score()), on our annotations.
    scores: Dict[str, object] = dict(Scorer(nlp).score(examples))
    scores["natasha_mapping"] = score_natasha_mapping(examples)
    n_tokens = sum(len(eg.predicted) for eg in examples)
    scores["speed"] = {
        "docs": len(gold_docs),
        "seconds": seconds,
        "docs_per_second": len(gold_docs) / seconds if seconds else 0.0,
        "tokens_per_second": n_tokens / seconds if seconds else 0.0,
    }
    return scores


def evaluate_model(
    model: Union[str, Path, Language],
    corpus: PathLike,
    output_dir: Optional[PathLike] = None,
    batch_size: int = 16,
) -> Dict[str, Dict[str, object]]:
    """Evaluate ``model`` (a path, a package name or an nlp) on each split in ``corpus``."""
    nlp = spacy.load(model) if not isinstance(model, Language) else model
    results = {}
    for split, path in find_split_files(corpus).items():
        gold_docs = read_corpus(path, nlp.vocab)
        scores = evaluate_docs(nlp, gold_docs, batch_size=batch_size)
        scores["meta"] = describe_run(nlp, model, path)
        results[split] = scores
        if output_dir is not None:
            output_dir = Path(output_dir)
            output_dir.mkdir(parents=True, exist_ok=True)
            (output_dir / f"{split}.json").write_text(
                json.dumps(scores, indent=2, ensure_ascii=False), encoding="utf-8"
            )
    return results


def describe_run(nlp: Language, model: object, corpus: Path) -> Dict[str, object]:
    """Where the numbers came from: model, corpus, machine and date."""
    import os

    return {
        "model": str(model) if not isinstance(model, Language) else nlp.meta.get("name"),
        "pipeline": nlp.pipe_names,
        "corpus": str(corpus),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "processor": _cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
        },
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
