"""Transformer encoders for the joint model, with an option to freeze word embeddings.

spacy-transformers' own layers, built the same way, plus one knob: most of a
multilingual model's weights sit in its word-embedding matrix (96M of
multilingual-e5-small's 118M), and updating it with Adam costs more CPU time per
step than the whole forward pass while barely changing the result when fine-tuning.
``freeze_embeddings = true`` leaves that matrix as pretrained.

A second knob, ``train_precision``, runs the encoder's training passes under bfloat16
autocast on CPUs that multiply bfloat16 natively (AMX or AVX512-BF16), where a step
takes about half the time; prediction and evaluation stay in float32.
"""
from typing import Callable, List

from spacy.tokens import Doc
from spacy.util import registry
from spacy_transformers.layers import TransformerModel
from spacy_transformers.layers.split_trf import split_trf_batch
from spacy_transformers.layers.trfs2arrays import trfs2arrays
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged

from .. import machine

TRAIN_PRECISIONS = ("fp32", "bf16", "auto")


def resolve_train_precision(train_precision: str) -> str:
    """``"fp32"`` or ``"bf16"`` for a ``train_precision`` setting; ``"auto"`` asks the CPU.

    ``"auto"`` takes bfloat16 only where the CPU multiplies it natively: elsewhere torch
    emulates it, more slowly than float32.
    """
    if train_precision not in TRAIN_PRECISIONS:
        raise ValueError(
            f"train_precision must be one of {', '.join(TRAIN_PRECISIONS)}, not {train_precision!r}"
        )
    if train_precision != "auto":
        return train_precision
    return "bf16" if machine.cpu_has_fast_bf16() else "fp32"


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
    model._func = _FrozenEmbeddingsForward(model._func)
    return model


class _FrozenEmbeddingsForward:
    """``forward`` after freezing the word embeddings in training. A class, not a closure,
    so the pipeline pickles (``--n-process`` under spawn)."""

    def __init__(self, forward: Callable):
        self.forward = forward

    def __call__(self, model: TransformerModel, docs, is_train: bool):
        if is_train and model.attrs["has_transformer"]:
            freeze_word_embeddings(model.transformer)
        return self.forward(model, docs, is_train)


def _with_bf16_training(model: TransformerModel) -> TransformerModel:
    """Run training passes under CPU bfloat16 autocast, and hand float32 outputs on.

    The matmuls run in bfloat16 and torch keeps layer norms and softmax in float32, so the
    last hidden state comes out float32; any other output (BERT's pooler) is cast back so
    that thinc can read it. The backward pass follows the autocast graph by itself.
    """
    model._func = _Bf16TrainingForward(model._func)
    return model


class _Bf16TrainingForward:
    """``forward``, in training under bfloat16 autocast with float32 outputs (a class, so the
    pipeline pickles)."""

    def __init__(self, forward: Callable):
        self.forward = forward

    def __call__(self, model: TransformerModel, docs, is_train: bool):
        import torch

        if not is_train:
            return self.forward(model, docs, is_train)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output, backprop = self.forward(model, docs, is_train)
        model_output = output.model_output
        for key, value in list(model_output.items()):
            if isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16:
                model_output[key] = value.float()
        return output, backprop


@registry.architectures("nerel.TransformerModel.v1")
def build_transformer_model(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    freeze_embeddings: bool = True,
    train_precision: str = "fp32",
) -> Model[List[Doc], object]:
    """``spacy-transformers.TransformerModel.v3`` that can freeze the word embeddings.

    name: a Hugging Face hub name (``cointegrated/rubert-tiny2``) or a local model folder.
    train_precision: ``"fp32"``; ``"bf16"`` (training passes under bfloat16 autocast); or
        ``"auto"``, bf16 where the CPU multiplies it natively and fp32 elsewhere.
    """
    precision = resolve_train_precision(train_precision)
    model = TransformerModel(name, get_spans, tokenizer_config, transformer_config)
    model.attrs["train_precision"] = precision
    model.attrs["train_precision_setting"] = train_precision
    if precision == "bf16":
        model = _with_bf16_training(model)
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
    train_precision: str = "fp32",
) -> Model[List[Doc], List[Floats2d]]:
    """An inline transformer as the joint model's own encoder (no separate component).

    The same layers as ``spacy-transformers.Tok2VecTransformer.v3``, so the whole
    joint BERT lives inside ``nerel_joint``.
    """
    transformer = build_transformer_model(
        name, get_spans, tokenizer_config, transformer_config, freeze_embeddings, train_precision
    )
    return transformer_to_token_vectors(transformer, pooling, grad_factor)


def transformer_to_token_vectors(
    transformer: Model, pooling: Model[Ragged, Floats2d], grad_factor: float = 1.0
) -> Model[List[Doc], List[Floats2d]]:
    """Wrap a transformer so it yields one vector per spaCy token, as a tok2vec layer does.

    A chain of a chain, like ``Tok2VecTransformer.v3``, to match the listener's structure.
    """
    return chain(chain(transformer, split_trf_batch()), trfs2arrays(pooling, grad_factor))
