"""What the sentence rule does to the in-sentence relation scores with gold mentions.

``relations_gold_insent_*`` score the pairs whose arguments share a sentence. Until
session 36 the sentences of a doc without its own came from spaCy's rule-based
``Sentencizer``, which never splits at a line break (a NEREL title and caption joined the
first sentence) and splits after every full stop (initials, "г."). Now they come from
``nerel_spacy.sentences``: razdel's sentences and a break at each line break. This script
scores one pipeline's pair probabilities under both rules, from one forward pass, at the
pipeline's own ``relation_threshold`` and ``nested_arguments``, and counts the gold
mentions each rule cuts in two and the gold triples each calls in-sentence.

    python benchmarks/sentence_rule.py training/joint_trf_heads_more/model-best corpus/dev.spacy \\
        -o benchmarks/results/sentence_rule_all_s33_stage3.json
"""
import argparse
import json
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy
import spacy
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc
from spacy.training import Example

from nerel_spacy.corpus import read_corpus
from nerel_spacy.gold_targets import gold_relations
from nerel_spacy.machine import describe_machine
from nerel_spacy.relation_protocols import DocPairs, extraction_scores
from nerel_spacy.scoring_relations import gold_mention_pairs, in_one_sentence
from nerel_spacy.sentences import sentence_ids


def sentencizer_ids(doc: Doc) -> List[int]:
    """The rule before session 36: spaCy's ``Sentencizer`` on a doc without boundaries."""
    return sentence_ids(Sentencizer()(doc.copy()))


RULES: Dict[str, Callable[[Doc], List[int]]] = {"sentencizer": sentencizer_ids, "razdel_and_line_breaks": sentence_ids}


def rescoped(pairs: DocPairs, doc: Doc, triples, rule: Callable[[Doc], List[int]]) -> DocPairs:
    """``pairs`` with its in-sentence mask and gold triples under another sentence rule."""
    sentence, rows = rule(doc), pairs.mentions
    inside = numpy.asarray([in_one_sentence(sentence, rows[h], rows[t])
                            for h, t in zip(pairs.heads.tolist(), pairs.tails.tolist())], dtype=bool)
    gold = {(h, t, k) for h, t, k in triples if in_one_sentence(sentence, rows[h], rows[t])}
    return pairs._replace(in_sentence=inside, gold=gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a pipeline with a relation head")
    parser.add_argument("corpus", help="a .spacy corpus with gold mentions and relations (dev)")
    parser.add_argument("-o", "--output", type=Path, help="write the report here as JSON")
    args = parser.parse_args()

    nlp = spacy.load(args.model)
    pipe = nlp.get_pipe("nerel_joint")
    threshold, nested_arguments = pipe.cfg["relation_threshold"], pipe.cfg["nested_arguments"]
    references = read_corpus(args.corpus, nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in references]
    started = time.perf_counter()
    pairs = gold_mention_pairs(nlp, examples)
    seconds = time.perf_counter() - started
    gold = gold_relations(examples, pipe.entity_labels, pipe.cats_labels, pipe.cfg["spans_key"])

    report = {"model": str(args.model), "corpus": str(args.corpus), "docs": len(examples),
              "relation_threshold": threshold, "nested_arguments": nested_arguments,
              "gold_triples": sum(len(g.triples) for g in gold), "rules": {}}
    for name, rule in RULES.items():
        docs = [rescoped(p, eg.predicted, g.triples, rule) for p, eg, g in zip(pairs, examples, gold)]
        split = sum(len(set(rule(eg.predicted)[start:end])) > 1
                    for eg, g in zip(examples, gold) for start, end, _ in g.mentions.tolist())
        scores = extraction_scores(docs, threshold, nested_arguments=nested_arguments)
        report["rules"][name] = {
            "in_sentence_gold_triples": sum(len(d.gold) for d in docs),
            "gold_mentions_cut_in_two": split,
            "in_sentence": {key: round(value, 4) if isinstance(value, float) else value
                            for key, value in scores.items()},
        }
        print(f"{name:>24}: {report['rules'][name]['in_sentence_gold_triples']} in-sentence gold triples, "
              f"{split} gold mentions cut in two; P {scores['p']:.3f} R {scores['r']:.3f} F {scores['f']:.3f}")
    report.update(seconds=round(seconds, 1), machine=describe_machine())
    if args.output:
        args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
