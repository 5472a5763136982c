"""The int8 arithmetic: row quantization, the torch modules that multiply int8 weights,
and the choice between int8 kernels and bfloat16 (``machine.cpu_has_fast_bf16``).

Pure torch, no Hugging Face or spaCy: ``hf_model`` puts these modules into an encoder.
"""
import warnings
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import torch

from .. import machine

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
    return "bf16" if machine.cpu_has_fast_bf16() else "int8"


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
        """oneDNN's packed linear, on a CPU whose oneDNN has bf16 kernels: packing fails on
        one with AVX2 only ("bf16 path needs ... avx512bw, avx512vl and avx512dq"), where
        the plain bfloat16 layers are used instead."""
        if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
            return False
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # pragma: no cover - older torch
            return False

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
