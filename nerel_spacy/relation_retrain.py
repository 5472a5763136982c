"""Retrain a pipeline's relation head on its frozen encoder (``nerel-batch retrain-relations``).

The relation head reads the encoder's token vectors and the mentions; nothing else in
the pipeline reads the head. With the encoder frozen its vectors never change, so they
are computed once per document (about 13 minutes for NEREL's train and dev on one core
with e5-small) and a head then trains on them alone, at about two minutes an epoch,
where ``train-heads`` spends about 1 s a step running the frozen encoder again.

- ``encode_token_vectors``: the vectors, once (float16 in memory, or a cache folder);
- ``train_relation_head``: Adam on ``relation_task_loss`` with gold mentions, a dev score
  after every epoch, and the weights of the best epoch kept;
- ``with_relation_head``: the pipeline again with that head, of any relation architecture
  (v3 → v4 included); every other weight and setting is copied unchanged.
"""
import copy
import json
import random
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.training import Example
from spacy.util import load_model_from_config, minibatch, registry
from thinc.api import Adam, Model

from .models import joint as joint_model
from .models.relations import RELATION_OUTPUT, RELATION_REPRESENTATION
from .ops import use_numpy_blas_on
from .pipeline.objective import relation_task_loss
from .pipeline.relations import predict_relations
from .gold_targets import GoldRelations, gold_relations
from .scoring_relations import score_gold_mention_relations

COMPONENT = "nerel_joint"
SCORE_KEYS = ("relations_gold_p", "relations_gold_r", "relations_gold_f",
              "relations_gold_insent_p", "relations_gold_insent_r", "relations_gold_insent_f")
SELECT_BY = "relations_gold_f"  # all pairs with gold mentions: in-sentence pairs are a part of it


def encode_token_vectors(nlp: Language, examples: Sequence[Example], *, component: str = COMPONENT,
                         batch_size: int = 8, progress: Optional[Callable[[int], None]] = None) -> List[numpy.ndarray]:
    """The token vectors ``component``'s heads read, per example's predicted doc (float16).

    The components before ``component`` (the transformer) run on copies of the docs.
    ``progress(n)`` is called after each batch of ``n`` documents.
    """
    upstream = [proc for _, proc in nlp.pipeline[: nlp.pipe_names.index(component)]]
    tok2vec = nlp.get_pipe(component).model.get_ref("tok2vec")
    vectors: List[numpy.ndarray] = []
    for batch in minibatch(list(examples), batch_size):
        docs = [eg.predicted.copy() for eg in batch]
        for proc in upstream:
            docs = list(proc.pipe(docs))
        non_empty = [doc for doc in docs if len(doc)]
        found = iter(tok2vec.predict(non_empty) if non_empty else [])
        for doc in docs:
            array = tok2vec.ops.to_numpy(next(found)) if len(doc) else numpy.zeros((0, 1))
            vectors.append(array.astype("float16"))
        if progress is not None:
            progress(len(batch))
    return vectors


def save_vectors(folder: Path, name: str, vectors: Sequence[numpy.ndarray]) -> None:
    width = max((v.shape[1] for v in vectors if len(v)), default=1)
    flat = numpy.concatenate([v.reshape((-1, width)) for v in vectors]) if vectors else numpy.zeros((0, width))
    folder.mkdir(parents=True, exist_ok=True)
    numpy.save(folder / f"{name}.npy", flat.astype("float16"))
    numpy.save(folder / f"{name}.lengths.npy", numpy.asarray([len(v) for v in vectors], dtype="int64"))


def load_vectors(folder: Path, name: str) -> List[numpy.ndarray]:
    flat = numpy.load(folder / f"{name}.npy")
    bounds = numpy.cumsum([0, *numpy.load(folder / f"{name}.lengths.npy")])
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def build_relation_head(settings: Dict, n_entity_types: int, n_relation_labels: int) -> Model:
    """A fresh relation head from its config block, sized for the pipeline's labels."""
    head = registry.resolve({"head": dict(settings)})["head"]
    head.get_ref(RELATION_REPRESENTATION).set_dim("nT", n_entity_types, force=True)
    head.get_ref(RELATION_OUTPUT).set_dim("nO", n_relation_labels, force=True)
    return head


def trainable_documents(gold: Sequence[GoldRelations]) -> List[int]:
    """The documents a relation head learns from: those with at least one pair of mentions."""
    return [i for i, doc_gold in enumerate(gold) if len(doc_gold.mentions) > 1]


def starting_head(joint, settings: Dict, vectors: Sequence[numpy.ndarray], gold: Sequence[GoldRelations],
                  *, keep_weights: bool) -> Model:
    """A copy of ``joint``'s trained relation head, or a fresh one from ``settings``, initialized;
    on the CPU it multiplies through numpy's BLAS, not blis (``nerel_spacy.ops``), and the
    process's current ops are left as they are."""
    if keep_weights:
        head = joint.relation_head.copy()
    else:
        head = build_relation_head(settings, len(joint.entity_labels), len(joint.cats_labels))
        sample = trainable_documents(gold)[:2]
        head.initialize(X=([vectors[i].astype("float32") for i in sample], [gold[i].mentions for i in sample]))
    use_numpy_blas_on(head)
    return head


def score_relation_head(head: Model, examples: Sequence[Example], vectors: Sequence[numpy.ndarray],
                        entity_labels: Sequence[str], relation_labels: Sequence[str], threshold: float,
                        spans_key: str, nested_arguments: str = "all") -> Dict[str, float]:
    """``nerel-batch evaluate``'s gold-mention relation scores, from cached vectors; give the
    pipeline's ``threshold`` and ``nested_arguments`` (its ``relation_threshold`` and
    ``nested_arguments`` settings) to decode as the saved pipeline will."""
    by_doc = {id(eg.predicted): array for eg, array in zip(examples, vectors)}

    def predictor(docs, mentions):
        arrays = [by_doc[id(doc)].astype("float32") for doc in docs]
        rows = [i for i, doc in enumerate(docs) if len(doc)]
        found, _ = predict_relations(head, [arrays[i] for i in rows], rows, [mentions[i] for i in rows],
                                     len(docs), threshold, len(relation_labels), nested_arguments)
        return found

    scores = score_gold_mention_relations(examples, predictor, entity_labels, relation_labels, spans_key=spans_key)
    return {key: float(scores[key]) for key in SCORE_KEYS}


def train_relation_head(
    head: Model,
    vectors: Sequence[numpy.ndarray],
    gold: Sequence[GoldRelations],
    *,
    epochs: int,
    evaluate: Callable[[], Dict[str, float]],
    batch_size: int = 4,
    learn_rate: float = 1.5e-3,
    seed: int = 0,
    on_epoch: Optional[Callable[[Dict], None]] = None,
    on_batch: Optional[Callable[[], None]] = None,
) -> List[Dict]:
    """Train ``head`` (initialized) for ``epochs`` and leave it at its best epoch by ``evaluate()``.

    Adam with weight decay 0.01, gradient clipping at 1 and a rate decaying linearly
    from ``learn_rate`` to 0; ``batch_size`` documents an update. Returns the curve,
    epoch 0 being the head before training; ``on_epoch`` gets each entry as it comes.
    """
    if epochs < 1 or batch_size < 1 or learn_rate <= 0:
        raise ValueError(f"epochs and batch_size must be 1 or more and learn_rate above 0, "
                         f"not {epochs}, {batch_size}, {learn_rate}")
    rng = random.Random(seed)
    order = trainable_documents(gold)
    n_steps = epochs * max(1, -(-len(order) // batch_size))
    optimizer = Adam(learn_rate, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0)
    max_distance = head.attrs["max_distance"]
    curve = [{"epoch": 0, "dev": evaluate()}]
    best, best_weights = curve[0]["dev"][SELECT_BY], head.to_bytes()
    if on_epoch:
        on_epoch(curve[0])
    step = 0
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)
        losses = []
        for batch in minibatch(order, batch_size):
            optimizer.learn_rate = learn_rate * (1.0 - step / n_steps)
            inputs = ([vectors[i].astype("float32") for i in batch], [gold[i].mentions for i in batch])
            logits, backprop = head.begin_update(inputs)
            loss, d_flat = relation_task_loss(head.ops, logits, [gold[i] for i in batch], max_distance)
            backprop(head.ops.unflatten(d_flat, [len(x) for x in logits]))
            head.finish_update(optimizer)
            losses.append(float(loss))
            step += 1
            if on_batch:
                on_batch()
        entry = {"epoch": epoch, "loss": float(numpy.mean(losses)) if losses else 0.0, "dev": evaluate()}
        curve.append(entry)
        if entry["dev"][SELECT_BY] > best:
            best, best_weights = entry["dev"][SELECT_BY], head.to_bytes()
        if on_epoch:
            on_epoch(entry)
    head.from_bytes(best_weights)
    return curve


def with_relation_head(nlp: Language, settings: Dict, head: Model, *, component: str = COMPONENT) -> Language:
    """A copy of ``nlp`` whose ``component`` scores relations with ``head`` (built from ``settings``).

    The pipeline is rebuilt from its config with the new relation-head block; the other
    components' weights, the component's labels, thresholds and other heads, and the
    meta are copied from ``nlp``.
    """
    old = nlp.get_pipe(component)
    if "relations" not in old.tasks:
        raise ValueError(f"{component}: no relation head to replace (nerel.JointTagCat.v3 has one)")
    config = copy.deepcopy(nlp.config)
    config["components"][component]["model"]["relation_head"] = dict(settings)
    rebuilt = load_model_from_config(config, vocab=nlp.vocab, auto_fill=False, validate=True)
    for name, proc in nlp.pipeline:
        if name != component and hasattr(proc, "to_bytes"):
            rebuilt.get_pipe(name).from_bytes(proc.to_bytes())
    new = rebuilt.get_pipe(component)
    new.cfg = copy.deepcopy(old.cfg)
    for dim in old.model.dim_names:
        if old.model.has_dim(dim):
            new.model.set_dim(dim, old.model.get_dim(dim), force=True)
    refs = ["tok2vec", joint_model.LOSS_WEIGHTS, *(joint_model.HEAD_REFS[t] for t in old.tasks if t != "relations")]
    for ref in refs:
        new.model.get_ref(ref).from_bytes(old.model.get_ref(ref).to_bytes())
    new.model.get_ref(joint_model.HEAD_REFS["relations"]).from_bytes(head.to_bytes())
    rebuilt.meta = copy.deepcopy(nlp.meta)
    return rebuilt


def write_report(path: Path, report: Dict) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


__all__ = [
    "build_relation_head", "encode_token_vectors", "gold_relations", "load_vectors", "save_vectors",
    "score_relation_head", "starting_head", "train_relation_head", "trainable_documents", "with_relation_head",
    "write_report",
]
