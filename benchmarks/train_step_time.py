"""Paired training-step time of pipelines on the same batches: which settings make a step cheaper.

Each pipeline is loaded, warmed up with one ``nlp.update``, then updated on the same batches
of the training corpus in alternating order, so drift on a shared machine falls on both.
Session 27 compared stage 1 with and without attention dropout
(``docs/results.md``, "Attention dropout and the cost of a training step"):

    python benchmarks/train_step_time.py --name attention_dropout_s27 \\
        with_attention_dropout=training/joint_trf/model-best \\
        without=training/joint_trf_noattndrop/model-best

A model may also be a training config, initialized as ``spacy train`` would (untrained
weights time the same), with config overrides after commas. Session 29 compared float32 and
bfloat16 training, each with and without attention dropout, from one config:

    python benchmarks/train_step_time.py --name bf16_s29 --words 1200 --steps 12 \
        fp32=configs/joint_trf.cfg,paths.encoder=assets/e5-small \
        bf16=configs/joint_trf.cfg,paths.encoder=assets/e5-small,components.transformer.model.train_precision=bf16 \
        'fp32_noattn=configs/joint_trf.cfg,paths.encoder=assets/e5-small,components.transformer.model.transformer_config={"attention_probs_dropout_prob": 0.0}' \
        'bf16_noattn=configs/joint_trf.cfg,paths.encoder=assets/e5-small,components.transformer.model.train_precision=bf16,components.transformer.model.transformer_config={"attention_probs_dropout_prob": 0.0}'

Run it on a quiet machine. Results go to benchmarks/results/train_step_time_NAME.json.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import spacy
import srsly
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.batchers import minibatch_by_words
from thinc.api import Adam

import nerel_spacy  # noqa: F401  (registers the project's components)
from nerel_spacy.machine import describe_machine
from nerel_spacy.threads import limit_threads

RESULTS = Path(__file__).resolve().parent / "results"


def parse_model(spec: str):
    """``PATH[,key=value...]`` -> (path, overrides); a value is read as JSON where it parses."""
    path, *settings = spec.split(",")
    overrides = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        try:
            overrides[key] = srsly.json_loads(value)
        except ValueError:
            overrides[key] = value
    return path, overrides


def load_pipeline(spec: str, train: str):
    """A trained pipeline (spacy.load), or a training config initialized on ``train``."""
    path, overrides = parse_model(spec)
    if not path.endswith(".cfg"):
        return spacy.load(path, config=overrides)
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config

    config = load_config(path, overrides={"paths.train": train, "paths.dev": train, **overrides})
    return init_nlp(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "models", nargs="+",
        help="LABEL=PIPELINE or LABEL=CONFIG.cfg, each with optional ,key=value overrides; two or more",
    )
    parser.add_argument("--name", required=True, help="results go to benchmarks/results/train_step_time_NAME.json")
    parser.add_argument("--train", default="corpus/train.spacy")
    parser.add_argument("--words", type=int, default=900, help="words per batch (the configs compound 600 to 1,200)")
    parser.add_argument("--steps", type=int, default=9, help="timed steps per pipeline")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    labels = dict(model.split("=", 1) for model in args.models)
    if len(labels) < 2:
        parser.error("give two or more LABEL=PIPELINE")
    limit_threads(args.threads)
    nlps = {label: load_pipeline(spec, args.train) for label, spec in labels.items()}
    first = next(iter(nlps.values()))
    docs = list(DocBin(store_user_data=True).from_disk(args.train).get_docs(first.vocab))[:400]
    examples = [Example(first.make_doc(doc.text), doc) for doc in docs]
    batches = list(minibatch_by_words(examples, args.words, tolerance=0.2))[: args.steps + 1]
    optimizers = {label: Adam(2e-5) for label in nlps}
    for label, nlp in nlps.items():  # warm-up: first-call allocations are not a step's cost
        nlp.update(batches[0], sgd=optimizers[label])
    seconds = {label: [] for label in nlps}
    for i, batch in enumerate(batches[1:]):
        order = list(nlps) if i % 2 == 0 else list(nlps)[::-1]
        for label in order:
            started = time.perf_counter()
            nlps[label].update(batch, sgd=optimizers[label])
            seconds[label].append(time.perf_counter() - started)
    result = {
        "models": labels,
        "words_per_batch": [sum(len(eg.reference) for eg in batch) for batch in batches[1:]],
        "seconds_per_step": {
            label: {"median": statistics.median(values), "min": min(values), "all": values}
            for label, values in seconds.items()
        },
        "machine": describe_machine(args.threads),
    }
    out = RESULTS / f"train_step_time_{args.name}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for label, values in seconds.items():
        print(f"{label}: median {statistics.median(values):.3f} s, min {min(values):.3f} s per step")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
