"""The joint architecture: one shared encoder feeding one head per task.

``nerel.JointTagCat.v1`` has a BIO token head (task ``ner``) and a document head
(``cats``); ``nerel.JointTagCat.v2`` adds the nested-mention head (``spans``,
``nerel.SpanScorer.v1``); ``nerel.JointTagCat.v3`` adds the relation head
(``relations``, ``nerel.RelationScorer.v1``). They map a batch of docs to a dict of
outputs by task:

- ``ner``: one ``(n_tokens, n_tags)`` array of BIO-tag logits per doc;
- ``spans``: one ``(n_candidates, 1 + n_entity_types)`` array of logits per doc;
- ``cats``: one ``(n_docs, n_cats)`` array of relation-type logits;
- ``tokens`` (v3): the encoder's token vectors. The relation head needs mentions
  (gold in training, predicted at inference), which only the component knows, so
  the component runs it on these vectors and hands their gradient back under
  ``tokens``; the head still lives in this model, so it is saved and trained with it;
- ``log_variances``: the learned ``s_i = log σ_i²`` of the uncertainty weighting, one
  per task in ``model.attrs["tasks"]`` order. They are outputs so that their gradient
  comes back through ``backprop`` like every other: the loss owns the maths, the
  model owns the parameters.

The encoder is any spaCy tok2vec layer: a spacy-transformers listener, an inline
transformer, or a CNN.
"""
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Linear, Maxout, Model, chain, get_array_module, with_array, zero_init
from thinc.types import Floats1d, Floats2d

from ..batching import batch_by_chars
from .relations import RELATION_OUTPUT, RELATION_REPRESENTATION
from .spans import SPAN_OUTPUT

JointOutput = Dict[str, object]

TAG_OUTPUT = "tag_output"
CAT_OUTPUT = "cat_output"
LOSS_WEIGHTS = "loss_weights"
LOG_VARIANCES = "log_variances"
TOKENS = "tokens"
TASKS = ("ner", "cats")
# The head of each task, and the dim that sizes its output layer.
HEAD_REFS = {"ner": "tag_head", "spans": "span_head", "cats": "cat_head", "relations": "relation_head"}
OUTPUT_REFS = {"ner": TAG_OUTPUT, "spans": SPAN_OUTPUT, "cats": CAT_OUTPUT, "relations": RELATION_OUTPUT}
OUTPUT_DIMS = {"ner": "nO_tags", "spans": "nO_spans", "cats": "nO_cats", "relations": "nO_relations"}
# Tasks whose head the component runs itself, on the ``tokens`` output.
COMPONENT_TASKS = ("relations",)


@registry.architectures("nerel.JointTagCat.v1")
def build_joint_tag_cat(
    tok2vec: Model[List[Doc], List[Floats2d]],
    doc_pooling: Model[List[Floats2d], Floats2d],
    hidden_width: int = 0,
    dropout: float = 0.1,
    nO_tags: Optional[int] = None,
    nO_cats: Optional[int] = None,
) -> Model[List[Doc], JointOutput]:
    """Build the flat joint model: BIO tags and relation types.

    tok2vec: the shared encoder.
    doc_pooling: pools a doc's token vectors into one row for the relation-type head.
    hidden_width: 0 for a linear token head, else a Maxout layer of this width first.
    dropout: applied to the token vectors before each head.
    nO_tags, nO_cats: output sizes; usually left out and set from the labels.
    """
    heads = {
        "ner": build_tag_head(hidden_width, dropout, nO_tags),
        "cats": build_cat_head(doc_pooling, dropout, nO_cats),
    }
    return build_joint(tok2vec, heads, {"nO_tags": nO_tags, "nO_cats": nO_cats})


@registry.architectures("nerel.JointTagCat.v2")
def build_joint_tag_span_cat(
    tok2vec: Model[List[Doc], List[Floats2d]],
    doc_pooling: Model[List[Floats2d], Floats2d],
    span_head: Model[List[Floats2d], List[Floats2d]],
    hidden_width: int = 0,
    dropout: float = 0.1,
    nO_tags: Optional[int] = None,
    nO_spans: Optional[int] = None,
    nO_cats: Optional[int] = None,
) -> Model[List[Doc], JointOutput]:
    """Build the nested joint model: BIO tags, every nested mention, and relation types.

    span_head: scores candidate spans (``nerel.SpanScorer.v1``); the other arguments
    are those of ``nerel.JointTagCat.v1``.
    """
    heads = {
        "ner": build_tag_head(hidden_width, dropout, nO_tags),
        "spans": span_head,
        "cats": build_cat_head(doc_pooling, dropout, nO_cats),
    }
    dims = {"nO_tags": nO_tags, "nO_spans": nO_spans, "nO_cats": nO_cats}
    return build_joint(tok2vec, heads, dims)


@registry.architectures("nerel.JointTagCat.v3")
def build_joint_tag_span_cat_relations(
    tok2vec: Model[List[Doc], List[Floats2d]],
    doc_pooling: Model[List[Floats2d], Floats2d],
    span_head: Model[List[Floats2d], List[Floats2d]],
    relation_head: Model,
    hidden_width: int = 0,
    dropout: float = 0.1,
    nO_tags: Optional[int] = None,
    nO_spans: Optional[int] = None,
    nO_cats: Optional[int] = None,
    nO_relations: Optional[int] = None,
) -> Model[List[Doc], JointOutput]:
    """``nerel.JointTagCat.v2`` plus relation triples between mentions.

    relation_head: scores mention pairs (``nerel.RelationScorer.v1``); the component runs
    it on the ``tokens`` output with the mentions of each doc.
    """
    heads = {
        "ner": build_tag_head(hidden_width, dropout, nO_tags),
        "spans": span_head,
        "cats": build_cat_head(doc_pooling, dropout, nO_cats),
        "relations": relation_head,
    }
    dims = {
        "nO_tags": nO_tags, "nO_spans": nO_spans, "nO_cats": nO_cats,
        "nO_relations": nO_relations, "n_entity_types": None,
    }
    model = build_joint(tok2vec, heads, dims)
    model.attrs["expose_tokens"] = True
    return model


def build_tag_head(hidden_width: int, dropout: float, nO: Optional[int]) -> Model:
    """Token vectors → BIO-tag logits: linear, or Maxout of ``hidden_width`` then linear."""
    tag_output = Linear(nO=nO, init_W=zero_init)
    if hidden_width:
        tag_hidden: Model = Maxout(nO=hidden_width, nP=2, dropout=dropout, normalize=True)
        head = with_array(chain(Dropout(dropout), tag_hidden, tag_output))
    else:
        head = with_array(chain(Dropout(dropout), tag_output))
    head.set_ref(TAG_OUTPUT, tag_output)
    return head


def build_cat_head(doc_pooling: Model, dropout: float, nO: Optional[int]) -> Model:
    """Token vectors → one row of relation-type logits per doc."""
    cat_output = Linear(nO=nO, init_W=zero_init)
    head = chain(doc_pooling, Dropout(dropout), cat_output)
    head.set_ref(CAT_OUTPUT, cat_output)
    return head


def build_joint(
    tok2vec: Model, heads: Dict[str, Model], dims: Dict[str, Optional[int]]
) -> Model[List[Doc], JointOutput]:
    """The shared forward: the encoder once, each head on its output, one σ per task."""
    tasks = tuple(heads)
    loss_weights = build_loss_weights(len(tasks))
    refs = {"tok2vec": tok2vec, LOSS_WEIGHTS: loss_weights}
    for task, head in heads.items():
        refs[HEAD_REFS[task]] = head
        refs[OUTPUT_REFS[task]] = head.get_ref(OUTPUT_REFS[task])
    return Model(
        "nerel_joint_tag_cat",
        forward,
        init=init,
        layers=[tok2vec, *heads.values(), loss_weights],
        refs=refs,
        dims=dims,
        attrs={"tasks": tasks},
    )


def build_loss_weights(n_tasks: int) -> Model:
    """A parameter-only node holding ``s_i = log σ_i²`` for each task, starting at 0 (σ = 1).
    Its functions are module-level, so the pipeline pickles (``--n-process`` under spawn)."""
    model: Model = Model(
        "uncertainty_loss_weights",
        _identity_forward,
        init=_init_log_variances,
        params={LOG_VARIANCES: None},
        dims={"nT": n_tasks},
    )
    return model


def _init_log_variances(model: Model, X=None, Y=None) -> None:
    model.set_param(LOG_VARIANCES, model.ops.alloc1f(model.get_dim("nT")))


def _identity_forward(model: Model, X, is_train: bool):
    return X, _identity_backprop


def _identity_backprop(dY):
    return dY


def get_log_variances(model: Model) -> Floats1d:
    """The current ``s = log σ²`` per task of a joint model."""
    return model.get_ref(LOSS_WEIGHTS).get_param(LOG_VARIANCES)


def get_tasks(model: Model) -> Tuple[str, ...]:
    """The tasks of a joint model, in the order of its log-variances."""
    return tuple(model.attrs.get("tasks", TASKS))


@contextmanager
def tokens_exposed(model: Model) -> Iterator[Model]:
    """Inside the block ``model``'s outputs also carry its token vectors (``TOKENS``); after
    it, the model is as it was."""
    previous = model.attrs.get("expose_tokens")
    model.attrs["expose_tokens"] = True
    try:
        yield model
    finally:
        if previous is None:
            del model.attrs["expose_tokens"]
        else:
            model.attrs["expose_tokens"] = previous


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[JointOutput, Callable]:
    tok2vec = model.get_ref("tok2vec")
    token_vectors, backprop_tok2vec = tok2vec(docs, is_train)
    outputs: JointOutput = {}
    backprops = {}
    for task in get_tasks(model):
        if task not in COMPONENT_TASKS:
            outputs[task], backprops[task] = model.get_ref(HEAD_REFS[task])(token_vectors, is_train)
    if model.attrs.get("expose_tokens"):
        outputs[TOKENS] = token_vectors
    loss_weights = model.get_ref(LOSS_WEIGHTS)
    outputs[LOG_VARIANCES] = loss_weights.get_param(LOG_VARIANCES)

    def backprop(d_outputs: JointOutput) -> List[Doc]:
        d_vectors = None
        for task in [*get_tasks(model), TOKENS]:
            if d_outputs.get(task) is None or (task != TOKENS and task not in backprops):
                continue
            d_task = d_outputs[task] if task == TOKENS else backprops[task](d_outputs[task])
            d_vectors = d_task if d_vectors is None else [a + b for a, b in zip(d_vectors, d_task)]
        if d_outputs.get(LOG_VARIANCES) is not None:
            loss_weights.inc_grad(LOG_VARIANCES, d_outputs[LOG_VARIANCES])
        return backprop_tok2vec(d_vectors)

    return outputs, backprop


def init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    """Initialize the encoder on ``X``, then size the heads from its output and the labels."""
    tok2vec = model.get_ref("tok2vec")
    tok2vec.initialize(X=X)
    for task in get_tasks(model):
        dim = OUTPUT_DIMS[task]
        if model.has_dim(dim) and model.get_dim(dim):
            model.get_ref(OUTPUT_REFS[task]).set_dim("nO", model.get_dim(dim), force=True)
    vectors = tok2vec.predict(X) if X is not None else None
    for task in get_tasks(model):
        head = model.get_ref(HEAD_REFS[task])
        if task == "relations":
            if model.has_dim("n_entity_types") and model.get_dim("n_entity_types"):
                head.get_ref(RELATION_REPRESENTATION).set_dim("nT", model.get_dim("n_entity_types"), force=True)
            no_mentions = [numpy.zeros((0, 3), dtype="int32") for _ in vectors] if vectors is not None else None
            head.initialize(X=(vectors, no_mentions) if vectors is not None else None)
        else:
            head.initialize(X=vectors)
    model.get_ref(LOSS_WEIGHTS).initialize()


def predict_in_chunks(model: Model, docs: List[Doc], max_tokens: int) -> JointOutput:
    """``model.predict(docs)``, run over consecutive groups of at most ``max_tokens`` tokens.

    Every head works doc by doc, so the outputs are those of one pass over the whole
    batch (up to float rounding in the matrix products, as with any other batch size),
    while each pass's activations stay small enough for the CPU's caches: on 2 cores of
    an Intel Xeon the fast CNN read dev 1.14× as fast in groups of 2,000 tokens as in
    batches of 16 docs (docs/training.md, "Inference batches"). A doc longer than
    ``max_tokens`` is a group of its own; ``max_tokens`` 0 runs the batch in one pass.
    """
    if max_tokens <= 0 or sum(len(doc) for doc in docs) <= max_tokens:
        return model.predict(docs)
    groups = batch_by_chars(docs, max_tokens, len(docs))
    return concat_outputs([model.predict(group) for group in groups])


def concat_outputs(outputs: List[JointOutput]) -> JointOutput:
    """One ``JointOutput`` from those of consecutive groups of docs, in order.

    Per-doc lists are joined, the ``cats`` rows stacked; ``log_variances`` is the model's
    parameter, the same in every group.
    """
    merged: JointOutput = {}
    for key, first in outputs[0].items():
        if key == LOG_VARIANCES:
            merged[key] = first
        elif key == "cats":
            merged[key] = get_array_module(first).concatenate([output[key] for output in outputs], axis=0)
        else:
            merged[key] = [item for output in outputs for item in output[key]]
    return merged
