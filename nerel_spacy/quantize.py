"""Int8 pipelines for CPU: the transformer encoder's weights stored as int8.

``quantize_pipeline(nlp)`` returns a new pipeline whose transformer encoders (a
``transformer`` component, or a transformer inline in another component) keep every
``torch.nn.Linear`` weight as symmetric per-output-channel int8 and the word-embedding
matrix as per-row int8, each with a float32 scale. Its config names
``nerel.Int8TransformerModel.v1`` (or ``nerel.Int8Tok2VecTransformer.v1``), so
``nlp.to_disk`` and ``spacy.load`` rebuild it like any other pipeline: the shim saves
plain tensors with safetensors inside spaCy's msgpack (no pickle, no ``torch.load``)
and, on load, builds the Hugging Face model from its config without initialising or
downloading weights, puts the int8 tensors in place and packs them for the kernels.
Nothing is re-quantized at start-up.

How the int8 weights are multiplied is a load-time choice, ``compute`` in the config:

* ``"int8"``: dynamic int8 matmuls with torch's quantized CPU kernels (activations
  quantized per tensor on the fly). Linear layers matching ``float_layers`` expand their
  int8 weights to float32 once and run in float32; ``"auto"`` keeps the feed-forward
  down-projections float only on CPUs without VNNI, where activations get 7 bits.
* ``"bf16"``: the int8 weights are expanded to bfloat16 once, packed for oneDNN with the
  bias and the FFN's GELU fused into the matmul, and the whole encoder runs in bfloat16.
  CPUs with AMX or AVX512-BF16 run this much faster than the int8 kernels, and it loses
  less accuracy; elsewhere bfloat16 is emulated and slow.
* ``"auto"``: ``"bf16"`` where the CPU has AMX or AVX512-BF16, else ``"int8"``.

The thinc heads of ``nerel_joint`` stay float32: they are ~60k weights (384 × 59 BIO
tags, 768 × 49 relation types; 0.2 MB) and, with the Viterbi decoding, take about 1%
of the pipeline's time, so int8 there would save nothing measurable and add error.
"""
import json
import re
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import srsly
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from spacy.language import Language
from spacy.util import load_model_from_config, registry
from spacy_transformers.data_classes import HFObjects
from spacy_transformers.layers import TransformerModel
from spacy_transformers.layers.hf_shim import HFShim
from spacy_transformers.layers.transformer_model import set_pytorch_transformer
from thinc.api import Model
from thinc.types import ArgsKwargs, Floats2d, Ragged
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel
from transformers.activations import GELUActivation

from .models.encoders import transformer_to_token_vectors

INT8_FORMAT = "nerel.int8.v1"
COMPUTE_CHOICES = ("auto", "int8", "bf16")
# BERT/XLM-R feed-forward down-projections (not attention.output.dense): their inputs
# carry GELU outliers. With 7-bit activations, all-int8 e5-small lost 0.033 dev NER F1;
# keeping these float cut the loss to 0.006.
FFN_DOWN_PROJECTIONS = "encoder[.]layer[.][0-9]+[.]output[.]dense$"
# "auto": every Linear is int8 where activations get all 8 bits (VNNI or oneDNN), the
# FFN down-projections stay float where they get 7 (fbgemm without VNNI).
DEFAULT_FLOAT_LAYERS = "auto"
# The quantized engine that packs int8 weights: x86 (fbgemm here) measured 4% faster
# than onednn on this project's benchmark machine, with the same accuracy.
QUANTIZED_ENGINE_PREFERENCE = ("x86", "fbgemm", "onednn")
INT8_SUFFIX = ".weight_int8"
SCALE_SUFFIX = ".weight_scale"

# fp32 architecture -> (int8 architecture, training-only settings it drops)
INT8_ARCHITECTURES: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "nerel.TransformerModel.v1": ("nerel.Int8TransformerModel.v1", ("freeze_embeddings",)),
    "nerel.Tok2VecTransformer.v1": ("nerel.Int8Tok2VecTransformer.v1", ("freeze_embeddings",)),
}
for _version in ("v1", "v2", "v3"):
    _dropped = ("mixed_precision", "grad_scaler_config")
    INT8_ARCHITECTURES[f"spacy-transformers.TransformerModel.{_version}"] = (
        "nerel.Int8TransformerModel.v1", _dropped
    )
    INT8_ARCHITECTURES[f"spacy-transformers.Tok2VecTransformer.{_version}"] = (
        "nerel.Int8Tok2VecTransformer.v1", _dropped
    )


class NothingToQuantizeError(ValueError):
    """The pipeline has no transformer encoder, so there is nothing to make int8."""


class AlreadyQuantizedError(ValueError):
    """The pipeline's encoders are int8 already."""


@dataclass
class EncoderReport:
    """What was quantized in one transformer encoder."""

    component: str
    architecture: str
    linear_layers: int = 0
    embedding_rows: int = 0
    int8_params: int = 0
    float_params: int = 0
    fp32_bytes: int = 0
    stored_bytes: int = 0


@dataclass
class QuantizationReport:
    """Per-encoder counts and sizes, the compute mode the copy runs with, and the time taken."""

    encoders: List[EncoderReport] = field(default_factory=list)
    compute: str = "auto"
    resolved_compute: str = "int8"
    float_layers: str = DEFAULT_FLOAT_LAYERS
    seconds: float = 0.0


# ---- tensors ------------------------------------------------------------------------


def quantize_rows(weight: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per row (output channel or embedding row): ``weight ≈ q * scale[:, None]``."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(weight / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.contiguous(), scale.contiguous()


def dequantize_rows(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The float tensor that ``quantize_rows`` stands for, in ``dtype``."""
    return (q.float() * scale.float()[:, None]).to(dtype)


def resolve_compute(compute: str) -> str:
    """``"int8"`` or ``"bf16"`` for a ``compute`` setting; ``"auto"`` asks the CPU."""
    if compute not in COMPUTE_CHOICES:
        raise ValueError(
            f"compute must be one of {COMPUTE_CHOICES}, not {compute!r}. Set it in the "
            "[components.*.model] block of the int8 pipeline's config.cfg."
        )
    if compute != "auto":
        return compute
    return "bf16" if cpu_has_fast_bf16() else "int8"


def resolve_float_layers(float_layers: str) -> str:
    """The regular expression for a ``float_layers`` setting; ``"auto"`` asks the CPU."""
    if float_layers != "auto":
        return float_layers
    with _quantized_engine() as engine:
        return FFN_DOWN_PROJECTIONS if _reduced_range(engine) else ""


def _reduced_range(engine: str) -> bool:
    """Without VNNI, fbgemm's 16-bit accumulation can saturate on 8-bit activations, so
    it needs 7-bit ones (``reduce_range``); oneDNN and VNNI take all 8 bits."""
    return engine != "onednn" and not _cpu_has_vnni()


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX tiles or AVX512-BF16)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # pragma: no cover - older torch
        return False


def _cpu_has_vnni() -> bool:
    try:
        return bool(torch.cpu._is_vnni_supported())
    except AttributeError:  # pragma: no cover - older torch
        return False


@contextmanager
def _quantized_engine() -> Iterator[str]:
    """Pack weights with the preferred quantized engine, then restore the process's choice."""
    supported = torch.backends.quantized.supported_engines
    engine = next((e for e in QUANTIZED_ENGINE_PREFERENCE if e in supported), None)
    if engine is None:
        raise RuntimeError(
            f"this torch build has no x86 quantized engine ({supported}); load the int8 "
            "pipeline with compute = \"bf16\" instead."
        )
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield engine
    finally:
        torch.backends.quantized.engine = previous


class DynamicInt8Linear(torch.nn.Module):
    """A Linear layer on packed int8 weights; activations are quantized per call."""

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: Optional[torch.Tensor]) -> None:
        super().__init__()
        self.out_features, self.in_features = q.shape
        with _quantized_engine() as engine, warnings.catch_warnings():
            # torch 2.13 flags quantized-tensor creation as deprecated; the packed
            # weights below are what its int8 kernels still take.
            warnings.filterwarnings("ignore", message=".*quantized tensor creation.*")
            qweight = torch._make_per_channel_quantized_tensor(
                q, scale.double(), torch.zeros(len(scale), dtype=torch.long), 0
            )
            self._packed = torch.ops.quantized.linear_prepack(
                qweight, None if bias is None else bias.detach().float()
            )
        self.reduce_range = _reduced_range(engine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self._packed, self.reduce_range)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class PackedBf16Linear(torch.nn.Module):
    """A bfloat16 Linear on oneDNN-packed weights with the bias (and a GELU) fused in.

    Plain ``F.linear`` in bf16 spends as long adding the bias, and the GELU after it,
    as multiplying: on 2 cores this module ran the FFN up-projection + GELU 3× faster.
    """

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor], gelu: bool = False) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.to(torch.bfloat16).contiguous(), None)
        self.register_buffer("packed_weight", packed, persistent=False)
        self.register_buffer(
            "bias", None if bias is None else bias.detach().to(torch.bfloat16), persistent=False
        )
        self.gelu = gelu

    @staticmethod
    def available() -> bool:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attr, algorithm = ("gelu", "none") if self.gelu else ("none", "")
        return torch.ops.mkldnn._linear_pointwise(
            x.contiguous(), self.packed_weight, self.bias, attr, [], algorithm
        )

    def extra_repr(self) -> str:
        gelu = ", gelu fused" if self.gelu else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, bf16{gelu}"


class Int8Embedding(torch.nn.Module):
    """An embedding table stored as int8 rows; only the looked-up rows are expanded."""

    def __init__(
        self, q: torch.Tensor, scale: torch.Tensor, padding_idx: Optional[int], dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = q.shape
        self.padding_idx = padding_idx
        self.dtype = dtype
        # Not persistent: the shim saves the int8 tensors itself.
        self.register_buffer("weight_int8", q, persistent=False)
        self.register_buffer("weight_scale", scale.float(), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.weight_int8[ids].float() * self.weight_scale[ids].float().unsqueeze(-1)
        return rows.to(self.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8"


# ---- Hugging Face models ------------------------------------------------------------


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
    with _no_init_weights():  # the weights come from ``stored``: skip the random init
        model = model_cls.from_config(config)
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


# ---- the thinc shim -----------------------------------------------------------------


class Int8HFShim(HFShim):
    """An ``HFShim`` for an int8 encoder: saves int8 tensors with safetensors, inference only.

    ``from_bytes`` reads both its own format and a float32 ``HFShim``'s (which it
    quantizes): the latter is how ``quantize_pipeline`` converts a trained pipeline.
    """

    def __init__(
        self,
        model: HFObjects,
        compute: str = "auto",
        float_layers: str = DEFAULT_FLOAT_LAYERS,
        **kwargs: Any,
    ) -> None:
        resolve_compute(compute)  # a bad setting fails when the config is read
        super().__init__(model, **kwargs)
        self.compute = compute
        self.float_layers = float_layers
        self._stored: Optional[Dict[str, torch.Tensor]] = None
        self._layout: Dict[str, List[str]] = {"linear": [], "embeddings": []}

    @property
    def resolved_compute(self) -> str:
        return resolve_compute(self.compute)

    def set_quantized(self, hf_model: HFObjects) -> None:
        """Quantize a float32 ``HFObjects`` (e.g. from ``initialize``) and hold the int8 copy."""
        transformer = hf_model.transformer
        stored, layout = quantize_state_dict(transformer, transformer.state_dict())
        self._install(transformer.config, hf_model.tokenizer, hf_model.vocab_file_contents, stored, layout)

    def _install(
        self,
        config: Any,
        tokenizer: Any,
        vocab_file_contents: Optional[bytes],
        stored: Dict[str, torch.Tensor],
        layout: Dict[str, List[str]],
    ) -> None:
        transformer = build_int8_transformer(
            config, stored, layout, self.compute, self.float_layers, self.model_cls
        )
        self._stored, self._layout = stored, layout
        self._hfmodel = HFObjects(
            tokenizer,
            transformer,
            vocab_file_contents,
            self._hfmodel._init_tokenizer_config,
            self._hfmodel._init_transformer_config,
        )
        self._model = transformer

    def report(self, component: str, architecture: str) -> EncoderReport:
        """Counts and sizes of what this shim holds as int8."""
        result = EncoderReport(component, architecture, linear_layers=len(self._layout["linear"]))
        for key, tensor in (self._stored or {}).items():
            result.stored_bytes += tensor.numel() * tensor.element_size()
            if key.endswith(INT8_SUFFIX):
                result.int8_params += tensor.numel()
                result.fp32_bytes += tensor.numel() * 4
            elif not key.endswith(SCALE_SUFFIX):
                result.float_params += tensor.numel()
                result.fp32_bytes += tensor.numel() * 4
        for name in self._layout["embeddings"]:
            result.embedding_rows += int(self._stored[name + INT8_SUFFIX].shape[0])
        return result

    # ---- running ----------------------------------------------------------------

    def predict(self, inputs: ArgsKwargs) -> Any:
        with torch.inference_mode():
            output = self._model(*inputs.args, **inputs.kwargs)
        for key, value in output.items():  # bf16 compute: hand float32 to thinc
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                output[key] = value.float()
        return output

    def begin_update(self, inputs: ArgsKwargs):
        raise ValueError(
            "This pipeline's transformer is int8 and can only predict. Train or fine-tune "
            "the float32 pipeline, then run `nerel-batch quantize` on it again."
        )

    def to_device(self, device_type: str, device_id: int) -> None:
        if device_type != "cpu":
            raise ValueError(
                "int8 pipelines run on CPU only; use the float32 pipeline on a GPU."
            )

    # ---- serialization ----------------------------------------------------------

    def to_bytes(self) -> bytes:
        if self._stored is None:  # not initialised: only the init settings to save
            return super().to_bytes()
        hf_model = self._hfmodel
        msg = {
            "config": hf_model.transformer.config.to_dict(),
            "state": save_safetensors(self._stored),
            "tokenizer": _tokenizer_to_files(hf_model.tokenizer, hf_model.vocab_file_contents),
            "quantization": {"format": INT8_FORMAT, **self._layout},
            "_init_tokenizer_config": {},
            "_init_transformer_config": {},
        }
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes) -> "Int8HFShim":
        msg = srsly.msgpack_loads(bytes_data)
        if not msg["config"]:  # an uninitialised shim: nothing to load
            return super().from_bytes(bytes_data)
        config, tokenizer, vocab_file_contents = _config_and_tokenizer(
            msg, self.config_cls, self.tokenizer_cls
        )
        quantization = msg.get("quantization")
        if quantization is None:
            # A float32 HFShim's bytes: read its state dict without unpickling code,
            # then quantize it. Only quantize_pipeline (or a hand-edited config) gets here.
            state = torch.load(BytesIO(msg["state"]), map_location="cpu", weights_only=True)
            with _no_init_weights():
                skeleton = self.model_cls.from_config(config)
            stored, layout = quantize_state_dict(skeleton, state)
            del skeleton, state
        else:
            if quantization.get("format") != INT8_FORMAT:
                raise ValueError(
                    f"int8 weights in format {quantization.get('format')!r}, but this "
                    f"nerel-spacy reads {INT8_FORMAT!r}. Install the nerel-spacy version "
                    "that wrote the pipeline, or quantize the float32 pipeline again."
                )
            stored = load_safetensors(msg["state"])
            layout = {"linear": list(quantization["linear"]), "embeddings": list(quantization["embeddings"])}
        self._install(config, tokenizer, vocab_file_contents, stored, layout)
        return self


def _tokenizer_to_files(tokenizer: Any, vocab_file_contents: Optional[bytes]) -> Dict[str, Any]:
    """The tokenizer as ``{file name: bytes}`` plus its load kwargs, as spacy-transformers stores it."""
    files: Dict[str, Any] = {"kwargs": {"use_fast": tokenizer.is_fast}}
    with tempfile.TemporaryDirectory() as tmp:
        temp_dir = Path(tmp)
        if getattr(tokenizer, "vocab_file", None) and vocab_file_contents is not None:
            # A slow tokenizer re-reads its vocab file on save: point it at a fresh copy.
            vocab_path = temp_dir / tokenizer.vocab_files_names["vocab_file"]
            vocab_path.write_bytes(vocab_file_contents)
            tokenizer.vocab_file = str(vocab_path)
        tokenizer.save_pretrained(str(temp_dir))
        for path in temp_dir.glob("**/*"):
            if path.is_file():
                files[path.name] = path.read_bytes()
    return files


def _config_and_tokenizer(
    msg: Dict[str, Any], config_cls: Any = AutoConfig, tokenizer_cls: Any = AutoTokenizer
) -> Tuple[Any, Any, Optional[bytes]]:
    """The HF config, the tokenizer and its vocab file bytes from a shim message."""
    tok_files = dict(msg["tokenizer"])
    tok_kwargs = tok_files.pop("kwargs", {})
    with tempfile.TemporaryDirectory() as tmp:
        temp_dir = Path(tmp)
        # The json module, not srsly: srsly's ujson rounds layer_norm_eps=1e-12 to 0.0.
        (temp_dir / "config.json").write_text(json.dumps(msg["config"]), encoding="utf-8")
        config = config_cls.from_pretrained(str(temp_dir / "config.json"))
        for name, data in tok_files.items():
            (temp_dir / name).write_bytes(data)
        tokenizer = tokenizer_cls.from_pretrained(str(temp_dir), **tok_kwargs)
        vocab_file_contents = None
        if getattr(tokenizer, "vocab_file", None):
            vocab_path = temp_dir / tokenizer.vocab_files_names["vocab_file"]
            if vocab_path.exists():
                vocab_file_contents = vocab_path.read_bytes()
    return config, tokenizer, vocab_file_contents


# ---- registered architectures -------------------------------------------------------


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

    def set_quantized_transformer(model: TransformerModel, hf_model: HFObjects) -> None:
        shim.set_quantized(hf_model)
        set_pytorch_transformer(model, shim._hfmodel)

    model.attrs["set_transformer"] = set_quantized_transformer
    return model


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


# ---- pipelines ----------------------------------------------------------------------


def find_transformer_shims(nlp: Language) -> List[Tuple[str, HFShim]]:
    """``(component name, shim)`` for every Hugging Face model in the pipeline's components."""
    found = []
    for name, component in nlp.components:
        model = getattr(component, "model", None)
        if not isinstance(model, Model):
            continue
        for node in model.walk():
            for shim in node.shims:
                if isinstance(shim, HFShim):
                    found.append((name, shim))
    return found


def int8_config(nlp: Language, compute: str = "auto", float_layers: str = DEFAULT_FLOAT_LAYERS):
    """The pipeline's config with each transformer architecture swapped for its int8 twin.

    Returns the new config and ``{component: [fp32 architecture, ...]}`` of what was swapped.
    """
    config = nlp.config.copy()
    swapped: Dict[str, List[str]] = {}
    for name in config["nlp"]["pipeline"]:
        block = config["components"][name]
        swapped[name] = _swap_architectures(block, compute, float_layers)
    return config, swapped


def _swap_architectures(block: Any, compute: str, float_layers: str) -> List[str]:
    swapped = []
    if not isinstance(block, dict):
        return swapped
    architecture = block.get("@architectures")
    if architecture in INT8_ARCHITECTURES:
        int8_architecture, dropped = INT8_ARCHITECTURES[architecture]
        block["@architectures"] = int8_architecture
        for key in dropped:
            block.pop(key, None)
        block["compute"] = compute
        block["float_layers"] = float_layers
        swapped.append(architecture)
        return swapped  # nothing to swap inside an encoder block
    for value in block.values():
        swapped.extend(_swap_architectures(value, compute, float_layers))
    return swapped


def quantize_pipeline(
    nlp: Language, compute: str = "auto", float_layers: str = DEFAULT_FLOAT_LAYERS
) -> Tuple[Language, QuantizationReport]:
    """A new pipeline with int8 transformer encoders, and a report of what changed.

    ``nlp`` is left as it is. The copy is built from the rewritten config, then given
    ``nlp``'s vocab, tokenizer and component bytes; the int8 shims quantize the float32
    weights as they read them.
    """
    start = time.perf_counter()
    resolve_compute(compute)
    shims = find_transformer_shims(nlp)
    if not shims:
        architectures = {
            name: nlp.get_pipe_config(name).get("model", {}).get("@architectures", "-")
            for name in nlp.component_names
        }
        raise NothingToQuantizeError(
            f"no transformer encoder to quantize in this pipeline (components: "
            f"{architectures or 'none'}). Int8 applies to spacy-transformers encoders; "
            "a CNN pipeline is small and fast as it is."
        )
    if any(isinstance(shim, Int8HFShim) for _, shim in shims):
        raise AlreadyQuantizedError(
            "this pipeline's transformer is int8 already. Quantize the float32 pipeline "
            "(e.g. training/trf/model-best), not its int8 copy."
        )
    config, swapped = int8_config(nlp, compute, float_layers)
    for name in {component for component, _ in shims}:
        held = sum(1 for component, _ in shims if component == name)
        if len(swapped.get(name, [])) != held:
            raise ValueError(
                f"component {name!r} holds {held} transformer(s) but its config names "
                f"{len(swapped.get(name, []))} architecture(s) this tool can make int8 "
                f"({', '.join(sorted(INT8_ARCHITECTURES))}). Build the encoder with one of them."
            )
    int8_nlp = load_model_from_config(config, meta=nlp.meta, auto_fill=False, validate=True)
    int8_nlp.vocab.from_bytes(nlp.vocab.to_bytes())
    int8_nlp.tokenizer.from_bytes(nlp.tokenizer.to_bytes())
    for name, component in nlp.components:
        if hasattr(component, "to_bytes"):
            int8_nlp.get_pipe(name).from_bytes(component.to_bytes(exclude=["vocab"]), exclude=["vocab"])
    report = QuantizationReport(compute=compute, resolved_compute=resolve_compute(compute),
                                float_layers=float_layers)
    for name, shim in find_transformer_shims(int8_nlp):
        report.encoders.append(shim.report(name, ", ".join(swapped[name])))
    report.seconds = time.perf_counter() - start
    int8_nlp.meta["quantization"] = {
        "format": INT8_FORMAT,
        "compute": compute,
        "float_layers": float_layers,
        "linear_layers": sum(e.linear_layers for e in report.encoders),
        "embedding_rows": sum(e.embedding_rows for e in report.encoders),
    }
    return int8_nlp, report
