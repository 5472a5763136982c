"""natasha's off-the-shelf NER on NEREL dev, scored the way we score ourselves.

natasha tags PER/LOC/ORG. Gold: every NEREL span (nested included) of the mapped types
(PERSON→PER, ORGANIZATION→ORG, CITY/COUNTRY/STATE_OR_PROVINCE/LOCATION/DISTRICT→LOC),
exact character offsets. Speed: docs/s over the same texts, segmentation included.
Writes benchmarks/results/natasha_baseline.json.

    python benchmarks/natasha_baseline.py corpus/dev.spacy
"""
import argparse
import json
import time
from pathlib import Path

import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.scoring import NATASHA_MAPPING, map_char_spans, score_char_spans

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, nargs="?", default=REPO / "corpus" / "dev.spacy")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "natasha_baseline.json")
    args = parser.parse_args()
    from natasha import Doc, NewsEmbedding, NewsNERTagger, Segmenter

    import natasha
    import torch

    torch.set_num_threads(2)
    docs = read_corpus(args.corpus, spacy.blank("ru").vocab)
    load_start = time.perf_counter()
    segmenter, tagger = Segmenter(), NewsNERTagger(NewsEmbedding())
    load_seconds = time.perf_counter() - load_start
    start = time.perf_counter()
    predicted = []
    for doc in docs:
        ndoc = Doc(doc.text)
        ndoc.segment(segmenter)
        ndoc.tag_ner(tagger)
        predicted.append({(s.start, s.stop, s.type) for s in ndoc.spans})
    seconds = time.perf_counter() - start
    gold = [map_char_spans(doc.spans["nerel"], NATASHA_MAPPING) for doc in docs]
    scores = score_char_spans(gold, predicted)
    report = {
        "tool": f"natasha {getattr(natasha, '__version__', '1.6')} NewsNERTagger (slovnet)",
        "corpus": str(args.corpus),
        "docs": len(docs),
        "scores": scores,
        "docs_per_second": len(docs) / seconds,
        "load_seconds": load_seconds,
        "machine": describe_machine(threads=2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"natasha: P {scores['p']:.3f} R {scores['r']:.3f} F {scores['f']:.3f}, {report['docs_per_second']:.1f} docs/s")


if __name__ == "__main__":
    main()
