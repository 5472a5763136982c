"""``Int8HFShim``: spacy-transformers' ``HFShim`` holding an int8 encoder, and its bytes.

The bytes are spaCy's msgpack with the int8 tensors saved by safetensors (no pickle),
the Hugging Face config and the tokenizer files; loading rebuilds the model from them
without downloading or initialising weights, and without quantizing again.
"""
import json
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import srsly
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from spacy_transformers.data_classes import HFObjects
from spacy_transformers.layers.hf_shim import HFShim
from thinc.types import ArgsKwargs
from transformers import AutoConfig, AutoTokenizer

from .hf_model import (
    INT8_SUFFIX,
    SCALE_SUFFIX,
    build_int8_transformer,
    model_skeleton,
    quantize_state_dict,
)
from .kernels import DEFAULT_FLOAT_LAYERS, resolve_compute

INT8_FORMAT = "nerel.int8.v1"


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
            skeleton = model_skeleton(config, self.model_cls)
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
