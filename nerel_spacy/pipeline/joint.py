"""``nerel_joint``: one trainable component for entities, nested mentions and relation types.

A shared encoder feeds one head per task (see ``nerel_spacy.models.joint``): BIO tags
(``ner``, decoded with constrained Viterbi, so ``doc.ents`` never holds an invalid
span), every nested mention (``spans``, with ``nerel.JointTagCat.v2``) and the
document's relation types (``cats``). The task losses are balanced by learned
uncertainty weights (``loss_weighting = "uncertainty"``) or fixed weights
(``"fixed"``, the ablation).
"""
import inspect
from contextlib import contextmanager
from itertools import islice
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..bio import make_bio_labels, transition_constraints
from ..models import joint as joint_model
from ..models import encoders, pooling, spans as span_head  # noqa: F401  (register architectures)
from ..models.loss import (
    fixed_weighted_loss,
    sigma_from_log_variance,
    sigmoid,
    sigmoid_binary_cross_entropy,
    softmax,
    softmax_cross_entropy,
    uncertainty_weighted_loss,
)
from ..schema import SPANS_KEY
from ..scoring import score_joint  # noqa: F401  (registers nerel.joint_scorer.v1)
from ..scoring_nested import make_nested_joint_scorer  # noqa: F401  (registers .v2)
from ..span_decoding import DecodedSpan, decode_spans, enumerate_candidates
from ..spans import select_flat_entities
from .. import training_logger  # noqa: F401  (registers nerel.ConsoleLogger.v1)
from .annotations import (
    best_tag_path,
    mentions_to_spans,
    set_ents_keeping_earlier,
    set_span_group,
    tag_path_to_spans,
)
from .targets import gold_cats, gold_span_classes, gold_tag_ids

LOSS_WEIGHTINGS = ("uncertainty", "fixed")
ENTS_SOURCES = ("tags", "spans")
TASK_LOSSES = "task_losses"

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "nerel.JointTagCat.v2"
hidden_width = 0
dropout = 0.1

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true

[model.span_head]
@architectures = "nerel.SpanScorer.v1"
max_width = 16
hidden_width = 128
dropout = 0.1

[model.doc_pooling]
@architectures = "nerel.MeanMaxPooling.v1"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


class JointPrediction(NamedTuple):
    """What ``predict`` returns: per doc a tag path and mentions, and relation-type scores."""

    tag_paths: List[List[int]]
    spans: Optional[List[List[DecodedSpan]]]  # None without a span head
    cat_probs: numpy.ndarray  # (n_docs, n_cats)


@Language.factory(
    "nerel_joint",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.cats", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "threshold": 0.5,
        "span_threshold": 0.5,
        "allow_crossing": False,
        "ents_source": "tags",
        "loss_weighting": "uncertainty",
        "fixed_weights": {"ner": 1.0, "spans": 1.0, "cats": 1.0},
        "head_learn_rate_scale": 1.0,
        "overwrite_ents": False,
        "spans_key": SPANS_KEY,
        "scorer": {"@scorers": "nerel.joint_scorer.v2", "spans_key": SPANS_KEY},
    },
    default_score_weights={
        "ents_f": 0.3,
        "spans_nerel_f": 0.4,
        "cats_micro_f": 0.3,
        "seqeval_f": 0.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "spans_nerel_p": 0.0,
        "spans_nerel_r": 0.0,
        "cats_micro_p": 0.0,
        "cats_micro_r": 0.0,
        "cats_macro_f": 0.0,
        "ents_per_type": None,
        "spans_nerel_per_type": None,
        "cats_f_per_type": None,
    },
)
def make_nerel_joint(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    span_threshold: float,
    allow_crossing: bool,
    ents_source: str,
    loss_weighting: str,
    fixed_weights: Dict[str, float],
    head_learn_rate_scale: float,
    overwrite_ents: bool,
    spans_key: Optional[str],
    scorer: Optional[Callable],
) -> "NerelJoint":
    """Create the joint component.

    threshold: a relation type is predicted when its score is at least this
        (per-label thresholds tuned on dev, when present, take precedence).
    span_threshold: a candidate mention is kept when its best entity type's
        probability is at least this (models with a span head).
    allow_crossing: keep partly overlapping mentions; otherwise the higher-scored wins.
    ents_source: "tags" writes doc.ents from the BIO head, "spans" from the outermost
        predicted mentions (the converter's policy).
    loss_weighting: "uncertainty" (learned, Kendall et al. 2018) or "fixed".
    fixed_weights: the task weights used when loss_weighting is "fixed".
    head_learn_rate_scale: multiplies the learning rate of the heads and loss
        weights, so the fresh heads catch up with a pretrained encoder.
    overwrite_ents: False keeps entities set by earlier components (an
        entity_ruler) and adds only predictions that do not overlap them.
    spans_key: write every predicted mention to doc.spans[spans_key] (None: don't).
    """
    settings = {key: value for key, value in locals().items() if key in SETTINGS}
    return NerelJoint(nlp.vocab, model, name, scorer=scorer, **settings)


# The factory's keyword settings: they come from the config and win over a saved cfg.
SETTINGS = tuple(
    p for p in inspect.signature(make_nerel_joint).parameters if p not in ("nlp", "name", "model", "scorer")
)


class NerelJoint(TrainablePipe):
    """BIO tags, nested mentions and multi-label relation types on one encoder."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "nerel_joint",
        *,
        threshold: float = 0.5,
        span_threshold: float = 0.5,
        allow_crossing: bool = False,
        ents_source: str = "tags",
        loss_weighting: str = "uncertainty",
        fixed_weights: Optional[Dict[str, float]] = None,
        head_learn_rate_scale: float = 1.0,
        overwrite_ents: bool = False,
        spans_key: Optional[str] = SPANS_KEY,
        scorer: Optional[Callable] = score_joint,
    ) -> None:
        for setting, value, allowed in (
            ("loss_weighting", loss_weighting, LOSS_WEIGHTINGS),
            ("ents_source", ents_source, ENTS_SOURCES),
        ):
            if value not in allowed:
                raise ValueError(
                    f"nerel_joint: {setting} must be one of {allowed}, not {value!r}. "
                    f"Set it in [components.{name}] of your config."
                )
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        if ents_source == "spans" and "spans" not in self.tasks:
            raise ValueError(
                f"nerel_joint: ents_source = \"spans\" needs a model with a span head "
                f"(nerel.JointTagCat.v2); [components.{name}.model] has none."
            )
        self.cfg = {
            "entity_labels": [],
            "cats_labels": [],
            "threshold": float(threshold),
            "span_threshold": float(span_threshold),
            "allow_crossing": bool(allow_crossing),
            "ents_source": ents_source,
            "thresholds": {},
            "loss_weighting": loss_weighting,
            "fixed_weights": dict(fixed_weights or {"ner": 1.0, "spans": 1.0, "cats": 1.0}),
            "head_learn_rate_scale": float(head_learn_rate_scale),
            "overwrite_ents": bool(overwrite_ents),
            "spans_key": spans_key,
            "sigmas": {},
        }
        # Settings come from the config; learned state (labels, tuned thresholds, sigmas)
        # from training. A saved cfg holds both, so re-apply the settings after loading:
        # spacy.load(..., config={"components": {"nerel_joint": {...}}}) must win.
        self._settings = {key: self.cfg[key] for key in SETTINGS}
        self._constraints: Optional[Tuple[numpy.ndarray, numpy.ndarray]] = None

    @property
    def tasks(self) -> Tuple[str, ...]:
        """The model's tasks (``ner``, ``cats`` and, with a span head, ``spans``)."""
        return joint_model.get_tasks(self.model)

    @property
    def max_width(self) -> int:
        """The longest candidate mention of the span head, in tokens (0 without one)."""
        return int(self.model.get_ref("span_head").attrs["max_width"]) if "spans" in self.tasks else 0

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

    def predict(self, docs: Iterable[Doc]) -> JointPrediction:
        """Best valid tag path and decoded mentions per doc, and relation-type probabilities."""
        docs = list(docs)
        tag_paths: List[List[int]] = [[] for _ in docs]
        spans: Optional[List[List[DecodedSpan]]] = [[] for _ in docs] if "spans" in self.tasks else None
        cat_probs = numpy.zeros((len(docs), len(self.cats_labels)), dtype="float32")
        # Empty docs have nothing to pool over: they get no entities and all-zero cats.
        non_empty = [i for i, doc in enumerate(docs) if len(doc)]
        if not non_empty:
            return JointPrediction(tag_paths, spans, cat_probs)
        self._require_upstream_transformer(docs[non_empty[0]])
        ops = self.model.ops
        outputs = self.model.predict([docs[i] for i in non_empty])
        allowed, allowed_start = self._transition_constraints()
        for i, logits in zip(non_empty, outputs["ner"]):
            tag_paths[i] = best_tag_path(ops.to_numpy(logits), allowed, allowed_start)
        if spans is not None:
            for i, logits in zip(non_empty, outputs["spans"]):
                starts, ends = enumerate_candidates(len(docs[i]), self.max_width)
                probs = ops.to_numpy(softmax(ops, logits))
                spans[i] = decode_spans(
                    probs, starts, ends, self.cfg["span_threshold"], self.cfg["allow_crossing"]
                )
        cat_probs[non_empty] = ops.to_numpy(sigmoid(ops, outputs["cats"]))
        return JointPrediction(tag_paths, spans, cat_probs)

    def set_annotations(self, docs: Iterable[Doc], predictions: JointPrediction) -> None:
        """Write ``doc.ents``, ``doc.spans[spans_key]`` and ``doc.cats`` from ``predict``."""
        for i, doc in enumerate(docs):
            mentions = None
            if predictions.spans is not None:
                mentions = mentions_to_spans(doc, predictions.spans[i], self.entity_labels)
            if self.cfg["ents_source"] == "spans" and mentions is not None:
                predicted = select_flat_entities(mentions)
            else:
                predicted = tag_path_to_spans(doc, predictions.tag_paths[i], self.tag_labels)
            set_ents_keeping_earlier(doc, predicted, overwrite=self.cfg.get("overwrite_ents", False))
            spans_key = self.cfg.get("spans_key")
            if spans_key:
                set_span_group(doc, spans_key, mentions, predictions.spans[i] if mentions is not None else None)
            for j, label in enumerate(self.cats_labels):
                doc.cats[label] = float(predictions.cat_probs[i, j])

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
        """Learn from a batch: one forward pass, every head, weighted loss, one backward pass.

        ``losses`` also receives the raw (unweighted) loss of each task under
        ``{name}_{task}`` and the current σ under ``{name}_sigma_{task}``, for the logger.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        validate_examples(examples, "NerelJoint.update")
        # Empty docs carry no signal and cannot be pooled: leave them out of the batch.
        examples = [eg for eg in examples if len(eg.predicted)]
        if not examples:
            return losses
        set_dropout_rate(self.model, drop)
        outputs, backprop = self.model.begin_update([eg.predicted for eg in examples])
        total, d_outputs = self.get_loss(examples, outputs)
        backprop(d_outputs)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += total
        for task, value in d_outputs[TASK_LOSSES].items():
            key = f"{self.name}_{task}"
            losses[key] = losses.get(key, 0.0) + value
        for task, sigma in self.cfg["sigmas"].items():
            losses[f"{self.name}_sigma_{task}"] = sigma
        return losses

    def get_loss(self, examples: Iterable[Example], scores: Dict[str, object]) -> Tuple[float, Dict[str, object]]:
        """The weighted total loss and the gradient of each model output.

        The gradients are keyed like the model's outputs (one per task, and the
        log-variances); ``d[TASK_LOSSES]`` also carries each task's raw loss.
        """
        examples = list(examples)
        ops = self.model.ops
        raw: Dict[str, Tuple[float, object]] = {}
        gold_tags, tag_mask = gold_tag_ids(examples, self.tag_labels)
        tag_logits = scores["ner"]
        flat_logits = ops.flatten(tag_logits) if tag_logits else ops.alloc2f(0, 0)
        raw["ner"] = softmax_cross_entropy(ops, flat_logits, gold_tags, tag_mask)
        if "spans" in scores:
            classes, span_mask, _ = gold_span_classes(
                examples, self.entity_labels, self.max_width, self.cfg["spans_key"] or ""
            )
            span_logits = scores["spans"]
            flat_spans = ops.flatten(span_logits) if span_logits else ops.alloc2f(0, 0)
            raw["spans"] = softmax_cross_entropy(ops, flat_spans, classes, span_mask)
        truths, cats_mask = gold_cats(examples, self.cats_labels)
        raw["cats"] = sigmoid_binary_cross_entropy(ops, scores["cats"], truths, cats_mask)
        tasks = self.tasks
        task_losses = [raw[task][0] for task in tasks]
        d_log_vars = None
        if self.cfg["loss_weighting"] == "uncertainty":
            total, factors, d_log_vars = uncertainty_weighted_loss(
                ops, task_losses, scores[joint_model.LOG_VARIANCES]
            )
            d_log_vars = ops.asarray1f(d_log_vars)
        else:
            weights = self.cfg["fixed_weights"]
            total, factors = fixed_weighted_loss(ops, task_losses, [weights.get(t, 1.0) for t in tasks])
        factor = {task: float(f) for task, f in zip(tasks, factors)}
        d_outputs: Dict[str, object] = {
            joint_model.LOG_VARIANCES: d_log_vars,
            TASK_LOSSES: {task: raw[task][0] for task in tasks},
        }
        for task in ("ner", "spans"):
            if task in raw:
                lengths = ops.asarray1i([len(x) for x in scores[task]])
                d_flat = ops.asarray2f(raw[task][1] * factor[task])
                d_outputs[task] = ops.unflatten(d_flat, lengths) if len(lengths) else []
        d_outputs["cats"] = ops.asarray2f(raw["cats"][1] * factor["cats"])
        return total, d_outputs

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the gradients; the heads and loss weights at ``head_learn_rate_scale`` × the rate.

        The log-variances get no weight decay: decay would pull every σ towards 1,
        a prior the uncertainty weighting does not have.
        """
        scale = float(self.cfg.get("head_learn_rate_scale", 1.0))
        head_ids = set()
        refs = [joint_model.HEAD_REFS[task] for task in self.tasks] + [joint_model.LOSS_WEIGHTS]
        for ref in refs:
            head_ids.update(node.id for node in self.model.get_ref(ref).walk())
        loss_weights_id = self.model.get_ref(joint_model.LOSS_WEIGHTS).id
        for node in self.model.walk():
            for shim in node.shims:
                shim.finish_update(sgd)
        for node in self.model.walk():
            lr_scale = scale if node.id in head_ids else 1.0
            for name in node.param_names:
                if node.has_grad(name):
                    with _no_weight_decay(sgd, node.id == loss_weights_id):
                        param, grad = sgd(
                            (node.id, name), node.get_param(name), node.get_grad(name), lr_scale=lr_scale
                        )
                    node.set_param(name, param)
        self._store_sigmas()

    def _store_sigmas(self) -> None:
        if self.model.get_ref(joint_model.LOSS_WEIGHTS).has_param(joint_model.LOG_VARIANCES):
            ops = self.model.ops
            sigmas = ops.to_numpy(
                sigma_from_log_variance(ops, joint_model.get_log_variances(self.model))
            )
            self.cfg["sigmas"] = {t: float(s) for t, s in zip(self.tasks, sigmas)}

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Dict[str, Sequence[str]]] = None,
    ) -> None:
        """Take the entity and relation types from the data (or ``labels``) and size the model."""
        validate_get_examples(get_examples, "NerelJoint.initialize")
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
        if "spans" in self.tasks:
            self.model.set_dim("nO_spans", 1 + len(self.entity_labels), force=True)
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
        """Entity, seqeval, nested-mention and relation-type scores (no side effects)."""
        validate_examples(examples, "NerelJoint.score")
        return dict(
            self.scorer(
                examples,
                cats_labels=self.cats_labels,
                thresholds=self.cats_thresholds,
                threshold=self.cfg["threshold"],
                **kwargs,
            )
        )


@contextmanager
def _no_weight_decay(sgd: Optimizer, active: bool = True) -> Iterator[None]:
    """Run an optimizer call without L2 (decay or penalty) when ``active``."""
    if not active or not getattr(sgd, "L2", 0):
        yield
        return
    l2 = sgd.L2
    sgd.L2 = 0.0
    try:
        yield
    finally:
        sgd.L2 = l2
