"""Relation heads trained on a fixed encoder's cached token vectors: minutes a head, not hours.

`train-heads` trains the heads on a frozen encoder, but it still runs that encoder on every
step (about 1 s of its 1.04 s/step), so in 4,000 steps the relation head sees NEREL's
training set only a few times. With the encoder frozen its token vectors never change, so
this script computes them once and trains relation heads on them alone. It answers: how far
does a head get on these vectors with more epochs, another width, another architecture?

  # 1. the token vectors of a pipeline's encoder, for train and dev (a few minutes)
  python benchmarks/relation_head_cached.py encode training/joint_trf_heads/model-best \\
      --corpus corpus --cache training/relation_cache
  # 2. a head trained on them, scored on dev with gold mentions after every epoch
  python benchmarks/relation_head_cached.py train training/joint_trf_heads/model-best \\
      --cache training/relation_cache --name v3_from_pipeline --epochs 20 --init pipeline

`--init pipeline` continues the pipeline's own relation head; `--init fresh` builds one
from `--head` (a JSON object over the pipeline's relation_head config). Scores are the
`relations_gold_*` and `relations_gold_insent_*` that `nerel-batch evaluate` prints, at the
pipeline's `relation_threshold`, on dev and on `--fit-docs` training documents (how well the
head fits what it learns from). Results: benchmarks/results/relation_cached_NAME.json,
rewritten after every epoch. `nerel-batch retrain-relations` is the product command on the
same functions (nerel_spacy/relation_retrain.py); this script keeps the training-fit column.
"""
import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPLITS = ("train", "dev")


def load(pipeline: Path, corpus: Path):
    import spacy
    from spacy.training import Corpus

    import nerel_spacy  # noqa: F401  registers the architectures and the relations extension

    nlp = spacy.load(pipeline)
    return nlp, {split: list(Corpus(corpus / f"{split}.spacy")(nlp)) for split in SPLITS}


def encode(args) -> None:
    from tqdm import tqdm

    from nerel_spacy import relation_retrain as rr

    nlp, examples = load(args.pipeline, args.corpus)
    for split in SPLITS:
        with tqdm(total=len(examples[split]), desc=f"encoding {split}", unit="doc") as bar:
            rr.save_vectors(args.cache, split, rr.encode_token_vectors(nlp, examples[split], progress=bar.update))
    (args.cache / "source.json").write_text(json.dumps({"pipeline": str(args.pipeline)}))


def train(args) -> None:
    from thinc.api import fix_random_seed

    from nerel_spacy import relation_retrain as rr
    from nerel_spacy.machine import describe_machine

    fix_random_seed(args.seed)
    nlp, examples = load(args.pipeline, args.corpus)
    joint = nlp.get_pipe(rr.COMPONENT)
    spans_key = joint.cfg["spans_key"]
    settings = {**nlp.config["components"][rr.COMPONENT]["model"]["relation_head"], **json.loads(args.head or "{}")}
    vectors = {split: rr.load_vectors(args.cache, split) for split in SPLITS}
    for split in SPLITS:
        assert len(vectors[split]) == len(examples[split]), f"{split}: the cache is of another corpus"
    gold = rr.gold_relations(examples["train"], joint.entity_labels, joint.cats_labels, spans_key)
    head = rr.starting_head(joint, settings, vectors["train"], gold, keep_weights=args.init == "pipeline")
    threshold = args.threshold if args.threshold is not None else joint.cfg["relation_threshold"]
    fit_rows = random.Random(0).sample(range(len(gold)), min(args.fit_docs, len(gold)))
    fit_examples = [examples["train"][i] for i in fit_rows]
    fit_vectors = [vectors["train"][i] for i in fit_rows]

    def evaluate():
        scores = rr.score_relation_head(head, examples["dev"], vectors["dev"], joint.entity_labels,
                                        joint.cats_labels, threshold, spans_key)
        fit = rr.score_relation_head(head, fit_examples, fit_vectors, joint.entity_labels,
                                     joint.cats_labels, threshold, spans_key)
        return {**scores, **{f"train_fit_{key}": value for key, value in fit.items()}}

    out = REPO / "benchmarks" / "results" / f"relation_cached_{args.name}.json"
    curve = []

    def on_epoch(entry) -> None:  # rewrite the record after every epoch, so a stopped run keeps its curve
        curve.append(entry)
        print(json.dumps(entry), flush=True)
        out.write_text(json.dumps({
            "name": args.name, "pipeline": str(args.pipeline), "init": args.init, "head": settings,
            "epochs": args.epochs, "batch_size": args.batch_size, "learn_rate": args.learn_rate,
            "threshold": threshold, "seed": args.seed, "fit_docs": len(fit_rows), "curve": curve,
            "command": " ".join(sys.argv), "machine": describe_machine(),
        }, indent=2, ensure_ascii=False), encoding="utf-8")

    rr.train_relation_head(head, vectors["train"], gold, epochs=args.epochs, evaluate=evaluate,
                           batch_size=args.batch_size, learn_rate=args.learn_rate, seed=args.seed, on_epoch=on_epoch)
    print(f"-> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["encode", "train"])
    parser.add_argument("pipeline", type=Path, help="A trained pipeline with a relation head (fp32)")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="Folder with train.spacy and dev.spacy")
    parser.add_argument("--cache", type=Path, required=True, help="Folder of the cached token vectors")
    parser.add_argument("--name", default="run", help="Names the results file")
    parser.add_argument("--init", choices=["pipeline", "fresh"], default="pipeline")
    parser.add_argument("--head", help="JSON settings over the pipeline's relation_head config (with --init fresh)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4, help="Documents per update")
    parser.add_argument("--learn-rate", type=float, default=1.5e-3, help="Adam's rate, decaying linearly to 0")
    parser.add_argument("--threshold", type=float, help="Relation threshold (default: the pipeline's)")
    parser.add_argument("--fit-docs", type=int, default=100, help="Training docs scored each epoch, to see the fit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    (encode if args.mode == "encode" else train)(args)


if __name__ == "__main__":
    main()
