"""A pipeline's nested-mention recall on dev, set beside how consistently train annotates the same words.

For every dev gold mention: how often its exact lower-cased words occur in the training
documents, and in what share of those places they are a mention of the same type with the
same extent (``nerel_spacy.annotation_consistency``). Recall is then reported per bucket of
that share, over all types and for the types with the most errors. A model cannot be asked
to find words that train marks as a mention one time in four.

    python benchmarks/annotation_consistency.py training/joint_trf_heads_more_more_more_more/model-best \\
        -o benchmarks/results/annotation_consistency_round6.json
"""
import argparse
import json
import time
from pathlib import Path

import spacy

from nerel_spacy.annotation_consistency import recall_by_consistency, surface, train_consistency
from nerel_spacy.corpus import find_split_file, read_corpus
from nerel_spacy.evaluate import predict_and_score
from nerel_spacy.machine import describe_machine
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.scoring_nested import char_mentions

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A pipeline with a span head")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="Folder with train.spacy and dev.spacy")
    parser.add_argument("--types", default="EVENT,PROFESSION,ORGANIZATION",
                        help="Types to report one by one, comma-separated")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the tables")
    args = parser.parse_args()

    started = time.perf_counter()
    nlp = spacy.load(args.model)
    train = read_corpus(find_split_file(args.corpus, "train"), nlp.vocab)
    dev = read_corpus(find_split_file(args.corpus, "dev"), nlp.vocab)
    _, examples = predict_and_score(nlp, dev)
    gold = []
    key = nlp.get_pipe("nerel_joint").cfg["spans_key"] or SPANS_KEY
    for example in examples:
        predicted = char_mentions(example.predicted, key)
        for span in example.reference.spans.get(key, []):
            found = (span.start_char, span.end_char, span.label_) in predicted
            gold.append((surface(example.reference, span.start, span.end), span.label_, found))
    consistency = train_consistency(train, [(text, label) for text, label, _ in gold], key)
    report = {
        "model": args.model,
        "corpus": str(args.corpus),
        "machine": describe_machine(),
        "what": "dev gold mentions by the share of their words' train occurrences annotated as the "
                "same type with the same extent; recall of the model's doc.spans['nerel'] per bucket",
        "all types": recall_by_consistency(gold, consistency),
        "by type": {label: recall_by_consistency(gold, consistency, label) for label in args.types.split(",")},
        "seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    for name, table in [("all types", report["all types"]), *report["by type"].items()]:
        rows = ", ".join(f"{bucket}: {row['found']}/{row['gold']}" for bucket, row in table.items())
        print(f"{name}: {rows}")


if __name__ == "__main__":
    main()
