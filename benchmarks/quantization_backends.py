"""The transformer forward alone: fp32 against each int8 backend, on the dev windows.

    python benchmarks/quantization_backends.py FP32_MODEL [--n-docs 30] [--reps 3]

Feeds the encoder exactly the wordpiece batches the pipeline makes for the first
``--n-docs`` dev documents (batch 16, the config's strided windows), runs the
variants in alternation ``--reps`` times and keeps each one's best time, and
compares the hidden states with fp32 (mean cosine over real wordpieces). Variants:
torch's textbook ``quantize_dynamic`` (per-tensor weights, 7-bit activations), this
project's int8 format with int8 kernels (x86 and oneDNN engines) and with bf16
compute, plus torchao and ONNX Runtime (int8 as exported, and fp32 and int8 after its
transformer graph fusions) when they are installed, and ``torch.compile`` (inductor with
weight freezing) in fp32 and under bf16 autocast. Each variant's set-up time (export,
quantization, compilation and its first run) is recorded too: it would be paid at every
load. Writes benchmarks/results/quantization_backends.json; the choices in
nerel_spacy.quantize.kernels follow these numbers.
"""
import argparse
import copy
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import spacy
import torch
from spacy_transformers.layers.transformer_model import huggingface_tokenize

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.quantize import build_int8_transformer, kernels, quantize_state_dict

ROOT = Path(__file__).resolve().parents[1]
Batches = List[Tuple[torch.Tensor, torch.Tensor]]


def dev_batches(nlp, data: Path, n_docs: int, batch_size: int = 16) -> Batches:
    """The (input_ids, attention_mask) batches the transformer component would run."""
    model = nlp.get_pipe("transformer").model
    docs = [nlp.make_doc(doc.text) for doc in read_corpus(data, nlp.vocab)[:n_docs]]
    batches = []
    for start in range(0, len(docs), batch_size):
        spans = [s for doc_spans in model.attrs["get_spans"](docs[start:start + batch_size]) for s in doc_spans]
        encoding = huggingface_tokenize(model.tokenizer, [span.text for span in spans])
        batches.append((torch.tensor(encoding["input_ids"]), torch.tensor(encoding["attention_mask"])))
    return batches


def variants(hf: torch.nn.Module) -> Dict[str, Callable[[], torch.nn.Module]]:
    """Builders of each encoder variant, by name."""
    stored, layout = quantize_state_dict(hf, hf.state_dict())

    def ours(compute: str, engine: str) -> Callable[[], torch.nn.Module]:
        def build() -> torch.nn.Module:
            kernels.QUANTIZED_ENGINE_PREFERENCE = (engine,)  # read when the weights are packed
            return build_int8_transformer(hf.config, stored, layout, compute, "")
        return build

    def textbook() -> torch.nn.Module:
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(hf), {torch.nn.Linear}, dtype=torch.qint8)

    built = {
        "fp32": lambda: hf,
        "torch.ao quantize_dynamic (per-tensor, 7-bit act.)": textbook,
        "nerel int8, int8 kernels (x86/fbgemm)": ours("int8", "x86"),
        "nerel int8, int8 kernels (onednn)": ours("int8", "onednn"),
        "nerel int8, bf16 compute": ours("bf16", "x86"),
    }
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

        def torchao_int8() -> torch.nn.Module:
            model = copy.deepcopy(hf)
            quantize_(model, Int8DynamicActivationInt8WeightConfig())
            return model

        built["torchao Int8DynamicActivationInt8Weight (eager)"] = torchao_int8
    except ImportError:
        pass
    return built


class OrtEncoder:
    """The encoder run by ONNX Runtime, called like the HF model: int8 by ``quantize_dynamic``
    (per-channel weights) and/or the transformer fusions of ``onnxruntime.transformers``
    (embedding + LayerNorm, attention, bias + GELU, skip + LayerNorm)."""

    def __init__(self, hf: torch.nn.Module, threads: int, folder: Path, int8: bool = True, fuse: bool = False) -> None:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        class Wrapped(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        folder.mkdir(parents=True, exist_ok=True)
        fp32_path, fused_path, int8_path = folder / "encoder.onnx", folder / "encoder.fused.onnx", folder / "int8.onnx"
        dummy = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
        axes = {0: "batch", 1: "length"}
        # eval(): export restores the wrapper's mode afterwards, and a wrapper left in
        # training mode would switch the shared HF model's dropout on.
        torch.onnx.export(Wrapped(hf).eval(), dummy, str(fp32_path), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
        path = fp32_path
        if fuse:
            from onnxruntime.transformers import optimizer

            fused = optimizer.optimize_model(str(fp32_path), model_type="bert", num_heads=hf.config.num_attention_heads,
                                             hidden_size=hf.config.hidden_size)
            self.fusions = {op: n for op, n in fused.get_fused_operator_statistics().items() if n}
            fused.save_model_to_file(str(fused_path))
            path = fused_path
        if int8:
            # fused graphs hold contrib ops that shape inference cannot type: say they are float
            quantize_dynamic(str(path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": 1})
            path = int8_path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids, attention_mask):
        (hidden,) = self.session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
        return torch.from_numpy(hidden)


class CompiledEncoder:
    """``torch.compile`` (inductor, weights frozen as constants) of the fp32 encoder, run in
    fp32 or under bf16 autocast. The project's packed bf16 linear layers cannot be lowered by
    inductor, so autocast over the fp32 model is the compiled bf16 path."""

    def __init__(self, hf: torch.nn.Module, bf16: bool) -> None:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
        self.model = torch.compile(copy.deepcopy(hf).eval(), dynamic=True)
        self.bf16 = bf16

    def __call__(self, input_ids, attention_mask):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()


def run(model, batches: Batches) -> List[torch.Tensor]:
    with torch.inference_mode():
        if isinstance(model, (OrtEncoder, CompiledEncoder)):
            return [model(ids, mask) for ids, mask in batches]
        return [model(input_ids=ids, attention_mask=mask).last_hidden_state.float() for ids, mask in batches]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32", nargs="?", default=str(ROOT / "training/joint_trf/model-best"))
    parser.add_argument("--data", default=str(ROOT / "corpus/dev.spacy"))
    parser.add_argument("--n-docs", type=int, default=30)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/quantization_backends.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*quantized tensor creation.*")
    torch.set_num_threads(args.threads)
    nlp = spacy.load(args.fp32)
    hf = nlp.get_pipe("transformer").model.transformer.eval()
    batches = dev_batches(nlp, Path(args.data), args.n_docs)
    builders = dict(variants(hf))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            import onnxruntime  # noqa: F401

            ort_variants = {"onnxruntime int8 (quantize_dynamic, per-channel)": (True, False),
                            "onnxruntime fp32, transformer fusions": (False, True),
                            "onnxruntime int8, transformer fusions + quantize_dynamic": (True, True)}
            for i, (name, (int8, fuse)) in enumerate(ort_variants.items()):
                builders[name] = (lambda i, int8, fuse: lambda: OrtEncoder(
                    hf, args.threads, Path(tmp) / str(i), int8=int8, fuse=fuse))(i, int8, fuse)
        except ImportError:
            pass
        builders["torch.compile fp32 (inductor, freezing)"] = lambda: CompiledEncoder(hf, bf16=False)
        builders["torch.compile bf16 autocast (inductor, freezing)"] = lambda: CompiledEncoder(hf, bf16=True)
        hf.eval()
        reference = run(hf, batches)
        models, results = {}, {}
        for name, build in builders.items():
            start = time.perf_counter()
            try:
                models[name] = build()
                outputs = run(models[name], batches)  # also the warm-up
            except Exception as err:  # a backend this CPU or version cannot run is reported, not fatal
                models.pop(name, None)
                results[name] = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
                print(f"{name:52s} failed: {results[name]['error']}")
                continue
            setup = time.perf_counter() - start
            cosine = [torch.nn.functional.cosine_similarity(ref[mask.bool()], out[mask.bool()]).mean()
                      for (_, mask), ref, out in zip(batches, reference, outputs)]
            results[name] = {"mean_cosine_to_fp32": float(min(cosine)), "setup_and_first_run_seconds": setup,
                             "seconds": []}
            if getattr(models[name], "fusions", None):
                results[name]["fusions"] = models[name].fusions
        for _ in range(args.reps):
            for name, model in models.items():
                start = time.perf_counter()
                run(model, batches)
                results[name]["seconds"].append(time.perf_counter() - start)
    base = min(results["fp32"]["seconds"])
    for name, result in results.items():
        if "error" in result:
            continue
        result["best_seconds"] = min(result["seconds"])
        result["speedup"] = base / result["best_seconds"]
        print(f"{name:52s} {result['best_seconds']:6.2f}s  {result['speedup']:4.2f}x  "
              f"cos {result['mean_cosine_to_fp32']:.5f}")
    report = {
        "model": args.fp32,
        "docs": args.n_docs,
        "batches": [list(ids.shape) for ids, _ in batches],
        "wordpieces": int(sum(int(mask.sum()) for _, mask in batches)),
        "padded_wordpieces": int(sum(ids.numel() for ids, _ in batches)),
        "machine": describe_machine(args.threads),
        "variants": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
