"""``nerel_joint``: one trainable component for entities, nested mentions and relation types.

A shared encoder feeds one head per task (``nerel_spacy.models.joint``): BIO tags
(``ner``, constrained Viterbi), every nested mention (``spans``, v2), the document's
relation types (``cats``) and, with v3, triples between mentions (``relations``: gold
mentions in training, the span head's at inference). The task losses are balanced by
learned uncertainty weights, or by fixed weights (the ablation).
"""
import inspect
from itertools import islice
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate

from ..models import joint as joint_model
from ..models import pooling  # noqa: F401  (register architectures; the transformer ones load by entry point)
from ..models import relations as relation_models, spans as span_models  # noqa: F401
from ..models.loss import sigma_from_log_variance, sigmoid
from ..schema import SPANS_KEY
from ..scoring import score_joint  # noqa: F401  (registers nerel.joint_scorer.v1)
from ..scoring_nested import make_nested_joint_scorer  # noqa: F401  (registers .v2)
from ..scoring_relations import make_relation_joint_scorer  # noqa: F401  (registers .v3)
from ..relation_decoding import DecodedRelation
from ..span_decoding import DecodedSpan
from ..spans import select_flat_entities
from .. import ops as numpy_blas_ops, training_logger  # noqa: F401  (register a callback, a logger)
from .labels import LabelsAndThresholds, size_heads
from .annotations import (
    best_tag_paths,
    bio_constraints,
    decode_span_logits,
    mentions_to_spans,
    set_ents_keeping_earlier,
    set_span_group,
    tag_path_to_spans,
)
from .optimizer import apply_gradients
from .objective import (
    TASK_LOSSES, check_settings, raw_task_losses, relation_task_loss, sum_gradients, teacher_record,
    weighted_total_loss,
)
from .relations import combine_cats, decoded_mentions, pair_probabilities, predict_relations, relations_to_dicts
from ..gold_targets import GoldRelations, gold_relations, labels_from_examples
from .upstream import require_upstream_transformer


def has_words(doc: Doc) -> bool:
    """Whether ``doc`` has a token that is not whitespace: the heads read nothing else."""
    return any(not token.is_space for token in doc)


class JointPrediction(NamedTuple):
    """What ``predict`` returns: per doc a tag path and mentions, and relation-type scores."""

    tag_paths: List[List[int]]  # empty when doc.ents come from the mentions (ents_source "spans")
    spans: Optional[List[List[DecodedSpan]]]  # None without a span head
    cat_probs: numpy.ndarray  # (n_docs, n_cats)
    relations: Optional[List[List[DecodedRelation]]] = None  # None without a relation head
    triple_cat_probs: Optional[numpy.ndarray] = None  # (n_docs, n_cats): best pair per type


class NerelJoint(LabelsAndThresholds, TrainablePipe):
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
        relation_threshold: float = 0.5,
        nested_arguments: str = "all",
        cats_source: str = "doc",
        loss_weighting: str = "uncertainty",
        fixed_weights: Optional[Dict[str, float]] = None,
        head_learn_rate_scale: float = 1.0,
        overwrite_ents: bool = False,
        spans_key: Optional[str] = SPANS_KEY,
        distill_weight: float = 0.0,
        distill_token_vectors_weight: float = 0.0,
        max_batch_tokens: int = 0,
        scorer: Optional[Callable] = score_joint,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg = {
            "entity_labels": [],
            "cats_labels": [],
            "thresholds": {},
            "sigmas": {},
            "threshold": float(threshold),
            "span_threshold": float(span_threshold),
            "allow_crossing": bool(allow_crossing),
            "ents_source": ents_source,
            "relation_threshold": float(relation_threshold),
            "nested_arguments": nested_arguments,
            "cats_source": cats_source,
            "loss_weighting": loss_weighting,
            "fixed_weights": dict(fixed_weights or {"ner": 1.0, "spans": 1.0, "cats": 1.0}),
            "head_learn_rate_scale": float(head_learn_rate_scale),
            "overwrite_ents": bool(overwrite_ents),
            "spans_key": spans_key,
            "distill_weight": float(distill_weight),
            "distill_token_vectors_weight": float(distill_token_vectors_weight),
            "max_batch_tokens": int(max_batch_tokens),
        }
        check_settings(self.cfg, self.tasks, name)
        if distill_token_vectors_weight > 0:  # the loss reads the encoder's output beside the heads'
            self.model.attrs["expose_tokens"] = True
        # Settings come from the config; learned state (labels, tuned thresholds, sigmas)
        # from training. A saved cfg holds both, so re-apply the settings after loading:
        # spacy.load(..., config={"components": {"nerel_joint": {...}}}) must win.
        self._settings = {key: self.cfg[key] for key in SETTINGS}

    @property
    def tasks(self) -> Tuple[str, ...]:
        """The model's tasks (``ner``, ``cats`` and, with a span head, ``spans``)."""
        return joint_model.get_tasks(self.model)

    @property
    def max_width(self) -> int:
        """The longest candidate mention of the span head, in tokens (0 without one)."""
        return int(self.model.get_ref("span_head").attrs["max_width"]) if "spans" in self.tasks else 0

    @property
    def relation_head(self) -> Optional[Model]:
        """The relation head (``nerel.JointTagCat.v3``), run by this component; else None."""
        return self.model.get_ref("relation_head") if "relations" in self.tasks else None

    # ---- prediction ---------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> JointPrediction:
        """Decoded mentions and, when ``doc.ents`` come from the BIO head, the best valid tag
        path per doc; relation-type probabilities and triples."""
        docs = list(docs)
        tag_paths: List[List[int]] = [[] for _ in docs]
        spans: Optional[List[List[DecodedSpan]]] = [[] for _ in docs] if "spans" in self.tasks else None
        cat_probs = numpy.zeros((len(docs), len(self.cats_labels)), dtype="float32")
        # Docs without a word have nothing to pool over: no entities, all-zero cats, no triples.
        non_empty = [i for i, doc in enumerate(docs) if has_words(doc)]
        if not non_empty:
            if self.relation_head is None or spans is None:
                return JointPrediction(tag_paths, spans, cat_probs)
            return JointPrediction(tag_paths, spans, cat_probs, [[] for _ in docs], numpy.zeros_like(cat_probs))
        require_upstream_transformer(self.model, docs[non_empty[0]], self.name)
        ops = self.model.ops
        outputs = self._predict_model([docs[i] for i in non_empty])
        if spans is None or self.cfg["ents_source"] == "tags":  # else nothing reads the paths
            allowed, allowed_start = bio_constraints(tuple(self.tag_labels))
            paths = best_tag_paths([ops.to_numpy(logits) for logits in outputs["ner"]], allowed, allowed_start)
            for i, path in zip(non_empty, paths):
                tag_paths[i] = path
        if spans is not None:
            for i, logits in zip(non_empty, outputs["spans"]):
                spans[i] = decode_span_logits(
                    ops, logits, len(docs[i]), self.max_width, self.cfg["span_threshold"],
                    self.cfg["allow_crossing"],
                )
        cat_probs[non_empty] = ops.to_numpy(sigmoid(ops, outputs["cats"]))
        if self.relation_head is None or spans is None:
            return JointPrediction(tag_paths, spans, cat_probs)
        mentions = [decoded_mentions(spans[i]) for i in non_empty]
        relations, triple_probs = predict_relations(
            self.relation_head, outputs[joint_model.TOKENS], non_empty, mentions, len(docs),
            self.cfg["relation_threshold"], len(self.cats_labels), self.cfg["nested_arguments"],
        )
        return JointPrediction(tag_paths, spans, cat_probs, relations, triple_probs)

    def _predict_model(self, docs: List[Doc]) -> joint_model.JointOutput:
        return joint_model.predict_in_chunks(self.model, docs, self.cfg.get("max_batch_tokens", 0))

    def predict_relations(self, docs: List[Doc], mentions: Sequence[numpy.ndarray]) -> List[List[DecodedRelation]]:
        """Relations among given ``(start, end, entity label index)`` mentions, e.g. gold ones."""
        rows, token_vectors = self._relation_inputs(docs)
        relations, _ = predict_relations(
            self.relation_head, token_vectors, rows, [mentions[i] for i in rows],
            len(docs), self.cfg["relation_threshold"], len(self.cats_labels), self.cfg["nested_arguments"],
        )
        return relations

    def pair_probabilities(self, docs: List[Doc], mentions: Sequence[numpy.ndarray]) -> list:
        """Per doc, every candidate pair of given mentions (heads, tails) and each type's probability."""
        rows, token_vectors = self._relation_inputs(docs)
        return pair_probabilities(
            self.relation_head, token_vectors, rows, [mentions[i] for i in rows], len(docs), len(self.cats_labels)
        )

    def _relation_inputs(self, docs: List[Doc]) -> Tuple[List[int], list]:
        """The non-empty docs' rows and their token vectors, for the relation head."""
        if self.relation_head is None:
            raise ValueError(f"{self.name} has no relation head: use nerel.JointTagCat.v3")
        rows = [i for i, doc in enumerate(docs) if has_words(doc)]
        return rows, self._predict_model([docs[i] for i in rows])[joint_model.TOKENS] if rows else []

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
            cat_probs = predictions.cat_probs[i]
            if predictions.relations is not None:
                if spans_key:  # the triples index doc.spans[spans_key]
                    doc._.relations = relations_to_dicts(predictions.relations[i], self.cats_labels)
                cat_probs = combine_cats(cat_probs, predictions.triple_cat_probs[i], self.cfg["cats_source"])
            for j, label in enumerate(self.cats_labels):
                doc.cats[label] = float(cat_probs[j])

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
        backprop_relations = None
        if self.relation_head is not None:
            # The relation head learns on the gold mentions; its gradient reaches the encoder
            # through the joint model's ``tokens`` output.
            mentions = [gold.mentions for gold in self._gold_relations(examples)]
            outputs["relations"], backprop_relations = self.relation_head.begin_update(
                (outputs[joint_model.TOKENS], mentions)
            )
        total, d_outputs = self.get_loss(examples, outputs)
        if backprop_relations is not None:
            d_relations = backprop_relations(d_outputs["relations"])[0]
            d_outputs[joint_model.TOKENS] = sum_gradients(d_outputs.get(joint_model.TOKENS), d_relations)
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
        raw = raw_task_losses(
            ops,
            examples,
            scores,
            tag_labels=self.tag_labels,
            entity_labels=self.entity_labels,
            cats_labels=self.cats_labels,
            max_width=self.max_width,
            spans_key=self.cfg["spans_key"] or "",
            distill_weight=self.cfg.get("distill_weight", 0.0),
        )
        if self.relation_head is not None:
            gold = self._gold_relations(examples)
            if "relations" not in scores:  # e.g. the outputs of model.predict
                scores = dict(scores)
                scores["relations"] = self.relation_head.predict(
                    (scores[joint_model.TOKENS], [g.mentions for g in gold])
                )
            raw["relations"] = relation_task_loss(
                ops, scores["relations"], gold, self.relation_head.attrs["max_distance"],
                [teacher_record(eg) for eg in examples], self.cfg.get("distill_weight", 0.0),
            )
        return weighted_total_loss(ops, examples, scores, raw, self.tasks, self.cfg)

    def _gold_relations(self, examples: Sequence[Example]) -> List[GoldRelations]:
        return gold_relations(examples, self.entity_labels, self.cats_labels, self.cfg["spans_key"] or "")

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the gradients; the heads and loss weights at ``head_learn_rate_scale`` × the rate.

        The log-variances get no weight decay: decay would pull every σ towards 1,
        a prior the uncertainty weighting does not have.
        """
        refs = [joint_model.HEAD_REFS[task] for task in self.tasks] + [joint_model.LOSS_WEIGHTS]
        apply_gradients(
            self.model,
            sgd,
            scaled={node.id for ref in refs for node in self.model.get_ref(ref).walk()},
            lr_scale=float(self.cfg.get("head_learn_rate_scale", 1.0)),
            no_decay={self.model.get_ref(joint_model.LOSS_WEIGHTS).id},
        )
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
            entity_labels, cats_labels = labels_from_examples(get_examples(), self.cfg.get("spans_key"))
        if not entity_labels and not cats_labels:
            raise ValueError(
                "nerel_joint: the training data has no entities and no cats. Convert the "
                "corpus with `nerel-batch convert` and point [paths.train] at it."
            )
        self.cfg["entity_labels"] = sorted(entity_labels)
        self.cfg["cats_labels"] = cats_labels
        self.cfg["thresholds"] = {}
        size_heads(self.model, self.tasks, n_tags=len(self.tag_labels), n_entity_labels=len(self.entity_labels),
                   n_cats=len(cats_labels))
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=sample)
        self._store_sigmas()

    # ---- scoring and serialization -----------------------------------------------

    def from_disk(self, path, *, exclude=tuple()) -> "NerelJoint":
        super().from_disk(path, exclude=exclude)
        self.cfg.update(self._settings)
        return self

    def from_bytes(self, bytes_data, *, exclude=tuple()) -> "NerelJoint":
        super().from_bytes(bytes_data, exclude=exclude)
        self.cfg.update(self._settings)
        return self

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, object]:
        """Entity, seqeval, nested-mention, relation-type and relation scores (no side effects).

        A relation head is handed to the scorer, to score it on the gold mentions too.
        """
        validate_examples(examples, "NerelJoint.score")
        if self.relation_head is not None:
            kwargs = {"predict_relations": self.predict_relations, "entity_labels": self.entity_labels, **kwargs}
        return dict(self.scorer(
            examples, cats_labels=self.cats_labels, thresholds=self.cats_thresholds,
            threshold=self.cfg["threshold"], **kwargs,
        ))


# Settings: the keyword arguments of the factory (and of __init__), applied over a
# saved cfg at load time.
SETTINGS = tuple(
    name
    for name, param in inspect.signature(NerelJoint.__init__).parameters.items()
    if param.kind is inspect.Parameter.KEYWORD_ONLY and name != "scorer"
)
