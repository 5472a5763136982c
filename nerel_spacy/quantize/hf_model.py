"""Hugging Face models with int8 weights: which tensors to store, and the model built back
from them with the ``kernels`` modules in place of ``Linear`` and the word embeddings."""
import re
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import torch
from transformers import AutoModel, PreTrainedModel
from transformers.activations import GELUActivation

from .kernels import (
    DEFAULT_FLOAT_LAYERS,
    DynamicInt8Linear,
    Int8Embedding,
    PackedBf16Linear,
    dequantize_rows,
    quantize_rows,
    resolve_compute,
    resolve_float_layers,
)

INT8_SUFFIX = ".weight_int8"
SCALE_SUFFIX = ".weight_scale"


def quantize_state_dict(
    skeleton: torch.nn.Module, state: Dict[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]]]:
    """The int8 tensors to store for a model's fp32 ``state``, and which modules they replace.

    ``skeleton`` is any instance of the model's class (only its module types are read).
    """
    embeddings = skeleton.get_input_embeddings() if isinstance(skeleton, PreTrainedModel) else None
    layout: Dict[str, List[str]] = {"linear": [], "embeddings": []}
    for name, module in skeleton.named_modules():
        if isinstance(module, torch.nn.Linear):
            layout["linear"].append(name)
        elif embeddings is not None and module is embeddings:
            layout["embeddings"].append(name)
    stored = {key: value.detach().contiguous() for key, value in state.items()}
    for name in layout["linear"] + layout["embeddings"]:
        q, scale = quantize_rows(stored.pop(f"{name}.weight"))
        stored[name + INT8_SUFFIX] = q
        stored[name + SCALE_SUFFIX] = scale
    return stored, layout


def build_int8_transformer(
    config: Any,
    stored: Dict[str, torch.Tensor],
    layout: Dict[str, List[str]],
    compute: str = "auto",
    float_layers: str = DEFAULT_FLOAT_LAYERS,
    model_cls: Any = AutoModel,
) -> PreTrainedModel:
    """A Hugging Face model from its config and the stored int8 tensors, ready to run."""
    compute = resolve_compute(compute)
    model = model_skeleton(config, model_cls)  # the weights come from ``stored``
    replaced = layout["linear"] + layout["embeddings"]
    for name in replaced:
        # Drop the skeleton's (never written) float weights before any dtype conversion
        # touches them: converting 118M floats would cost time and resident memory.
        model.get_submodule(name).weight = torch.nn.Parameter(torch.empty(0), requires_grad=False)
    plain = {k: v for k, v in stored.items() if not k.endswith((INT8_SUFFIX, SCALE_SUFFIX))}
    missing, unexpected = model.load_state_dict(plain, strict=False)
    expected_missing = {f"{name}.weight" for name in replaced}
    if unexpected or set(missing) - expected_missing:
        raise ValueError(
            f"the int8 weights do not fit the {type(model).__name__} built from the saved "
            f"config (missing: {sorted(set(missing) - expected_missing)[:5]}, unexpected: "
            f"{sorted(unexpected)[:5]}). Quantize the fp32 pipeline again with this "
            "version of transformers: `nerel-batch quantize MODEL_DIR OUT_DIR`."
        )
    dtype = torch.bfloat16 if compute == "bf16" else torch.float32
    model.to(dtype)
    float_layers = resolve_float_layers(float_layers)
    keep_float = re.compile(float_layers) if float_layers else None
    packed_bf16 = compute == "bf16" and PackedBf16Linear.available()
    for name in layout["linear"]:
        module = model.get_submodule(name)
        q, scale = stored[name + INT8_SUFFIX], stored[name + SCALE_SUFFIX]
        if packed_bf16:
            gelu = _take_exact_gelu(model, name)
            _set_submodule(model, name, PackedBf16Linear(dequantize_rows(q, scale, dtype), module.bias, gelu))
        elif compute == "bf16" or (keep_float is not None and keep_float.search(name)):
            module.weight = torch.nn.Parameter(dequantize_rows(q, scale, dtype), requires_grad=False)
        else:
            _set_submodule(model, name, DynamicInt8Linear(q, scale, module.bias))
    for name in layout["embeddings"]:
        old = model.get_submodule(name)
        q, scale = stored[name + INT8_SUFFIX], stored[name + SCALE_SUFFIX]
        _set_submodule(model, name, Int8Embedding(q, scale, getattr(old, "padding_idx", None), dtype))
    model.eval()
    model.requires_grad_(False)
    return model


def _take_exact_gelu(model: torch.nn.Module, name: str) -> bool:
    """If Linear ``name`` is a BERT-style ``intermediate.dense`` followed by an exact GELU,
    replace that GELU with an identity and return True (the Linear will apply it)."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    activation = getattr(parent, "intermediate_act_fn", None)
    exact = isinstance(activation, GELUActivation) and activation.act is torch.nn.functional.gelu
    if child != "dense" or not exact:
        return False
    parent.intermediate_act_fn = torch.nn.Identity()
    return True


def model_skeleton(config: Any, model_cls: Any = AutoModel) -> PreTrainedModel:
    """The Hugging Face model for ``config``, its weights neither initialised nor downloaded."""
    concrete = concrete_model_class(config, model_cls)
    with _no_init_weights():
        if concrete is not None:
            return concrete._from_config(config)
        return model_cls.from_config(config)


def concrete_model_class(config: Any, model_cls: Any) -> Any:
    """The class an Auto class would build for ``config`` (``BertModel`` for a BERT config),
    importing that model's module only; None where it cannot tell (remote code, an unknown
    type, another transformers layout), and the caller then asks the Auto class.

    ``AutoModel.from_config`` first checks ``type(config) in mapping.keys()``, which imports
    the configuration module of every architecture transformers knows: 1.0 of the 2.2 s an
    int8 student took to load."""
    mapping = getattr(model_cls, "_model_mapping", None)
    names = getattr(mapping, "_model_mapping", None)  # model_type -> class name, nothing imported
    model_type = getattr(config, "model_type", None)
    if not isinstance(names, dict) or model_type not in names or getattr(config, "auto_map", None):
        return None
    name = names[model_type]
    if not isinstance(name, str):  # several classes per type: the Auto class chooses by architecture
        return None
    try:
        return mapping._load_attr_from_module(model_type, name)
    except (AttributeError, ImportError):  # pragma: no cover - another transformers layout
        return None


def _set_submodule(model: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


@contextmanager
def _no_init_weights() -> Iterator[None]:
    try:
        from transformers.modeling_utils import no_init_weights
    except ImportError:  # pragma: no cover - a transformers without it just initialises
        yield
        return
    with no_init_weights():
        yield
