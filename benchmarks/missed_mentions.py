"""What the span head thought of the gold mentions it did not predict: could a lower
threshold have found them?

For every gold mention of ``doc.spans["nerel"]`` that the pipeline did not predict exactly
(same offsets and type), this reads the span head's softmax on that exact candidate and
bins the gold type's probability. Decoding only keeps a candidate whose best type beats
"none" and reaches ``span_threshold``, so a miss with a gold-type probability under 0.1 is
out of any threshold's reach; one between 0.3 and 0.5 is what a lower threshold could add.
Gold mentions wider than the head's ``max_width`` have no candidate at all.

    python benchmarks/missed_mentions.py training/joint_trf_heads_more_more_more_more/model-best \\
        corpus/dev.spacy -o benchmarks/results/missed_mentions_round6.json
"""
import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Dict, Sequence

import spacy
from tqdm import tqdm

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.models.loss import softmax
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.scoring_nested import char_mentions
from nerel_spacy.span_decoding import NONE_CLASS, candidate_index

BINS = ((0.5, 1.01, "0.5-1"), (0.3, 0.5, "0.3-0.5"), (0.1, 0.3, "0.1-0.3"), (0.0, 0.1, "0-0.1"))


def probability_bin(probability: float) -> str:
    """The name of the ``BINS`` entry that holds ``probability``."""
    for low, high, name in BINS:
        if low <= probability < high:
            return name
    raise ValueError(f"not a probability: {probability}")


def missed_mention_table(nlp, gold_docs: Sequence, batch_size: int = 8) -> Dict[str, Dict[str, int]]:
    """Per gold type: gold mentions, missed ones, the missed ones with no candidate, the
    gold-type probability bins of the others, and how many of them the head ranked first."""
    pipe = nlp.get_pipe("nerel_joint")
    key = pipe.cfg["spans_key"] or SPANS_KEY
    ops = pipe.model.ops
    label_rows = {label: NONE_CLASS + 1 + i for i, label in enumerate(pipe.entity_labels)}
    table: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    texts = (doc.text for doc in gold_docs)
    for gold, doc in tqdm(zip(gold_docs, nlp.pipe(texts, batch_size=batch_size)), total=len(gold_docs), unit="doc"):
        # the listener reads the transformer output stored on the doc: no second encoder pass
        logits = pipe.model.predict([doc])["spans"][0]
        index = candidate_index(len(doc), pipe.max_width)
        predicted = char_mentions(doc, key)
        for span in gold.spans[key]:
            row_counts = table[span.label_]
            row_counts["gold"] += 1
            if (span.start_char, span.end_char, span.label_) in predicted:
                continue
            row_counts["missed"] += 1
            predicted_span = doc.char_span(span.start_char, span.end_char)
            row = index.get((predicted_span.start, predicted_span.end)) if predicted_span is not None else None
            if row is None:
                row_counts["no candidate"] += 1
                continue
            probs = ops.to_numpy(softmax(ops, ops.asarray2f(logits[row:row + 1])))[0]
            row_counts[probability_bin(float(probs[label_rows[span.label_]]))] += 1
            row_counts["gold type ranked first"] += int(probs.argmax() == label_rows[span.label_])
    columns = ("gold", "missed", "no candidate") + tuple(name for _, _, name in BINS) + ("gold type ranked first",)
    rows = {label: {column: int(counts[column]) for column in columns} for label, counts in table.items()}
    return dict(sorted(rows.items(), key=lambda item: (-item[1]["missed"], item[0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A pipeline with the span head (nerel.JointTagCat.v2 or v3)")
    parser.add_argument("corpus", type=Path, help="A .spacy corpus with gold mentions (dev)")
    parser.add_argument("-o", "--output", type=Path, help="Write the table as JSON")
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    table = missed_mention_table(nlp, read_corpus(args.corpus))
    totals = {column: sum(row[column] for row in table.values()) for column in next(iter(table.values()))}
    for label, row in [("all types", totals), *list(table.items())[:6]]:
        print(f"{label:14s} " + ", ".join(f"{column} {value}" for column, value in row.items()))
    if args.output:
        report = {"model": args.model, "corpus": str(args.corpus), "machine": describe_machine(),
                  "span_threshold": nlp.get_pipe("nerel_joint").cfg["span_threshold"], "total": totals,
                  "per_type": table}
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"-> {args.output}")


if __name__ == "__main__":
    main()
