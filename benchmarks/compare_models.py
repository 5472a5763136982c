"""Several trained pipelines on the same documents: each score with its bootstrap interval,
and each pipeline against the first on the same resamples.

A dev gain of 0.003 between two rounds of training, or a score 0.0004 under a target, means
little without the spread that 94 documents give. For every pipeline this scores the
micro-averaged metrics (nested mentions, flat entities, relation types, end-to-end triples,
in-sentence triples on gold mentions), then resamples the documents with replacement:

- ``interval``: the central 95% of each score over the resamples, and with ``--target
  SCORE=VALUE`` the share of resamples in which it reaches VALUE;
- ``against_first``: the paired bootstrap of each pipeline against the first one
  (``cross_fitting.paired_bootstrap``): the gain, its interval and how often it is positive;
- ``nested_errors``: each type's nested-mention errors by class (wrong label, wrong
  boundary, missed, spurious; ``nested_errors.errors_by_label``), most errors first.

    python benchmarks/compare_models.py corpus/dev.spacy \\
        stage4=training/joint_trf_heads_more_more/model-best \\
        round6=training/joint_trf_heads_more_more_more_more/model-best \\
        --target spans_nerel=0.80 -o benchmarks/results/compare_rounds_s23.json

``--set NAME=COMPONENT.SETTING=VALUE`` loads pipeline NAME with a setting changed
(``load_settings``), so one pipeline can be compared with itself decoded another way:

    python benchmarks/compare_models.py corpus/dev.spacy all=training/joint_cnn_rel/model-best \
        best=training/joint_cnn_rel/model-best --set best=nerel_joint.nested_arguments=best
"""
import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from tqdm import tqdm

from nerel_spacy.corpus import read_corpus
from nerel_spacy.cross_fitting import Counts, bootstrap_interval, paired_bootstrap
from nerel_spacy.evaluate import predict_and_score
from nerel_spacy.load_settings import load_with_settings
from nerel_spacy.machine import describe_machine
from nerel_spacy.nested_errors import ERROR_COLUMNS, errors_by_label
from nerel_spacy.per_doc_counts import (
    cats_counts, check_against_scores, entity_counts, gold_mention_counts, mention_counts, relation_counts,
)
from nerel_spacy.schema import SPANS_KEY

SCORES = ("spans_nerel", "ents", "cats_micro", "relations", "relations_gold_insent")


def rounded(result: Dict[str, float]) -> Dict[str, float]:
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in result.items()}


def parse_models(pairs: Sequence[str]) -> List[Tuple[str, str]]:
    """``NAME=PATH`` pairs, or bare paths named by their position."""
    models = []
    for index, pair in enumerate(pairs):
        name, separator, path = pair.partition("=")
        models.append((name, path) if separator else (f"model{index + 1}", pair))
    names = [name for name, _ in models]
    if len(set(names)) != len(names):
        raise SystemExit(f"two models share a name: {names}")
    return models


def parse_settings(pairs: Sequence[str], names: Sequence[str]) -> Dict[str, List[str]]:
    """``NAME=COMPONENT.SETTING=VALUE`` pairs as each pipeline's list of settings."""
    settings: Dict[str, List[str]] = {name: [] for name in names}
    for pair in pairs:
        name, separator, setting = pair.partition("=")
        if not separator or name not in settings:
            raise SystemExit(f"--set takes NAME=COMPONENT.SETTING=VALUE with NAME one of {', '.join(names)}; got {pair!r}")
        settings[name].append(setting)
    return settings


def parse_targets(pairs: Sequence[str]) -> Dict[str, float]:
    targets = {}
    for pair in pairs:
        score, separator, value = pair.partition("=")
        if not separator or score not in SCORES:
            raise SystemExit(f"--target takes SCORE=VALUE with SCORE one of {', '.join(SCORES)}; got {pair!r}")
        targets[score] = float(value)
    return targets


def per_document_counts(
    path: str, gold_docs, settings: Sequence[str] = ()
) -> Tuple[Dict[str, Counts], Dict[str, Dict[str, int]]]:
    """The per-document counts behind the micro scores of the pipeline at ``path``, loaded with
    ``settings`` (checked against its scores), and its nested-mention errors by label."""
    nlp = load_with_settings(path, settings)
    scores, examples = predict_and_score(nlp, gold_docs)
    pipe = nlp.get_pipe("nerel_joint")
    spans_key = pipe.cfg["spans_key"] or SPANS_KEY
    counts = {
        "spans_nerel": mention_counts(examples, spans_key),
        "ents": entity_counts(examples),
        "cats_micro": cats_counts(examples, pipe.cats_labels, pipe.cats_thresholds),
        "relations": relation_counts(examples, spans_key),
        "relations_gold_insent": gold_mention_counts(examples, pipe)["insent"],
    }
    check_against_scores(counts, scores)
    return counts, errors_by_label(examples, spans_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="A .spacy corpus with gold annotations (dev)")
    parser.add_argument("models", nargs="+", help="NAME=PATH of each pipeline; the first is the baseline")
    parser.add_argument("--target", action="append", default=[], metavar="SCORE=VALUE",
                        help=f"Report how often SCORE reaches VALUE over the resamples ({', '.join(SCORES)})")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=COMPONENT.SETTING=VALUE",
                        help="Load pipeline NAME with a component setting changed; repeatable")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("-o", "--output", type=Path, help="Write the results as JSON")
    args = parser.parse_args()
    models, targets = parse_models(args.models), parse_targets(args.target)
    settings = parse_settings(args.settings, [name for name, _ in models])
    gold_docs = read_corpus(args.corpus)

    results, counts_of = {}, {}
    for name, path in tqdm(models, desc="pipelines", unit="pipeline"):
        start = time.perf_counter()
        counts, nested_errors = per_document_counts(path, gold_docs, settings[name])
        counts_of[name] = counts
        results[name] = {
            "path": path,
            "settings": settings[name],
            "seconds": round(time.perf_counter() - start, 1),
            "interval": {key: rounded(bootstrap_interval(counts[key], args.resamples, target=targets.get(key)))
                         for key in SCORES},
            "nested_error_kinds": {column: sum(row[column] for row in nested_errors.values()) for column in ERROR_COLUMNS},
            "nested_errors": nested_errors,
        }
    first = models[0][0]
    for name, _ in models[1:]:
        results[name]["against_first"] = {
            key: rounded(paired_bootstrap(counts_of[first][key], counts_of[name][key], args.resamples)) for key in SCORES
        }
    report = {"corpus": str(args.corpus), "documents": len(gold_docs), "baseline": first,
              "machine": describe_machine(), "pipelines": results}
    for name, result in results.items():
        line = ", ".join(f"{key} {value['f']:.4f} [{value['low']:.3f}, {value['high']:.3f}]"
                         for key, value in result["interval"].items())
        print(f"{name}: {line}")
        worst = list(result["nested_errors"].items())[:3]
        print("  most nested errors: " + "; ".join(
            f"{label} {row['fn'] + row['fp']} of {sum(r['fn'] + r['fp'] for r in result['nested_errors'].values())}"
            for label, row in worst) + f" ({result['nested_error_kinds']})")
        for key, gain in result.get("against_first", {}).items():
            print(f"  vs {first} {key}: {gain['gain']:+.4f} [{gain['low']:+.4f}, {gain['high']:+.4f}], "
                  f"better in {gain['p_better']:.0%} of resamples")
    if args.output:
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"-> {args.output}")


if __name__ == "__main__":
    main()
