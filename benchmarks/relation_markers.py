"""Does marking the subject in the encoder's input close #13's gold-mention gap?

Every relation head on the joint model's shared token vectors has landed at 0.61–0.63
in-sentence gold-mention F on NEREL dev (docs/results.md); the NEREL authors' OpenNRE-RuBERT,
which puts the pair into the encoder's input, reached 0.849. This script fine-tunes an
encoder on passes with the subject set off by typed markers (nerel_spacy/relation_markers.py),
one pass per subject mention and sentence, and scores it as ``nerel-batch evaluate`` scores the
pipeline's head: ``relations_gold_insent_*`` and ``relations_gold_*`` on dev's gold mentions
(it predicts in-sentence pairs only, so cross-sentence gold triples count as missed in the
all-pairs score).

  python benchmarks/relation_markers.py training/joint_trf_heads_more_more/model-best \\
      --name stage4 --minutes 50

ENCODER is a Hugging Face folder or a trained pipeline (its transformer is taken). Training
runs at most ``--minutes`` (the step plan is cut to fit after 20 steps). The decision
threshold is chosen on ``--tune-docs`` training documents held out of training, never on
dev; dev's scores at every threshold are recorded too. Results:
benchmarks/results/relation_markers_NAME.json.
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = [round(0.1 + 0.05 * i, 2) for i in range(15)]


def load_encoder(path: Path):
    """A Hugging Face model and fast tokenizer from a folder, or from a pipeline's transformer."""
    if (path / "config.cfg").exists():
        import spacy

        import nerel_spacy  # noqa: F401  registers the pipeline's functions

        model = spacy.load(path).get_pipe("transformer").model
        return model.transformer, model.tokenizer
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(str(path)), AutoTokenizer.from_pretrained(str(path))


def load_corpus(corpus: Path):
    """Train and dev examples with their gold mentions and relations; the labels are train's."""
    import spacy
    from spacy.training import Corpus

    from nerel_spacy.gold_targets import gold_relations
    from nerel_spacy.schema import SPANS_KEY

    examples = {split: list(Corpus(str(corpus / f"{split}.spacy"))(spacy.blank("ru"))) for split in ("train", "dev")}
    entity_labels = sorted({s.label_ for eg in examples["train"] for s in eg.reference.spans.get(SPANS_KEY, [])})
    relation_labels = sorted({r["label"] for eg in examples["train"] for r in (eg.reference._.relations or [])})
    gold = {split: gold_relations(found, entity_labels, relation_labels, SPANS_KEY) for split, found in examples.items()}
    return examples, gold, entity_labels, relation_labels


def split_passes(examples, gold, docs, n_labels):
    from nerel_spacy.relation_markers import subject_passes
    from nerel_spacy.sentences import sentence_ids

    passes = []
    for d in docs:
        passes.extend(subject_passes(d, sentence_ids(examples[d].predicted), gold[d].mentions, gold[d].triples, n_labels))
    return passes


def probabilities(model, make, passes, batch_size, progress=None):
    """Per doc, ``[(pass, kept objects, probabilities)]`` for every pass that reached the encoder."""
    from nerel_spacy.relation_markers_model import predict_probabilities

    found = {}
    ordered = sorted(passes, key=lambda one: one.sentence[1] - one.sentence[0])
    for lo in range(0, len(ordered), batch_size):
        chunk = ordered[lo: lo + batch_size]
        batch = make(chunk)
        for one, kept, probs in zip(chunk, batch.kept, predict_probabilities(model, batch)):
            if kept is not None:
                found.setdefault(one.doc, []).append((one, kept.objects, probs))
        if progress is not None:
            progress(len(chunk))
    return found


def scores_at(examples, docs, found, threshold, entity_labels, relation_labels):
    from nerel_spacy.relation_decoding import DecodedRelation
    from nerel_spacy.relation_markers import pass_triples
    from nerel_spacy.scoring_relations import score_gold_mention_relations

    row_of = {id(examples[d].predicted): d for d in docs}

    def predictor(batch_docs, mentions):
        out = []
        for doc in batch_docs:
            triples = []
            for one, objects, probs in found.get(row_of[id(doc)], []):
                triples.extend(DecodedRelation(*t) for t in pass_triples(one, objects, probs, threshold))
            out.append(triples)
        return out

    scores = score_gold_mention_relations([examples[d] for d in docs], predictor, entity_labels, relation_labels)
    keys = ("relations_gold_insent_p", "relations_gold_insent_r", "relations_gold_insent_f",
            "relations_gold_p", "relations_gold_r", "relations_gold_f")
    return {key: round(float(scores[key]), 4) for key in keys}, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("encoder", type=Path, help="A Hugging Face encoder folder, or a trained pipeline")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="Folder with train.spacy and dev.spacy")
    parser.add_argument("--name", default="run", help="Names the results file")
    parser.add_argument("--minutes", type=float, default=45.0, help="Most training time; the plan is cut to fit")
    parser.add_argument("--epochs", type=float, default=2.0, help="Planned passes over the training subjects")
    parser.add_argument("--learn-rate", type=float, default=3e-5, help="The encoder's AdamW rate")
    parser.add_argument("--head-learn-rate", type=float, default=1e-3, help="The classifier's AdamW rate")
    parser.add_argument("--batch-size", type=int, default=16, help="Passes (sentence, subject) per update")
    parser.add_argument("--negative-subjects", type=float, default=0.25,
                        help="Share of subjects with no in-sentence relation that are trained on, drawn each epoch")
    parser.add_argument("--tune-docs", type=int, default=30, help="Training docs held out to choose the threshold")
    parser.add_argument("--train-docs", type=int, help="Train on the first N training docs only (a quick check)")
    parser.add_argument("--dev-docs", type=int, help="Score the first N dev docs only (a quick check)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Results file (default benchmarks/results/relation_markers_NAME.json)")
    args = parser.parse_args()

    import torch
    from tqdm import tqdm

    from nerel_spacy.machine import describe_machine
    from nerel_spacy.models.encoders import freeze_word_embeddings
    from nerel_spacy.relation_markers_model import build_classifier, length_batches, make_batch, train_classifier

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    out = args.out or REPO / "benchmarks" / "results" / f"relation_markers_{args.name}.json"

    examples, gold, entity_labels, relation_labels = load_corpus(args.corpus)
    (train, train_gold), (dev, dev_gold) = [(examples[split], gold[split]) for split in ("train", "dev")]
    order = list(range(len(train)))
    rng.shuffle(order)
    tune_docs = sorted(order[: args.tune_docs])
    fit_docs = sorted(order[args.tune_docs:])[: args.train_docs]
    dev_docs = list(range(len(dev)))[: args.dev_docs]
    n_labels = len(relation_labels)
    fit_passes = split_passes(train, train_gold, fit_docs, n_labels)
    positive = [one for one in fit_passes if one.targets.any()]
    negative = [one for one in fit_passes if not one.targets.any()]

    encoder, tokenizer = load_encoder(args.encoder)
    frozen = freeze_word_embeddings(encoder)
    model = build_classifier(encoder, len(entity_labels), n_labels)

    def make_for(examples, gold):
        tokens = {}

        def make(batch):
            for one in batch:
                if one.doc not in tokens:
                    tokens[one.doc] = [t.text for t in examples[one.doc].predicted]
            return make_batch(tokenizer, batch, tokens, [g.mentions for g in gold], entity_labels)
        return make

    def batches_per_epoch():
        drawn = positive + [one for one in negative if rng.random() < args.negative_subjects]
        return length_batches(drawn, args.batch_size, rng)

    curve = []
    bar = tqdm(desc="training", unit="step")

    def on_step(step, planned, loss):
        bar.total = planned
        bar.update(1)
        if step % 50 == 0 or step == planned:
            curve.append({"step": step, "planned": planned, "loss": round(loss, 4)})
            bar.set_postfix(loss=f"{loss:.3f}")

    trained = train_classifier(model, batches_per_epoch, make_for(train, train_gold), epochs=args.epochs,
                               learn_rate=args.learn_rate, head_learn_rate=args.head_learn_rate,
                               seconds=args.minutes * 60, on_step=on_step)
    bar.close()

    tune_passes = split_passes(train, train_gold, tune_docs, n_labels)
    with tqdm(total=len(tune_passes), desc="scoring held-out train docs", unit="pass") as progress:
        tune_found = probabilities(model, make_for(train, train_gold), tune_passes, 32, progress.update)
    tune = {t: scores_at(train, tune_docs, tune_found, t, entity_labels, relation_labels)[0] for t in THRESHOLDS}
    threshold = max(THRESHOLDS, key=lambda t: tune[t]["relations_gold_insent_f"])

    dev_passes = split_passes(dev, dev_gold, dev_docs, n_labels)
    started = time.perf_counter()
    with tqdm(total=len(dev_passes), desc="scoring dev", unit="pass") as progress:
        dev_found = probabilities(model, make_for(dev, dev_gold), dev_passes, 32, progress.update)
    dev_seconds = time.perf_counter() - started
    sweep = {t: scores_at(dev, dev_docs, dev_found, t, entity_labels, relation_labels)[0] for t in THRESHOLDS}
    headline, full = scores_at(dev, dev_docs, dev_found, threshold, entity_labels, relation_labels)

    record = {
        "name": args.name, "encoder": str(args.encoder), "command": " ".join(["python", *sys.argv]),
        "settings": {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()},
        "frozen_word_embedding_weights": frozen,
        "training": {**trained, "s_per_step": round(trained["seconds"] / max(1, trained["steps"]), 3),
                     "subjects_with_relations": len(positive), "subjects_without": len(negative),
                     "train_docs": len(fit_docs), "curve": curve},
        "threshold": threshold, "threshold_chosen_on": f"{len(tune_docs)} held-out training docs",
        "tune_sweep": tune,
        "dev": {**headline, "docs": len(dev_docs), "passes": len(dev_passes), "seconds": round(dev_seconds, 1),
                "docs_per_s": round(len(dev_docs) / dev_seconds, 2),
                "insent_per_type": full["relations_gold_insent_per_type"]},
        "dev_sweep": sweep,
        "machine": describe_machine(args.threads),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({"threshold": threshold, **headline, "training": {k: trained[k] for k in ("steps", "seconds")}}))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
