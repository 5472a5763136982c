"""Relation triples of a ``nerel.JointTagCat.v3`` pipeline on dev: sources of ``doc.cats``,
thresholds, and an error analysis.

1. ``doc.cats`` from each ``cats_source`` (the document head, the best triple of each
   type, their maximum): relation-type micro/macro F1, at the pipeline's tuned thresholds.
2. Relation scores at several ``relation_threshold`` values: end to end strict, and with
   gold mentions over all pairs and in-sentence pairs.
3. With gold mentions, at the pipeline's threshold: the recall of gold triples by token
   distance between the arguments and by sentence (same or not); the labels confused
   (gold → predicted, for gold pairs given another label); misses and spurious triples
   per label; and the candidate-window recall (gold pairs the head never scores).
4. Whether choosing (1) or (2) by these dev scores is worth it on unseen documents: each
   of 5 folds of documents scored with the setting that was best on the other four
   (``cross_fitting.cross_fitted_choice``), and a paired bootstrap of the best setting
   against the shipped one over resampled documents.

    python benchmarks/relations.py training/joint_cnn_rel/model-best corpus/dev.spacy \\
        -o benchmarks/results/relations_cnn_rel.json
"""
import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple

import spacy
from spacy.training import Example
from spacy.util import minibatch

from nerel_spacy.corpus import read_corpus
from nerel_spacy.cross_fitting import choice_report
from nerel_spacy.evaluate import predict_and_score
from nerel_spacy.machine import describe_machine
from nerel_spacy.per_doc_counts import cats_counts, check_against_scores, gold_mention_counts, relation_counts
from nerel_spacy.gold_targets import gold_relations
from nerel_spacy.relation_decoding import enumerate_pairs, pair_gaps
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.scoring_relations import in_one_sentence
from nerel_spacy.sentences import sentence_ids

DISTANCE_BINS = ((0, 0, "nested or touching"), (1, 5, "1-5"), (6, 10, "6-10"), (11, 20, "11-20"),
                 (21, 40, "21-40"), (41, 64, "41-64"), (65, 10**9, "65+"))
RELATION_KEYS = ("relations_p", "relations_r", "relations_f", "relations_gold_p", "relations_gold_r",
                 "relations_gold_f", "relations_gold_insent_p", "relations_gold_insent_r",
                 "relations_gold_insent_f")
CATS_KEYS = ("cats_micro_p", "cats_micro_r", "cats_micro_f", "cats_macro_f")


def pick(scores: Dict[str, Any], keys: Sequence[str]) -> Dict[str, float]:
    return {key: round(float(scores[key]), 4) for key in keys if scores.get(key) is not None}


def distance_bin(gap: int) -> str:
    return next(name for low, high, name in DISTANCE_BINS if low <= gap <= high)


def error_analysis(nlp, gold_docs, batch_size: int = 16) -> Dict[str, Any]:
    """Recall by distance and sentence, label confusions and per-label misses, on gold mentions."""
    pipe = nlp.get_pipe("nerel_joint")
    labels = pipe.cats_labels
    max_distance = pipe.relation_head.attrs["max_distance"]
    upstream = [proc for name, proc in nlp.pipeline[: nlp.pipe_names.index("nerel_joint")]]
    found = defaultdict(Counter)  # bin -> {"gold", "found"}
    confusions: Counter = Counter()
    per_label = defaultdict(Counter)
    windows = Counter()
    for batch in minibatch(gold_docs, batch_size):
        docs = [nlp.make_doc(doc.text) for doc in batch]
        for proc in upstream:
            docs = list(proc.pipe(docs))
        examples = [Example(doc, gold) for doc, gold in zip(docs, batch)]
        gold = gold_relations(examples, pipe.entity_labels, labels, pipe.cfg["spans_key"] or SPANS_KEY)
        predicted = pipe.predict_relations(docs, [g.mentions for g in gold])
        for doc, doc_gold, doc_predicted in zip(docs, gold, predicted):
            mentions = doc_gold.mentions
            sentence = sentence_ids(doc)
            gaps = pair_gaps(mentions[:, 0], mentions[:, 1])
            heads, tails = enumerate_pairs(mentions, max_distance)
            candidates = set(zip(heads.tolist(), tails.tolist()))
            by_pair = defaultdict(set)
            for relation in doc_predicted:
                by_pair[(relation.head, relation.tail)].add(relation.label)
            gold_pairs = defaultdict(set)
            for h, t, k in doc_gold.triples:
                gold_pairs[(h, t)].add(k)
            for (h, t), gold_labels in gold_pairs.items():
                same = in_one_sentence(sentence, mentions[h], mentions[t])
                for k in gold_labels:
                    hit = k in by_pair[(h, t)]
                    windows["gold"] += 1
                    windows["in_window"] += (h, t) in candidates
                    for key in (distance_bin(int(gaps[h, t])), "in-sentence" if same else "cross-sentence"):
                        found[key]["gold"] += 1
                        found[key]["found"] += hit
                    per_label[labels[k]]["gold"] += 1
                    per_label[labels[k]]["found"] += hit
                    if not hit:
                        others = by_pair[(h, t)] - gold_labels
                        if others:
                            for other in others:
                                confusions[(labels[k], labels[other])] += 1
                        else:
                            per_label[labels[k]]["missed_no_label"] += 1
            for (h, t), predicted_labels in by_pair.items():
                for k in predicted_labels - gold_pairs.get((h, t), set()):
                    per_label[labels[k]]["spurious"] += 1
                    if (h, t) not in gold_pairs:
                        per_label[labels[k]]["spurious_unrelated_pair"] += 1
    recall = {key: {"gold": c["gold"], "recall": round(c["found"] / c["gold"], 4) if c["gold"] else None}
              for key, c in found.items()}
    order = [name for _, _, name in DISTANCE_BINS] + ["in-sentence", "cross-sentence"]
    return {
        "max_distance": max_distance,
        "window_recall": round(windows["in_window"] / windows["gold"], 4) if windows["gold"] else None,
        "recall_by_distance_and_sentence": {key: recall[key] for key in order if key in recall},
        "top_confusions": [{"gold": g, "predicted": p, "count": n} for (g, p), n in confusions.most_common(15)],
        "per_label": {
            label: {**counts, "recall": round(counts["found"] / counts["gold"], 4) if counts["gold"] else None}
            for label, counts in sorted(per_label.items(), key=lambda item: -item[1]["gold"])
        },
    }


def scores_and_counts(nlp, gold_docs) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The dev scores of ``nlp`` and the per-document counts behind the micro ones."""
    scores, examples = predict_and_score(nlp, gold_docs)
    pipe = nlp.get_pipe("nerel_joint")
    on_gold = gold_mention_counts(examples, pipe)
    counts = {
        "cats_micro": cats_counts(examples, pipe.cats_labels, pipe.cats_thresholds),
        "relations": relation_counts(examples, pipe.cfg["spans_key"] or SPANS_KEY),
        "relations_gold": on_gold["all"],
        "relations_gold_insent": on_gold["insent"],
    }
    check_against_scores(counts, scores)
    return scores, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A pipeline with nerel.JointTagCat.v3")
    parser.add_argument("data", type=Path, help="A .spacy file (dev)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6])
    parser.add_argument("--output", "-o", type=Path, required=True)
    args = parser.parse_args()

    report: Dict[str, Any] = {"model": args.model, "data": str(args.data), "machine": describe_machine()}
    nlp = spacy.load(args.model)
    shipped = dict(nlp.get_pipe("nerel_joint").cfg)
    report["shipped"] = {key: shipped[key] for key in ("cats_source", "relation_threshold")}
    gold_docs = read_corpus(args.data, nlp.vocab)
    report["cats_source"] = {}
    by_source = {}
    for source in ("doc", "triples", "max"):
        variant = spacy.load(args.model, config={"components": {"nerel_joint": {"cats_source": source}}})
        scores, counts = scores_and_counts(variant, gold_docs)
        by_source[source] = counts["cats_micro"]
        report["cats_source"][source] = pick(scores, CATS_KEYS)
        print(source, report["cats_source"][source], flush=True)
    report["relation_threshold"] = {}
    by_threshold: Dict[str, Dict[str, Any]] = defaultdict(dict)
    thresholds = sorted(set(args.thresholds) | {float(shipped["relation_threshold"])})
    for threshold in thresholds:
        variant = spacy.load(args.model, config={"components": {"nerel_joint": {"relation_threshold": threshold}}})
        scores, counts = scores_and_counts(variant, gold_docs)
        for key in ("relations", "relations_gold", "relations_gold_insent"):
            by_threshold[key][str(threshold)] = counts[key]
        report["relation_threshold"][str(threshold)] = pick(scores, RELATION_KEYS)
        print(threshold, report["relation_threshold"][str(threshold)], flush=True)
    report["chosen_on_other_documents"] = {
        "cats_source (cats_micro_f)": choice_report(by_source, shipped["cats_source"]),
        **{f"relation_threshold ({key}_f)": choice_report(options, str(float(shipped["relation_threshold"])))
           for key, options in by_threshold.items()},
    }
    print(json.dumps(report["chosen_on_other_documents"], indent=1), flush=True)
    report["errors"] = error_analysis(nlp, gold_docs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report["errors"]["recall_by_distance_and_sentence"], indent=1))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
