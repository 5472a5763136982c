"""``nerel_joint``: one trainable component that writes ``doc.ents`` and ``doc.cats``.

A shared encoder feeds a BIO token head and a multi-label document head (see
``nerel_spacy.models.joint``). The two losses are balanced by learned uncertainty
weights (``loss_weighting = "uncertainty"``) or by fixed weights (``"fixed"``, the
ablation). Predictions are decoded with constrained Viterbi, so ``doc.ents`` never
holds an invalid span.
"""
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate

from ..bio import biluo_to_bio, bio_to_spans, constrained_viterbi, make_bio_labels
from ..bio import transition_constraints
from ..models import joint as joint_model
from ..models import encoders, pooling  # noqa: F401  (register their architectures)
from ..models.loss import (
    fixed_weighted_loss,
    sigmoid,
    sigma_from_log_variance,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    uncertainty_weighted_loss,
)
from ..schema import SPANS_KEY
from ..scoring import score_joint  # noqa: F401  (registers nerel.joint_scorer.v1)
from .. import training_logger  # noqa: F401  (registers nerel.ConsoleLogger.v1)

LOSS_WEIGHTINGS = ("uncertainty", "fixed")
# cfg keys that are settings from the config, not state learned in training.
SETTINGS = (
    "threshold", "loss_weighting", "fixed_weights", "head_learn_rate_scale", "overwrite_ents", "spans_key",
)
TaskLosses = Dict[str, float]


@Language.factory(
    "nerel_joint",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.cats", "doc.spans"],
    default_config={
        "model": {
            "@architectures": "nerel.JointTagCat.v1",
            "hidden_width": 0,
            "dropout": 0.1,
            "tok2vec": {
                "@architectures": "spacy.HashEmbedCNN.v2",
                "pretrained_vectors": None,
                "width": 96,
                "depth": 4,
                "embed_size": 2000,
                "window_size": 1,
                "maxout_pieces": 3,
                "subword_features": True,
            },
            "doc_pooling": {"@architectures": "nerel.MeanMaxPooling.v1"},
        },
        "threshold": 0.5,
        "loss_weighting": "uncertainty",
        "fixed_weights": {"ner": 1.0, "cats": 1.0},
        "head_learn_rate_scale": 1.0,
        "overwrite_ents": False,
        "spans_key": SPANS_KEY,
        "scorer": {"@scorers": "nerel.joint_scorer.v1"},
    },
    default_score_weights={
        "ents_f": 0.5,
        "cats_micro_f": 0.5,
        "seqeval_f": 0.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "cats_micro_p": 0.0,
        "cats_micro_r": 0.0,
        "cats_macro_f": 0.0,
        "ents_per_type": None,
        "cats_f_per_type": None,
        "loss_ner": 0.0,
        "loss_cats": 0.0,
        "sigma_ner": 0.0,
        "sigma_cats": 0.0,
    },
)
def make_nerel_joint(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    loss_weighting: str,
    fixed_weights: Dict[str, float],
    head_learn_rate_scale: float,
    overwrite_ents: bool,
    spans_key: Optional[str],
    scorer: Optional[Callable],
) -> "NerelJoint":
    """Create the joint NER + relation-type component.

    threshold: a relation type is predicted when its score is at least this
        (per-label thresholds tuned on dev, when present, take precedence).
    loss_weighting: "uncertainty" (learned, Kendall et al. 2018) or "fixed".
    fixed_weights: the task weights used when loss_weighting is "fixed".
    head_learn_rate_scale: multiplies the learning rate of the heads and loss
        weights, so the fresh heads catch up with a pretrained encoder.
    overwrite_ents: False keeps entities set by earlier components (an
        entity_ruler) and adds only predictions that do not overlap them.
    spans_key: also write the predicted entities to doc.spans[spans_key] (None: don't).
    """
    return NerelJoint(
        nlp.vocab,
        model,
        name,
        threshold=threshold,
        loss_weighting=loss_weighting,
        fixed_weights=fixed_weights,
        head_learn_rate_scale=head_learn_rate_scale,
        overwrite_ents=overwrite_ents,
        spans_key=spans_key,
        scorer=scorer,
    )


class NerelJoint(TrainablePipe):
    """BIO entity tagging and multi-label relation-type classification on one encoder."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "nerel_joint",
        *,
        threshold: float = 0.5,
        loss_weighting: str = "uncertainty",
        fixed_weights: Optional[Dict[str, float]] = None,
        head_learn_rate_scale: float = 1.0,
        overwrite_ents: bool = False,
        spans_key: Optional[str] = SPANS_KEY,
        scorer: Optional[Callable] = score_joint,
    ) -> None:
        if loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(
                f"nerel_joint: loss_weighting must be one of {LOSS_WEIGHTINGS}, "
                f"not {loss_weighting!r}. Set it in [components.{name}] of your config."
            )
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg = {
            "entity_labels": [],
            "cats_labels": [],
            "threshold": float(threshold),
            "thresholds": {},
            "loss_weighting": loss_weighting,
            "fixed_weights": dict(fixed_weights or {"ner": 1.0, "cats": 1.0}),
            "head_learn_rate_scale": float(head_learn_rate_scale),
            "overwrite_ents": bool(overwrite_ents),
            "spans_key": spans_key,
            "sigmas": {},
        }
        # Settings come from the config; learned state (labels, tuned thresholds, sigmas)
        # from training. A saved cfg holds both, so re-apply the settings after loading:
        # spacy.load(..., config={"components": {"nerel_joint": {...}}}) must win.
        self._settings = {key: self.cfg[key] for key in SETTINGS}
        self._recent_losses: Dict[str, List[float]] = {"ner": [], "cats": []}
        self._constraints: Optional[Tuple[numpy.ndarray, numpy.ndarray]] = None

    # ---- labels -------------------------------------------------------------------

    @property
    def labels(self) -> Tuple[str, ...]:
        """Entity types then relation types (``spacy init labels`` stores both)."""
        return tuple(self.cfg["entity_labels"]) + tuple(self.cfg["cats_labels"])

    @property
    def entity_labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["entity_labels"])

    @property
    def cats_labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["cats_labels"])

    @property
    def tag_labels(self) -> List[str]:
        return make_bio_labels(self.cfg["entity_labels"])

    @property
    def label_data(self) -> Dict[str, List[str]]:
        return {"entity_labels": list(self.entity_labels), "cats_labels": list(self.cats_labels)}

    @property
    def cats_thresholds(self) -> Dict[str, float]:
        """The threshold for each relation type: tuned per label where tuned, else ``threshold``."""
        tuned = self.cfg.get("thresholds") or {}
        return {label: float(tuned.get(label, self.cfg["threshold"])) for label in self.cats_labels}

    def set_thresholds(self, thresholds: Dict[str, float]) -> None:
        """Store per-label thresholds (e.g. tuned on dev); they are saved with the pipeline."""
        unknown = set(thresholds) - set(self.cats_labels)
        if unknown:
            raise ValueError(f"nerel_joint: unknown relation types in thresholds: {sorted(unknown)}")
        self.cfg["thresholds"] = {label: float(value) for label, value in thresholds.items()}

    def add_label(self, label: str) -> int:
        raise NotImplementedError(
            "nerel_joint takes its entity and relation types from the training data in "
            "initialize(), or from [initialize.components.nerel_joint.labels]."
        )

    # ---- prediction ---------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> Tuple[List[List[int]], numpy.ndarray]:
        """Best valid tag path per doc, and relation-type probabilities (n_docs, n_cats)."""
        docs = list(docs)
        tag_paths: List[List[int]] = [[] for _ in docs]
        cat_probs = numpy.zeros((len(docs), len(self.cats_labels)), dtype="float32")
        # Empty docs have nothing to pool over: they get no entities and all-zero cats.
        non_empty = [i for i, doc in enumerate(docs) if len(doc)]
        if not non_empty:
            return tag_paths, cat_probs
        self._require_upstream_transformer(docs[non_empty[0]])
        tag_logits, cat_logits = self.model.predict([docs[i] for i in non_empty])
        allowed, allowed_start = self._transition_constraints()
        for i, logits in zip(non_empty, tag_logits):
            logits = self.model.ops.to_numpy(logits)
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_probs = shifted - numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))
            tag_paths[i] = constrained_viterbi(log_probs, allowed, allowed_start)
        cat_probs[non_empty] = sigmoid(self.model.ops.to_numpy(cat_logits))
        return tag_paths, cat_probs

    def set_annotations(
        self, docs: Iterable[Doc], predictions: Tuple[List[List[int]], numpy.ndarray]
    ) -> None:
        """Write ``doc.ents`` (and ``doc.spans[spans_key]``) and ``doc.cats`` from ``predict``."""
        tag_paths, cat_probs = predictions
        tag_labels = self.tag_labels
        spans_key = self.cfg.get("spans_key")
        for i, doc in enumerate(docs):
            tags = [tag_labels[t] for t in tag_paths[i]]
            predicted = [Span(doc, s, e, label=lab) for s, e, lab in bio_to_spans(tags)]
            if self.cfg.get("overwrite_ents"):
                doc.set_ents(predicted, default="outside")
            else:
                existing = list(doc.ents)
                taken = {t for ent in existing for t in range(ent.start, ent.end)}
                kept = [s for s in predicted if not any(t in taken for t in range(s.start, s.end))]
                doc.set_ents(sorted(existing + kept, key=lambda s: s.start), default="outside")
            if spans_key:
                doc.spans[spans_key] = list(doc.ents)
            for j, label in enumerate(self.cats_labels):
                doc.cats[label] = float(cat_probs[i, j])

    def _require_upstream_transformer(self, doc: Doc) -> None:
        """A listener with no transformer before it would silently read zeros: refuse instead."""
        listens = any(node.name == "transformer-listener" for node in self.model.walk())
        if listens and Doc.has_extension("trf_data") and doc._.trf_data is None:
            raise ValueError(
                f"{self.name} listens to a 'transformer' component, but none ran before it. "
                "When sourcing it into another pipeline, source the 'transformer' component "
                "too (see README: Use it from Python)."
            )

    def _transition_constraints(self) -> Tuple[numpy.ndarray, numpy.ndarray]:
        if self._constraints is None or self._constraints[0].shape[0] != len(self.tag_labels):
            self._constraints = transition_constraints(self.tag_labels)
        return self._constraints

    # ---- training -----------------------------------------------------------------

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch: one forward pass, both heads, weighted loss, one backward pass."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        validate_examples(examples, "NerelJoint.update")
        # Empty docs carry no signal and cannot be pooled: leave them out of the batch.
        examples = [eg for eg in examples if len(eg.predicted)]
        if not examples:
            return losses
        docs = [eg.predicted for eg in examples]
        set_dropout_rate(self.model, drop)
        (tag_logits, cat_logits), backprop = self.model.begin_update(docs)
        total, gradients, d_log_vars, task_losses = self._weighted_loss(
            examples, tag_logits, cat_logits
        )
        backprop(gradients)
        if d_log_vars is not None:
            self.model.get_ref(joint_model.LOSS_WEIGHTS).inc_grad(
                joint_model.LOG_VARIANCES, self.model.ops.asarray1f(d_log_vars)
            )
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += total
        for task, value in task_losses.items():
            key = f"{self.name}_{task}"
            losses[key] = losses.get(key, 0.0) + value
            self._recent_losses[task].append(value)
        return losses

    def get_loss(
        self, examples: Iterable[Example], scores: Tuple[List[numpy.ndarray], numpy.ndarray]
    ) -> Tuple[float, Tuple[List[numpy.ndarray], numpy.ndarray]]:
        """The weighted total loss and the gradients for ``(tag_logits, cat_logits)``."""
        tag_logits, cat_logits = scores
        total, gradients, _, _ = self._weighted_loss(list(examples), tag_logits, cat_logits)
        return total, gradients

    def _weighted_loss(
        self, examples: List[Example], tag_logits: List, cat_logits
    ) -> Tuple[float, Tuple[List, numpy.ndarray], Optional[numpy.ndarray], TaskLosses]:
        ops = self.model.ops
        gold_tags, tag_mask = self._gold_tags(examples)
        flat_logits = ops.to_numpy(ops.flatten(tag_logits)) if tag_logits else numpy.zeros((0, 0))
        lengths = [len(x) for x in tag_logits]
        ner_loss, d_flat = softmax_cross_entropy(flat_logits, gold_tags, tag_mask)
        gold_cats, cats_mask = self._gold_cats(examples)
        cats_loss, d_cats = sigmoid_binary_cross_entropy(ops.to_numpy(cat_logits), gold_cats, cats_mask)
        task_losses = {"ner": ner_loss, "cats": cats_loss}
        if self.cfg["loss_weighting"] == "uncertainty":
            log_vars = ops.to_numpy(joint_model.get_log_variances(self.model))
            total, factors, d_log_vars = uncertainty_weighted_loss((ner_loss, cats_loss), log_vars)
        else:
            weights = self.cfg["fixed_weights"]
            total, factors = fixed_weighted_loss(
                (ner_loss, cats_loss), (weights.get("ner", 1.0), weights.get("cats", 1.0))
            )
            d_log_vars = None
        d_tags = ops.unflatten(ops.asarray2f(d_flat * factors[0]), ops.asarray1i(lengths))
        d_cat_logits = ops.asarray2f(d_cats * factors[1])
        return total, (d_tags, d_cat_logits), d_log_vars, task_losses

    def _gold_tags(self, examples: List[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Gold tag ids per predicted token; tokens with unknown gold get mask 0."""
        index = {tag: i for i, tag in enumerate(self.tag_labels)}
        ids: List[int] = []
        mask: List[float] = []
        for eg in examples:
            for biluo in eg.get_aligned_ner():
                tag = biluo_to_bio(biluo)
                if tag is None or tag not in index:
                    ids.append(0)
                    mask.append(0.0)
                else:
                    ids.append(index[tag])
                    mask.append(1.0)
        return numpy.asarray(ids, dtype="int64"), numpy.asarray(mask, dtype="float32")

    def _gold_cats(self, examples: List[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Gold 0/1 per relation type; a doc with no gold cats at all is masked out."""
        labels = self.cats_labels
        truths = numpy.zeros((len(examples), len(labels)), dtype="float32")
        mask = numpy.zeros((len(examples), len(labels)), dtype="float32")
        for i, eg in enumerate(examples):
            for j, label in enumerate(labels):
                if label in eg.reference.cats:
                    truths[i, j] = eg.reference.cats[label]
                    mask[i, j] = 1.0
        return truths, mask

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the gradients; the heads and loss weights at ``head_learn_rate_scale`` × the rate."""
        scale = float(self.cfg.get("head_learn_rate_scale", 1.0))
        head_ids = set()
        for ref in ("tag_head", "cat_head", joint_model.LOSS_WEIGHTS):
            head_ids.update(node.id for node in self.model.get_ref(ref).walk())
        for node in self.model.walk():
            for shim in node.shims:
                shim.finish_update(sgd)
        for node in self.model.walk():
            lr_scale = scale if node.id in head_ids else 1.0
            for name in node.param_names:
                if node.has_grad(name):
                    param, grad = sgd(
                        (node.id, name), node.get_param(name), node.get_grad(name), lr_scale=lr_scale
                    )
                    node.set_param(name, param)
        self._store_sigmas()

    def _store_sigmas(self) -> None:
        if self.model.get_ref(joint_model.LOSS_WEIGHTS).has_param(joint_model.LOG_VARIANCES):
            sigmas = sigma_from_log_variance(
                self.model.ops.to_numpy(joint_model.get_log_variances(self.model))
            )
            self.cfg["sigmas"] = {t: float(s) for t, s in zip(joint_model.TASKS, sigmas)}

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Dict[str, Sequence[str]]] = None,
    ) -> None:
        """Take the entity and relation types from the data (or ``labels``) and size the model."""
        if labels is not None:
            entity_labels = set(labels.get("entity_labels", []))
            cats_labels = list(labels.get("cats_labels", []))
        else:
            entity_labels = set()
            cats_seen: Dict[str, None] = {}
            spans_key = self.cfg.get("spans_key")
            for eg in get_examples():
                entity_labels.update(ent.label_ for ent in eg.reference.ents)
                if spans_key and spans_key in eg.reference.spans:
                    entity_labels.update(s.label_ for s in eg.reference.spans[spans_key])
                for label in eg.reference.cats:
                    cats_seen.setdefault(label, None)
            cats_labels = list(cats_seen)
        if not entity_labels and not cats_labels:
            raise ValueError(
                "nerel_joint: the training data has no entities and no cats. Convert the "
                "corpus with `nerel-batch convert` and point [paths.train] at it."
            )
        self.cfg["entity_labels"] = sorted(entity_labels)
        self.cfg["cats_labels"] = cats_labels
        self.cfg["thresholds"] = {}
        self._constraints = None
        self.model.set_dim("nO_tags", len(self.tag_labels), force=True)
        self.model.set_dim("nO_cats", max(1, len(cats_labels)), force=True)
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=sample)
        self._store_sigmas()

    # ---- scoring and serialization -----------------------------------------------

    def from_disk(self, path, *, exclude=tuple()) -> "NerelJoint":
        super().from_disk(path, exclude=exclude)
        self.cfg.update(self._settings)
        self._constraints = None
        return self

    def from_bytes(self, bytes_data, *, exclude=tuple()) -> "NerelJoint":
        super().from_bytes(bytes_data, exclude=exclude)
        self.cfg.update(self._settings)
        self._constraints = None
        return self

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, object]:
        """Entity, seqeval and relation-type scores, plus the current σ and recent raw losses."""
        validate_examples(examples, "NerelJoint.score")
        scores = dict(
            self.scorer(
                examples,
                cats_labels=self.cats_labels,
                thresholds=self.cfg.get("thresholds") or {},
                threshold=self.cfg["threshold"],
                **kwargs,
            )
        )
        self._store_sigmas()
        sigmas = self.cfg.get("sigmas") or {}
        scores["sigma_ner"] = float(sigmas.get("ner", 1.0))
        scores["sigma_cats"] = float(sigmas.get("cats", 1.0))
        for task, values in self._recent_losses.items():
            scores[f"loss_{task}"] = float(numpy.mean(values)) if values else 0.0
            values.clear()
        return scores
