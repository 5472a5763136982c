"""Turn a trained transformer pipeline into one that runs without torch (``nerel-batch export-onnx``).

The ``transformer`` component becomes ``nerel_onnx_encoder``: its Hugging Face model
exported to ONNX (opset 17), by default with int8 weights from ONNX Runtime's
``quantize_dynamic`` (per output channel), and its fast tokenizer's ``tokenizer.json``.
``nerel_joint`` keeps every head weight and its settings; only its encoder input changes,
from the spacy-transformers listener to ``nerel.DocTensor.v1``. This module needs torch
(to export); the pipeline it writes does not.
"""
import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

from packaging.requirements import Requirement
from spacy.language import Language
from spacy.util import load_model_from_config
from thinc.api import Config, Model

from ..models.static_residual import STATIC_VECTORS, WRAPPED
from ..torch_stack import is_torch_stack_distribution
from .onnx_encoder import OnnxEncoder

SOURCE_COMPONENT = "transformer"
ENCODER_COMPONENT = "encoder"
JOINT_COMPONENT = "nerel_joint"
STATIC_VECTORS_ARCHITECTURE = "nerel.WithStaticVectors.v1"
FLOAT_ARCHITECTURES = ("nerel.TransformerModel.v1", "spacy-transformers.TransformerModel.v3",
                       "spacy-transformers.TransformerModel.v2", "spacy-transformers.TransformerModel.v1")


class ExportError(ValueError):
    """The pipeline cannot be exported (what is wrong and what to do is in the message)."""


@dataclass
class ExportReport:
    int8: bool
    window: int
    stride: int
    max_length: int
    graph_bytes: int
    seconds: float


def export_onnx_pipeline(nlp: Language, *, int8: bool = True, threads: int = 0) -> "tuple[Language, ExportReport]":
    """A copy of ``nlp`` whose encoder is an ONNX graph: ``(pipeline, report)``."""
    start = time.perf_counter()
    config = nlp.config
    _check_exportable(nlp, config)
    transformer = nlp.get_pipe(SOURCE_COMPONENT).model
    spans = config["components"][SOURCE_COMPONENT]["model"]["get_spans"]
    window, stride = int(spans["window"]), int(spans["stride"])
    tokenizer = transformer.tokenizer
    max_length = int(min(tokenizer.model_max_length, 10**6))
    graph = export_encoder_graph(transformer.transformer, int8=int8)

    new_config = _runtime_config(config, window, stride, max_length, threads)
    runtime = load_model_from_config(new_config, vocab=nlp.vocab, auto_fill=True, validate=True)
    encoder: OnnxEncoder = runtime.get_pipe(ENCODER_COMPONENT)
    encoder.load(graph, tokenizer.backend_tokenizer.to_str())
    source_joint, joint = nlp.get_pipe(JOINT_COMPONENT), runtime.get_pipe(JOINT_COMPONENT)
    joint.from_bytes(source_joint.to_bytes(exclude=["model", "vocab"]), exclude=["model", "vocab"])
    copy_weights_outside_encoder(source_joint.model, joint.model)
    runtime.meta.update(copy.deepcopy(nlp.meta))
    runtime.meta["requirements"] = runtime_requirements(nlp.meta.get("requirements", []))
    runtime.meta["onnx"] = {"int8": int8, "window": window, "stride": stride, "max_length": max_length,
                            "exported_from": nlp.meta.get("name", "")}
    report = ExportReport(int8=int8, window=window, stride=stride, max_length=max_length,
                          graph_bytes=len(graph), seconds=time.perf_counter() - start)
    return runtime, report


RUNTIME_REQUIREMENTS = ["onnxruntime>=1.17", "tokenizers>=0.15"]


def runtime_requirements(requirements: List[str]) -> List[str]:
    """The source pipeline's package requirements without the torch stack, plus the runtime's.

    nerel-spacy stays, without its extras: its ``transformers`` extra is the torch stack.
    """
    kept = []
    for requirement in requirements:
        parsed = Requirement(requirement)
        if is_torch_stack_distribution(parsed.name):
            continue
        if parsed.name.lower() == "nerel-spacy" and parsed.extras:
            parsed.extras = set()
            requirement = str(parsed)
        kept.append(requirement)
    return kept + [r for r in RUNTIME_REQUIREMENTS if r not in kept]


def _check_exportable(nlp: Language, config: Config) -> None:
    if "onnx" in nlp.meta:
        raise ExportError("this pipeline is already an ONNX export; export its source pipeline again instead")
    if SOURCE_COMPONENT not in nlp.pipe_names or JOINT_COMPONENT not in nlp.pipe_names:
        raise ExportError(
            f"need a '{SOURCE_COMPONENT}' component and '{JOINT_COMPONENT}' after it (configs/joint_trf*.cfg); "
            f"this pipeline has {nlp.pipe_names}"
        )
    architecture = config["components"][SOURCE_COMPONENT]["model"].get("@architectures", "")
    if architecture not in FLOAT_ARCHITECTURES:
        raise ExportError(
            f"the transformer is {architecture}; export the float32 pipeline it was made from "
            "(model-best, or model-trimmed after trim-vocab), not an int8 copy: --int8 quantizes the graph itself"
        )
    spans = config["components"][SOURCE_COMPONENT]["model"]["get_spans"]
    if spans.get("@span_getters") != "spacy-transformers.strided_spans.v1":
        raise ExportError(f"only strided_spans.v1 windows can be exported, not {spans.get('@span_getters')}")
    tok2vec = _listener_block(config["components"][JOINT_COMPONENT]["model"])
    pooling = tok2vec.get("pooling", {}).get("@layers")
    if tok2vec.get("@architectures") != "spacy-transformers.TransformerListener.v1" or pooling != "reduce_mean.v1":
        raise ExportError("nerel_joint must read the transformer through TransformerListener.v1 with reduce_mean.v1"
                          f" (inside {STATIC_VECTORS_ARCHITECTURE} or alone)")
    if not getattr(nlp.get_pipe(SOURCE_COMPONENT).model.tokenizer, "is_fast", False):
        raise ExportError("the transformer's tokenizer is not a fast (Rust) tokenizer, so it has no tokenizer.json")


def export_encoder_graph(hf_model, *, int8: bool = True, opset: int = 17) -> bytes:
    """The Hugging Face encoder as ONNX bytes: ``(input_ids, attention_mask) → last_hidden_state``."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    axes = {0: "batch", 1: "length"}
    dummy = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    with tempfile.TemporaryDirectory() as folder:
        fp32_path, int8_path = Path(folder) / "encoder.onnx", Path(folder) / "encoder.int8.onnx"
        # eval(): no dropout in the graph; export restores the wrapper's mode afterwards.
        with torch.no_grad():
            torch.onnx.export(LastHiddenState(hf_model).eval(), dummy, str(fp32_path),
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                              opset_version=opset, dynamo=False,
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
        if not int8:
            return fp32_path.read_bytes()
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
        return int8_path.read_bytes()


def _runtime_config(config: Config, window: int, stride: int, max_length: int, threads: int) -> Config:
    """The source config with the encoder component and the heads' input replaced."""
    new = Config(copy.deepcopy(dict(config.interpolate())))
    pipeline: List[str] = list(new["nlp"]["pipeline"])
    pipeline[pipeline.index(SOURCE_COMPONENT)] = ENCODER_COMPONENT
    new["nlp"]["pipeline"] = pipeline
    components = new["components"]
    del components[SOURCE_COMPONENT]
    components[ENCODER_COMPONENT] = {"factory": "nerel_onnx_encoder", "window": window, "stride": stride,
                                     "max_length": max_length, "threads": threads, "batch_windows": 8}
    joint_model = components[JOINT_COMPONENT]["model"]
    if joint_model["tok2vec"].get("@architectures") == STATIC_VECTORS_ARCHITECTURE:
        joint_model["tok2vec"]["tok2vec"] = {"@architectures": "nerel.DocTensor.v1"}  # the vectors stay
    else:
        joint_model["tok2vec"] = {"@architectures": "nerel.DocTensor.v1"}
    training = new.get("training", {})
    for key in ("frozen_components", "annotating_components"):
        if key in training:
            training[key] = [name for name in training[key] if name != SOURCE_COMPONENT]
    new.get("initialize", {}).get("components", {}).pop(SOURCE_COMPONENT, None)
    return new


def copy_weights_outside_encoder(source: Model, target: Model) -> None:
    """Every dim and parameter of ``source`` outside its ``tok2vec`` ref, into ``target``'s
    matching node (the same tree apart from the encoder)."""
    source_nodes = _nodes_outside_encoder(source)
    target_nodes = _nodes_outside_encoder(target)
    if [n.name for n in source_nodes] != [n.name for n in target_nodes]:
        raise ExportError("nerel_joint's heads differ between the source and the exported config")
    for old, new in zip(source_nodes, target_nodes):
        for dim in old.dim_names:
            if old.has_dim(dim):
                new.set_dim(dim, old.get_dim(dim), force=True)
        for name in old.param_names:
            if old.has_param(name):
                new.set_param(name, old.ops.to_numpy(old.get_param(name)).copy())
        new.attrs.update({key: value for key, value in old.attrs.items() if key not in new.attrs})


def _nodes_outside_encoder(model: Model) -> List[Model]:
    """The heads' nodes; with static vectors (``nerel.WithStaticVectors.v1``), their projection too."""
    encoder = model.get_ref("tok2vec")
    if encoder.has_ref(STATIC_VECTORS):  # the wrapper and its projection are copied, the listener is not
        encoder = encoder.get_ref(WRAPPED)
    inside = {id(node) for node in encoder.walk()}
    return [node for node in model.walk() if id(node) not in inside]


def _listener_block(joint_model: Dict[str, Any]) -> Dict[str, Any]:
    """The config block of the layer nerel_joint reads the transformer through, inside static vectors or not."""
    tok2vec = joint_model["tok2vec"]
    if tok2vec.get("@architectures") == STATIC_VECTORS_ARCHITECTURE:
        return tok2vec["tok2vec"]
    return tok2vec
