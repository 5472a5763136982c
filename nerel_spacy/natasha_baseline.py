"""natasha's news NER (slovnet, PER/LOC/ORG) measured like a pipeline, for ``nerel-batch benchmark``.

``--model natasha=natasha`` puts it beside our pipelines in one run: the same texts, the
same timings (one doc at a time for latency, then all of them for docs/s; natasha has no
batching, and its segmentation counts as ours does), load time, peak RSS, the size of the
files it loads (navec news embeddings and the NER model) and its PER/LOC/ORG F1. Our
pipelines get that F1 too (their nested mentions mapped by ``scoring.NATASHA_MAPPING``),
so that one column compares like with like.
"""
import time
from pathlib import Path
from typing import Any, Dict, Optional

from .measurements import current_rss_mb, timed_result

NATASHA = "natasha"
# What NewsEmbedding + NewsNERTagger load, relative to the natasha package.
NATASHA_FILES = ("data/emb/navec_news_v1_1B_250K_300d_100q.tar", "data/model/slovnet_ner_news_v1.tar")


def is_natasha(model: str) -> bool:
    """``natasha`` names natasha's tagger, unless a pipeline folder has that name."""
    return model == NATASHA and not Path(model, "config.cfg").is_file()


def natasha_size_bytes() -> Optional[int]:
    try:
        import natasha
    except ImportError:
        return None
    root = Path(natasha.__file__).parent
    return sum((root / name).stat().st_size for name in NATASHA_FILES if (root / name).is_file())


def measure_natasha(data, *, n_docs: int = 30, f1_docs: int = 0, threads: int = 2, score: bool = True) -> Dict[str, Any]:
    """The benchmark worker's measurements (``benchmark.measure_model``'s keys) for natasha."""
    import spacy

    from .corpus import read_corpus
    from .scoring import NATASHA_MAPPING, map_char_spans, score_char_spans
    from .threads import limit_threads

    try:
        from natasha import Doc, NewsEmbedding, NewsNERTagger, Segmenter
    except ImportError as err:  # pragma: no cover - natasha is a dependency
        raise ImportError("the natasha baseline needs natasha: pip install natasha") from err
    limit_threads(threads)
    start = time.perf_counter()
    segmenter, tagger = Segmenter(), NewsNERTagger(NewsEmbedding())
    load_seconds = time.perf_counter() - start
    rss_after_load = current_rss_mb()
    gold = read_corpus(data, spacy.blank("ru").vocab)
    if not gold:
        raise ValueError(f"{data}: no documents to benchmark on.")

    def annotate(text: str):
        doc = Doc(text)
        doc.segment(segmenter)
        doc.tag_ner(tagger)
        return doc

    texts = [doc.text for doc in gold[: n_docs or len(gold)]]
    annotate(texts[0])  # warm-up, as for the pipelines
    latencies = []
    for text in texts:
        t0 = time.perf_counter()
        annotate(text)
        latencies.append(1000 * (time.perf_counter() - t0))
    t0 = time.perf_counter()
    predicted = [annotate(text) for text in texts]
    seconds = time.perf_counter() - t0
    n_tokens = sum(len(doc.tokens) for doc in predicted)
    scores: Dict[str, Optional[float]] = {}
    if score:
        scored = gold[: f1_docs or len(gold)]
        spans = [{(s.start, s.stop, s.type) for s in annotate(doc.text).spans} for doc in scored]
        expected = [map_char_spans(doc.spans["nerel"], NATASHA_MAPPING) for doc in scored]
        scores = {"per_loc_org_f": float(score_char_spans(expected, spans)["f"]), "n_docs": len(scored)}
    return timed_result(NATASHA, ["natasha.Segmenter", "natasha.NewsNERTagger"], None, load_seconds,
                        rss_after_load, len(texts), n_tokens, seconds, latencies, scores)
