"""Tiny nerel_joint pipelines the tests train: a CNN, a transformer over a tiny BERT, a v3
pipeline with a relation head, and the loop that trains them as spaCy's does."""
import spacy
from spacy.util import fix_random_seed, load_model_from_config

from nerel_spacy.spans import get_relations

from conftest import make_nested_examples, tiny_trf_config


def train(nlp, examples, n_steps):
    optimizer = nlp.initialize(lambda: examples)
    history = []
    for _ in range(n_steps):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
        optimizer.step_schedules()  # as spaCy's training loop does (warm-up starts at 0)
        history.append(losses)
    return history


def cnn_nlp(**cfg):
    nlp = spacy.blank("ru")
    nlp.add_pipe("nerel_joint", config=cfg)
    return nlp


def trf_nlp(bert_dir, inline=False):
    config = tiny_trf_config(bert_dir)
    if inline:
        config["nlp"]["pipeline"] = ["nerel_joint"]
        del config["components"]["transformer"]
        config["components"]["nerel_joint"]["model"]["tok2vec"] = {
            "@architectures": "nerel.Tok2VecTransformer.v1",
            "name": str(bert_dir),
            "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 8, "stride": 6},
            "pooling": {"@layers": "reduce_mean.v1"},
            "tokenizer_config": {"use_fast": True},
        }
    return load_model_from_config(config, auto_fill=True, validate=True)


V3_MODEL = {
    "@architectures": "nerel.JointTagCat.v3",
    "tok2vec": {
        "@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, "width": 96,
        "depth": 4, "embed_size": 2000, "window_size": 1, "maxout_pieces": 3, "subword_features": True,
    },
    "span_head": {"@architectures": "nerel.SpanScorer.v1", "max_width": 8, "hidden_width": 64},
    "relation_head": {"@architectures": "nerel.RelationScorer.v1", "max_distance": 16, "hidden_width": 64},
    "doc_pooling": {"@architectures": "nerel.MeanMaxPooling.v1"},
}
V3_SCORER = {"@scorers": "nerel.joint_scorer.v3", "spans_key": "nerel"}


def v3_nlp(**cfg):
    return cnn_nlp(model=V3_MODEL, scorer=V3_SCORER, **cfg)


def v3_trained_on_nested(n_steps: int, seed: int = 0):
    """A v3 pipeline trained ``n_steps`` on the three nested docs, and their examples; seeded,
    so that what it predicts does not depend on the tests that ran before."""
    fix_random_seed(seed)
    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, n_steps)
    return nlp, examples


def triples(doc):
    """Relations as ((start, end, type), (start, end, type), relation), in token offsets."""
    group = doc.spans["nerel"]
    return sorted(
        (tuple((group[r[k]].start, group[r[k]].end, group[r[k]].label_) for k in ("head", "tail")), r["label"])
        for r in get_relations(doc)
    )
