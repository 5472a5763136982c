"""The registered int8 encoder architectures: thin builders over spacy-transformers'
``TransformerModel`` with an ``Int8HFShim`` in place of its ``HFShim``."""
from typing import Callable

from spacy.util import registry
from spacy_transformers.data_classes import HFObjects
from spacy_transformers.layers import TransformerModel
from spacy_transformers.layers.transformer_model import set_pytorch_transformer
from thinc.api import Model
from thinc.types import Floats2d, Ragged

from ..models.encoders import transformer_to_token_vectors
from .kernels import DEFAULT_FLOAT_LAYERS
from .shim import Int8HFShim


@registry.architectures("nerel.Int8TransformerModel.v1")
def build_int8_transformer_model(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    compute: str = "auto",
    float_layers: str = DEFAULT_FLOAT_LAYERS,
) -> Model:
    """spacy-transformers' ``TransformerModel`` holding an int8 encoder (inference only).

    name: the encoder the float32 pipeline was trained from; read only when the model
        is initialised from it (then quantized), never when an int8 pipeline is loaded.
    compute: "int8", "bf16" or "auto" (see ``nerel_spacy.quantize``); changeable in the
        saved config.cfg without quantizing again.
    float_layers: a regular expression; with compute "int8", Linear layers whose name
        matches run in float32 from their int8 weights ("": none; "auto": the FFN
        down-projections on CPUs without VNNI, else none).
    """
    model = TransformerModel(name, get_spans, tokenizer_config, transformer_config)
    wrapper = model.layers[0]
    shim = Int8HFShim(
        wrapper.shims[0]._hfmodel,
        compute=compute,
        float_layers=float_layers,
        config_cls=wrapper.shims[0].config_cls,
        model_cls=wrapper.shims[0].model_cls,
        tokenizer_cls=wrapper.shims[0].tokenizer_cls,
    )
    wrapper.shims[0] = shim
    model.attrs["set_transformer"] = _SetQuantizedTransformer(shim)
    return model


class _SetQuantizedTransformer:
    """``set_transformer`` for ``shim``: the loaded Hugging Face model quantized, then set.
    A class, not a closure, so the pipeline pickles (``--n-process`` under spawn)."""

    def __init__(self, shim: Int8HFShim):
        self.shim = shim

    def __call__(self, model: TransformerModel, hf_model: HFObjects) -> None:
        self.shim.set_quantized(hf_model)
        set_pytorch_transformer(model, self.shim._hfmodel)


@registry.architectures("nerel.Int8Tok2VecTransformer.v1")
def build_int8_tok2vec_transformer(
    name: str,
    get_spans: Callable,
    pooling: Model[Ragged, Floats2d],
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    grad_factor: float = 1.0,
    compute: str = "auto",
    float_layers: str = DEFAULT_FLOAT_LAYERS,
) -> Model:
    """``nerel.Tok2VecTransformer.v1`` with an int8 encoder: an inline int8 transformer."""
    transformer = build_int8_transformer_model(
        name, get_spans, tokenizer_config, transformer_config, compute, float_layers
    )
    return transformer_to_token_vectors(transformer, pooling, grad_factor)
