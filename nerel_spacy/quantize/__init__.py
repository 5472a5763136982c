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

The package has one module per layer: ``kernels`` (int8 arithmetic and CPU checks),
``hf_model`` (Hugging Face models rebuilt with those kernels), ``shim`` (the thinc shim
and its bytes), ``architectures`` (the registered builders) and ``pipeline`` (the
pipeline rewrite). Importing the package registers the architectures.
"""
from .architectures import build_int8_tok2vec_transformer, build_int8_transformer_model
from .hf_model import INT8_SUFFIX, SCALE_SUFFIX, build_int8_transformer, quantize_state_dict
from .kernels import (
    COMPUTE_CHOICES,
    DEFAULT_FLOAT_LAYERS,
    FFN_DOWN_PROJECTIONS,
    QUANTIZED_ENGINE_PREFERENCE,
    DynamicInt8Linear,
    Int8Embedding,
    PackedBf16Linear,
    dequantize_rows,
    quantize_rows,
    resolve_compute,
    resolve_float_layers,
)
from .pipeline import (
    INT8_ARCHITECTURES,
    AlreadyQuantizedError,
    NothingToQuantizeError,
    QuantizationReport,
    find_transformer_shims,
    int8_config,
    quantize_pipeline,
)
from .shim import INT8_FORMAT, EncoderReport, Int8HFShim

__all__ = [
    "COMPUTE_CHOICES",
    "DEFAULT_FLOAT_LAYERS",
    "FFN_DOWN_PROJECTIONS",
    "INT8_ARCHITECTURES",
    "INT8_FORMAT",
    "INT8_SUFFIX",
    "QUANTIZED_ENGINE_PREFERENCE",
    "SCALE_SUFFIX",
    "AlreadyQuantizedError",
    "DynamicInt8Linear",
    "EncoderReport",
    "Int8Embedding",
    "Int8HFShim",
    "NothingToQuantizeError",
    "PackedBf16Linear",
    "QuantizationReport",
    "build_int8_tok2vec_transformer",
    "build_int8_transformer",
    "build_int8_transformer_model",
    "dequantize_rows",
    "find_transformer_shims",
    "int8_config",
    "quantize_pipeline",
    "quantize_rows",
    "quantize_state_dict",
    "resolve_compute",
    "resolve_float_layers",
]
