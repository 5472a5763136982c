"""Transformer encoders for the joint model, with an option to freeze word embeddings.

spacy-transformers' own layers, built the same way, plus one knob: most of a
multilingual model's weights sit in its word-embedding matrix (96M of
multilingual-e5-small's 118M), and updating it with Adam costs more CPU time per
step than the whole forward pass while barely changing the result when fine-tuning.
``freeze_embeddings = true`` leaves that matrix as pretrained.
"""
from typing import Callable, List

from spacy.tokens import Doc
from spacy.util import registry
from spacy_transformers.layers import TransformerModel
from spacy_transformers.layers.split_trf import split_trf_batch
from spacy_transformers.layers.trfs2arrays import trfs2arrays
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged


def freeze_word_embeddings(hf_transformer) -> int:
    """Stop gradients for the word-embedding matrix of a Hugging Face model; returns its size."""
    embeddings = hf_transformer.get_input_embeddings()
    if embeddings is None:
        return 0
    embeddings.weight.requires_grad_(False)
    return int(embeddings.weight.numel())


def _with_frozen_embeddings(model: TransformerModel) -> TransformerModel:
    """Freeze on every training pass, not once at initialisation.

    Loading a pipeline (``spacy.load``, or sourcing it to train on) rebuilds the Hugging
    Face model from its config, with every weight trainable again; a flag set at
    ``initialize`` would be lost, and continued training would silently update the
    embedding matrix at several times the cost of a step.
    """
    forward = model._func

    def forward_with_frozen_embeddings(model: TransformerModel, docs, is_train: bool):
        if is_train and model.attrs["has_transformer"]:
            freeze_word_embeddings(model.transformer)
        return forward(model, docs, is_train)

    model._func = forward_with_frozen_embeddings
    return model


@registry.architectures("nerel.TransformerModel.v1")
def build_transformer_model(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    freeze_embeddings: bool = True,
) -> Model[List[Doc], object]:
    """``spacy-transformers.TransformerModel.v3`` that can freeze the word embeddings.

    name: a Hugging Face hub name (``cointegrated/rubert-tiny2``) or a local model folder.
    """
    model = TransformerModel(name, get_spans, tokenizer_config, transformer_config)
    return _with_frozen_embeddings(model) if freeze_embeddings else model


@registry.architectures("nerel.Tok2VecTransformer.v1")
def build_tok2vec_transformer(
    name: str,
    get_spans: Callable,
    pooling: Model[Ragged, Floats2d],
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    grad_factor: float = 1.0,
    freeze_embeddings: bool = True,
) -> Model[List[Doc], List[Floats2d]]:
    """An inline transformer as the joint model's own encoder (no separate component).

    The same layers as ``spacy-transformers.Tok2VecTransformer.v3``, so the whole
    joint BERT lives inside ``nerel_joint``.
    """
    transformer = build_transformer_model(
        name, get_spans, tokenizer_config, transformer_config, freeze_embeddings
    )
    return transformer_to_token_vectors(transformer, pooling, grad_factor)


def transformer_to_token_vectors(
    transformer: Model, pooling: Model[Ragged, Floats2d], grad_factor: float = 1.0
) -> Model[List[Doc], List[Floats2d]]:
    """Wrap a transformer so it yields one vector per spaCy token, as a tok2vec layer does.

    A chain of a chain, like ``Tok2VecTransformer.v3``, to match the listener's structure.
    """
    return chain(chain(transformer, split_trf_batch()), trfs2arrays(pooling, grad_factor))
