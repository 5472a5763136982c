"""Static word vectors added to an encoder's token vectors, starting from zero.

``nerel.WithStaticVectors.v1`` wraps any tok2vec layer (a transformer listener, a CNN):
each token's vector becomes ``x + scale · W·v``, where ``v`` is the token's row of the
pipeline's static vectors table (navec: 250k Russian words from 12B tokens of news and
literature) and ``W`` starts at zero. A trained pipeline wrapped this way predicts
exactly as before, so training can continue from it and learn how much of ``v`` to
use, without re-initialising any head: every head still sees vectors of the
encoder's width. Words without a row get ``x`` alone.

The point is lexical knowledge the encoder lacks: two thirds of the dev mentions the
e5-small pipeline misses are words that never occur in NEREL's training texts
(``benchmarks/annotation_consistency.py``), and navec has seen most of them.

``scale`` multiplies the projection's output; under Adam, whose steps do not depend on
a gradient's size, it acts as a learning-rate factor for ``W`` alone, so a fresh ``W``
can move as fast as the fine-tuned layers around it need.
"""
from typing import Callable, List, Optional, Tuple

from spacy.ml.staticvectors import StaticVectors
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, zero_init
from thinc.types import Floats2d, Ragged

WRAPPED = "tok2vec"
STATIC_VECTORS = "static_vectors"


@registry.architectures("nerel.WithStaticVectors.v1")
def build_with_static_vectors(
    tok2vec: Model[List[Doc], List[Floats2d]],
    scale: float = 1.0,
    dropout: float = 0.0,
) -> Model[List[Doc], List[Floats2d]]:
    """``tok2vec``'s token vectors plus a learned projection of the static vectors.

    tok2vec: the wrapped encoder; its output width is the projection's.
    scale: the projection's output factor (a learning-rate factor for it under Adam).
    dropout: spaCy's StaticVectors dropout, over the projection's output dimensions.
    """
    static = StaticVectors(nO=None, nM=None, dropout=dropout or None, init_W=zero_init)
    return Model(
        "with_static_vectors",
        forward,
        init=init,
        layers=[tok2vec, static],
        refs={WRAPPED: tok2vec, STATIC_VECTORS: static},
        dims={"nO": None},
        attrs={"scale": float(scale)},
    )


def init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    tok2vec = model.get_ref(WRAPPED)
    tok2vec.initialize(X=X)
    init_static_vectors(model, X)


def init_static_vectors(model: Model, X: Optional[List[Doc]] = None) -> None:
    """Size the projection (encoder width × vectors width) and set it to zero.

    The encoder width comes from the wrapped layer's ``nO``, or from its output on ``X``;
    the vectors width from the docs' vocab. Only the projection is touched, so a trained
    encoder can be wrapped after the fact (``nerel_spacy.static_vectors``).
    """
    tok2vec, static = model.get_ref(WRAPPED), model.get_ref(STATIC_VECTORS)
    width = tok2vec.get_dim("nO") if tok2vec.has_dim("nO") else None
    if not width:
        if not X:
            raise ValueError("nerel.WithStaticVectors.v1 needs sample docs to find the encoder's width")
        width = tok2vec.predict(X[:1])[0].shape[1]
    if X:
        vectors = X[0].vocab.vectors
        if vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise ValueError(
                "nerel.WithStaticVectors.v1: the pipeline has no static vectors. Set [initialize] "
                "vectors (e.g. assets/navec_vectors, from `nerel-batch prepare-vectors`)."
            )
        static.set_dim("nM", vectors.shape[1], force=True)
    static.set_dim("nO", width, force=True)
    model.set_dim("nO", width, force=True)
    static.set_param("W", zero_init(model.ops, (width, static.get_dim("nM"))))


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    vectors, backprop_tok2vec = model.get_ref(WRAPPED)(docs, is_train)
    static, backprop_static = model.get_ref(STATIC_VECTORS)(docs, is_train)
    scale = model.attrs["scale"]
    outputs = []
    start = 0
    for doc_vectors in vectors:
        end = start + doc_vectors.shape[0]
        outputs.append(doc_vectors + scale * static.dataXd[start:end])
        start = end

    def backprop(d_outputs: List[Floats2d]) -> List[Doc]:
        d_static = model.ops.flatten(d_outputs) if d_outputs else static.dataXd[:0]
        backprop_static(Ragged(d_static * scale, static.lengths))
        return backprop_tok2vec(d_outputs)

    return outputs, backprop
