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

`--init pipeline` continues the pipeline's own relation head (`--save OUT` then writes the
pipeline with the retrained head); `--init fresh` builds one from `--head` (a JSON object
of the architecture's settings, the pipeline's own config by default). Scores are the
`relations_gold_*` and `relations_gold_insent_*` that `nerel-batch evaluate` prints, at
the pipeline's `relation_threshold`. Results: benchmarks/results/relation_cached_NAME.json.
"""
import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import numpy

REPO = Path(__file__).resolve().parent.parent
SPLITS = ("train", "dev")


def load(pipeline: Path):
    import spacy

    import nerel_spacy  # noqa: F401  registers the architectures and the relations extension

    nlp = spacy.load(pipeline)
    return nlp, nlp.get_pipe("nerel_joint")


def read_examples(nlp, corpus: Path, split: str):
    from spacy.training import Corpus

    return list(Corpus(corpus / f"{split}.spacy")(nlp))


def encode(args) -> None:
    """Write CACHE/SPLIT.npy (every token vector, float16) and CACHE/SPLIT.lengths.npy."""
    from spacy.util import minibatch
    from tqdm import tqdm

    nlp, joint = load(args.pipeline)
    upstream = [proc for name, proc in nlp.pipeline[: nlp.pipe_names.index("nerel_joint")]]
    tok2vec = joint.model.get_ref("tok2vec")
    args.cache.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        examples = read_examples(nlp, args.corpus, split)
        arrays = []
        for batch in tqdm(list(minibatch(examples, 8)), desc=f"encoding {split}", unit="batch"):
            docs = [eg.predicted.copy() for eg in batch]
            for proc in upstream:
                docs = list(proc.pipe(docs))
            arrays.extend(tok2vec.ops.to_numpy(v).astype("float16") for v in tok2vec.predict(docs))
        numpy.save(args.cache / f"{split}.npy", numpy.concatenate(arrays))
        numpy.save(args.cache / f"{split}.lengths.npy", numpy.asarray([len(a) for a in arrays]))
    (args.cache / "source.json").write_text(json.dumps({"pipeline": str(args.pipeline)}))


def cached_vectors(cache: Path, split: str):
    flat = numpy.load(cache / f"{split}.npy")
    bounds = numpy.cumsum([0, *numpy.load(cache / f"{split}.lengths.npy")])
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def build_head(joint, init: str, settings: dict):
    from spacy.util import registry

    from nerel_spacy.models.relations import RELATION_OUTPUT, RELATION_REPRESENTATION

    if init == "pipeline":
        return copy.deepcopy(joint.relation_head)
    head = registry.resolve({"head": settings})["head"]
    head.get_ref(RELATION_REPRESENTATION).set_dim("nT", len(joint.entity_labels), force=True)
    head.get_ref(RELATION_OUTPUT).set_dim("nO", len(joint.cats_labels), force=True)
    return head


def train(args) -> None:
    from spacy.util import minibatch
    from thinc.api import Adam, NumpyOps, set_current_ops
    from tqdm import tqdm

    from nerel_spacy.machine import describe_machine
    from nerel_spacy.pipeline.objective import relation_task_loss
    from nerel_spacy.pipeline.relations import predict_relations
    from nerel_spacy.pipeline.targets import gold_relations
    from nerel_spacy.scoring_relations import score_gold_mention_relations

    random.seed(args.seed)
    numpy.random.seed(args.seed)
    set_current_ops(NumpyOps(use_blis=False))
    nlp, joint = load(args.pipeline)
    spans_key = joint.cfg["spans_key"]
    pipeline_head = joint.model.get_ref("relation_head")
    settings = dict(nlp.config["components"]["nerel_joint"]["model"]["relation_head"])
    settings.update(json.loads(args.head or "{}"))
    head = build_head(joint, args.init, settings)
    threshold = args.threshold if args.threshold is not None else joint.cfg["relation_threshold"]
    examples = {split: read_examples(nlp, args.corpus, split) for split in SPLITS}
    vectors = {split: cached_vectors(args.cache, split) for split in SPLITS}
    for split in SPLITS:
        assert len(vectors[split]) == len(examples[split]), f"{split}: the cache is of another corpus"
    gold = gold_relations(examples["train"], joint.entity_labels, joint.cats_labels, spans_key)
    if args.init == "fresh":
        head.initialize(X=([v.astype("float32") for v in vectors["train"][:2]],
                           [g.mentions for g in gold[:2]]))
    max_distance = head.attrs["max_distance"]
    fit_rows = random.Random(0).sample(range(len(examples["train"])), min(args.fit_docs, len(examples["train"])))

    def score(split, rows):
        by_id = {id(examples[split][i].predicted): vectors[split][i] for i in rows}

        def predictor(docs, mentions):
            arrays = [by_id[id(doc)].astype("float32") for doc in docs]
            found, _ = predict_relations(head, arrays, list(range(len(docs))), mentions, len(docs),
                                         threshold, len(joint.cats_labels))
            return found

        scores = score_gold_mention_relations([examples[split][i] for i in rows], predictor,
                                              joint.entity_labels, joint.cats_labels, spans_key=spans_key)
        return {key: round(float(scores[key]), 4) for key in
                ("relations_gold_p", "relations_gold_r", "relations_gold_f",
                 "relations_gold_insent_p", "relations_gold_insent_r", "relations_gold_insent_f")}

    out = REPO / "benchmarks" / "results" / f"relation_cached_{args.name}.json"

    def write_record() -> None:  # after every epoch, so a stopped run keeps its curve
        record = {
            "name": args.name, "pipeline": str(args.pipeline), "init": args.init, "head": settings,
            "epochs": args.epochs, "batch_size": args.batch_size, "learn_rate": args.learn_rate,
            "threshold": threshold, "seed": args.seed, "fit_docs": len(fit_rows), "curve": curve,
            "command": " ".join(sys.argv), "machine": describe_machine(),
        }
        out.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")

    n_steps = args.epochs * ((len(gold) + args.batch_size - 1) // args.batch_size)
    optimizer = Adam(args.learn_rate, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0)
    curve = [{"epoch": 0, "dev": score("dev", range(len(examples["dev"]))), "train_fit": score("train", fit_rows)}]
    print(json.dumps(curve[-1]), flush=True)
    write_record()
    started, step = time.time(), 0
    order = list(range(len(gold)))
    for epoch in range(1, args.epochs + 1):
        random.shuffle(order)
        losses = []
        for batch in tqdm(list(minibatch(order, args.batch_size)), desc=f"epoch {epoch}", leave=False):
            batch = [i for i in batch if len(gold[i].mentions)]
            if not batch:
                continue
            optimizer.learn_rate = args.learn_rate * (1.0 - step / n_steps)
            inputs = ([vectors["train"][i].astype("float32") for i in batch], [gold[i].mentions for i in batch])
            logits, backprop = head.begin_update(inputs)
            loss, d_flat = relation_task_loss(head.ops, logits, [gold[i] for i in batch], max_distance)
            backprop(head.ops.unflatten(d_flat, [len(x) for x in logits]))
            head.finish_update(optimizer)
            losses.append(float(loss))
            step += 1
        curve.append({"epoch": epoch, "loss": round(float(numpy.mean(losses)), 5),
                      "seconds": round(time.time() - started),
                      "dev": score("dev", range(len(examples["dev"]))), "train_fit": score("train", fit_rows)})
        print(json.dumps(curve[-1]), flush=True)
    if args.save:
        if args.init != "pipeline":
            raise SystemExit("--save needs --init pipeline: a fresh head's architecture is not the pipeline's")
        pipeline_head.from_bytes(head.to_bytes())
        nlp.to_disk(args.save)
        print(f"pipeline with the retrained relation head -> {args.save}")


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
    parser.add_argument("--learn-rate", type=float, default=1e-3, help="Adam's rate, decaying linearly to 0")
    parser.add_argument("--threshold", type=float, help="Relation threshold (default: the pipeline's)")
    parser.add_argument("--fit-docs", type=int, default=100, help="Training docs scored each epoch, to see the fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="Write the pipeline with the retrained head here")
    args = parser.parse_args()
    (encode if args.mode == "encode" else train)(args)


if __name__ == "__main__":
    main()
