"""The joint architecture: one shared encoder, a token head and a document head.

``nerel.JointTagCat.v1`` maps a batch of docs to ``(tag_logits, cat_logits)``:
one ``(n_tokens, n_tags)`` array of BIO-tag logits per doc, and one
``(n_docs, n_cats)`` array of relation-type logits. The encoder is any spaCy
tok2vec layer: a spacy-transformers listener, an inline transformer, or a CNN.
The model also owns the two learned log-variances of the uncertainty weighting,
so the optimizer that trains the heads trains them too.
"""
from typing import Callable, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Linear, Maxout, Model, chain, with_array, zero_init
from thinc.types import Floats1d, Floats2d

JointOutput = Tuple[List[Floats2d], Floats2d]

TAG_OUTPUT = "tag_output"
CAT_OUTPUT = "cat_output"
LOSS_WEIGHTS = "loss_weights"
LOG_VARIANCES = "log_variances"
TASKS = ("ner", "cats")


@registry.architectures("nerel.JointTagCat.v1")
def build_joint_tag_cat(
    tok2vec: Model[List[Doc], List[Floats2d]],
    doc_pooling: Model[List[Floats2d], Floats2d],
    hidden_width: int = 0,
    dropout: float = 0.1,
    nO_tags: Optional[int] = None,
    nO_cats: Optional[int] = None,
) -> Model[List[Doc], JointOutput]:
    """Build the joint model.

    tok2vec: the shared encoder.
    doc_pooling: pools a doc's token vectors into one row for the relation-type head.
    hidden_width: 0 for a linear token head, else a Maxout layer of this width first.
    dropout: applied to the token vectors before each head.
    nO_tags, nO_cats: output sizes; usually left out and set from the labels.
    """
    tag_output = Linear(nO=nO_tags, init_W=zero_init)
    cat_output = Linear(nO=nO_cats, init_W=zero_init)
    if hidden_width:
        tag_hidden: Model = Maxout(nO=hidden_width, nP=2, dropout=dropout, normalize=True)
        tag_head = with_array(chain(Dropout(dropout), tag_hidden, tag_output))
    else:
        tag_head = with_array(chain(Dropout(dropout), tag_output))
    cat_head = chain(doc_pooling, Dropout(dropout), cat_output)
    loss_weights = build_loss_weights(len(TASKS))
    return Model(
        "nerel_joint_tag_cat",
        forward,
        init=init,
        layers=[tok2vec, tag_head, cat_head, loss_weights],
        refs={
            "tok2vec": tok2vec,
            "tag_head": tag_head,
            "cat_head": cat_head,
            TAG_OUTPUT: tag_output,
            CAT_OUTPUT: cat_output,
            LOSS_WEIGHTS: loss_weights,
        },
        dims={"nO_tags": nO_tags, "nO_cats": nO_cats},
    )


def build_loss_weights(n_tasks: int) -> Model:
    """A parameter-only node holding ``s_i = log σ_i²`` for each task, starting at 0 (σ = 1)."""

    def init_log_variances(model: Model, X=None, Y=None) -> None:
        model.set_param(LOG_VARIANCES, model.ops.alloc1f(n_tasks))

    def identity(model: Model, X, is_train: bool):
        return X, lambda dY: dY

    model: Model = Model(
        "uncertainty_loss_weights",
        identity,
        init=init_log_variances,
        params={LOG_VARIANCES: None},
        dims={"nT": n_tasks},
    )
    return model


def get_log_variances(model: Model) -> Floats1d:
    """The current ``s = log σ²`` per task of a joint model."""
    return model.get_ref(LOSS_WEIGHTS).get_param(LOG_VARIANCES)


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[JointOutput, Callable]:
    tok2vec = model.get_ref("tok2vec")
    token_vectors, backprop_tok2vec = tok2vec(docs, is_train)
    tag_logits, backprop_tags = model.get_ref("tag_head")(token_vectors, is_train)
    cat_logits, backprop_cats = model.get_ref("cat_head")(token_vectors, is_train)

    def backprop(d_output: JointOutput) -> List[Doc]:
        d_tag_logits, d_cat_logits = d_output
        d_vectors_tags = backprop_tags(d_tag_logits)
        d_vectors_cats = backprop_cats(d_cat_logits)
        d_vectors = [a + b for a, b in zip(d_vectors_tags, d_vectors_cats)]
        return backprop_tok2vec(d_vectors)

    return (tag_logits, cat_logits), backprop


def init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    """Initialize the encoder on ``X``, then size the heads from its output and the labels."""
    tok2vec = model.get_ref("tok2vec")
    tok2vec.initialize(X=X)
    for dim, ref in (("nO_tags", TAG_OUTPUT), ("nO_cats", CAT_OUTPUT)):
        if model.has_dim(dim) and model.get_dim(dim):
            model.get_ref(ref).set_dim("nO", model.get_dim(dim), force=True)
    vectors = tok2vec.predict(X) if X is not None else None
    model.get_ref("tag_head").initialize(X=vectors)
    model.get_ref("cat_head").initialize(X=vectors)
    model.get_ref(LOSS_WEIGHTS).initialize()
