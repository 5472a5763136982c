"""``quantize_pipeline``: a trained float32 pipeline rewritten with int8 encoders.

The config's transformer architectures are swapped for their int8 twins (registered in
``architectures``), and the copy reads the float32 component bytes, which its
``Int8HFShim`` quantizes as it loads them.
"""
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from spacy.language import Language
from spacy.util import load_model_from_config
from spacy_transformers.layers.hf_shim import HFShim
from thinc.api import Model

from ..package_meta import set_aside_performance
from .kernels import DEFAULT_FLOAT_LAYERS, resolve_compute
from .shim import INT8_FORMAT, EncoderReport, Int8HFShim

# fp32 architecture -> (int8 architecture, training-only settings it drops)
INT8_ARCHITECTURES: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "nerel.TransformerModel.v1": (
        "nerel.Int8TransformerModel.v1", ("freeze_embeddings", "train_precision")
    ),
    "nerel.Tok2VecTransformer.v1": (
        "nerel.Int8Tok2VecTransformer.v1", ("freeze_embeddings", "train_precision")
    ),
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
class QuantizationReport:
    """Per-encoder counts and sizes, the compute mode the copy runs with, and the time taken."""

    encoders: List[EncoderReport] = field(default_factory=list)
    compute: str = "auto"
    resolved_compute: str = "int8"
    float_layers: str = DEFAULT_FLOAT_LAYERS
    seconds: float = 0.0


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


def float32_transformer_shims(nlp: Language, no_transformer: str, is_int8: str) -> List[Tuple[str, HFShim]]:
    """``find_transformer_shims`` of a float32 pipeline; a ValueError with the given reasons
    when there is no transformer or it is already int8 (what ``trim-vocab`` and ``distill`` need)."""
    from .shim import Int8HFShim

    shims = find_transformer_shims(nlp)
    if not shims:
        raise ValueError(no_transformer)
    if any(isinstance(shim, Int8HFShim) for _, shim in shims):
        raise ValueError(is_int8)
    return shims


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
    weights as they read them. ``nlp``'s training scores are kept in the copy's meta as
    ``source_performance``, not as its ``performance`` (the int8 copy was not scored).
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
            "(e.g. training/joint_trf/model-best), not its int8 copy."
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
    set_aside_performance(int8_nlp.meta)
    int8_nlp.meta["quantization"] = {
        "format": INT8_FORMAT,
        "compute": compute,
        "float_layers": float_layers,
        "linear_layers": sum(e.linear_layers for e in report.encoders),
        "embedding_rows": sum(e.embedding_rows for e in report.encoders),
    }
    return int8_nlp, report
