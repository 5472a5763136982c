"""The ``nerel_joint`` factory, its default model config and score weights.

The component itself is ``nerel_spacy.pipeline.joint.NerelJoint``.
"""
from typing import Callable, Dict, Optional

from spacy.language import Language
from thinc.api import Config, Model

from ..schema import SPANS_KEY
from .joint import SETTINGS, NerelJoint

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


@Language.factory(
    "nerel_joint",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.cats", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "threshold": 0.5,
        "span_threshold": 0.5,
        "allow_crossing": False,
        "ents_source": "tags",
        "relation_threshold": 0.5,
        "nested_arguments": "all",
        "cats_source": "doc",
        "loss_weighting": "uncertainty",
        "fixed_weights": {"ner": 1.0, "spans": 1.0, "cats": 1.0},
        "head_learn_rate_scale": 1.0,
        "overwrite_ents": False,
        "spans_key": SPANS_KEY,
        "distill_weight": 0.0,
        "distill_token_vectors_weight": 0.0,
        "max_batch_tokens": 0,
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
    relation_threshold: float,
    nested_arguments: str,
    cats_source: str,
    loss_weighting: str,
    fixed_weights: Dict[str, float],
    head_learn_rate_scale: float,
    overwrite_ents: bool,
    spans_key: Optional[str],
    distill_weight: float,
    distill_token_vectors_weight: float,
    max_batch_tokens: int,
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
    relation_threshold: a relation triple (nerel.JointTagCat.v3) is kept when its
        score is at least this.
    nested_arguments: "all" keeps every triple above the threshold; "best" keeps, of
        triples of one type that share an argument and whose other arguments are
        nested in each other, the highest-scored one (``best_of_nested_variants``).
    cats_source: doc.cats from the document head ("doc"), the highest triple score
        of each type ("triples", needs a relation head) or the higher of both ("max").
    loss_weighting: "uncertainty" (learned, Kendall et al. 2018) or "fixed".
    fixed_weights: the task weights used when loss_weighting is "fixed".
    head_learn_rate_scale: multiplies the learning rate of the heads and loss
        weights, so the fresh heads catch up with a pretrained encoder.
    overwrite_ents: False keeps entities set by earlier components (an
        entity_ruler) and adds only predictions that do not overlap them.
    spans_key: write every predicted mention to doc.spans[spans_key] (None: don't).
    distill_weight: on training docs that carry a teacher's outputs (written by
        `nerel-batch distill`), learn from (1 - w)·gold + w·teacher; 0 ignores them.
    distill_token_vectors_weight: on training docs whose teacher outputs include its
        token vectors, add this times their relative squared distance from the
        encoder's own (``relative_squared_error``) to the loss; 0 ignores them.
    max_batch_tokens: at inference, run the model over groups of at most this many
        tokens of a batch, which keeps its activations in the CPU's caches (the CNN
        configs set 2048); 0 runs each batch in one pass. Predictions do not change.
    """
    settings = {key: value for key, value in locals().items() if key in SETTINGS}
    return NerelJoint(nlp.vocab, model, name, scorer=scorer, **settings)

