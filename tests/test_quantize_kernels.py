"""The int8 arithmetic of ``nerel_spacy.quantize.kernels``, on small random tensors."""
import pytest
import torch

from nerel_spacy.quantize.kernels import (
    FFN_DOWN_PROJECTIONS,
    DynamicInt8Linear,
    Int8Embedding,
    PackedBf16Linear,
    dequantize_rows,
    quantize_rows,
    resolve_compute,
    resolve_float_layers,
)


def test_quantize_rows_is_symmetric_per_row_and_exact_to_half_a_step():
    weight = torch.randn(5, 7)
    weight[2] = 0.0
    q, scale = quantize_rows(weight)
    assert q.dtype == torch.int8 and scale.shape == (5,)
    assert int(q.abs().max()) == 127 and torch.all(q[2] == 0)
    error = (dequantize_rows(q, scale, torch.float32) - weight).abs()
    assert torch.all(error <= scale[:, None] / 2 + 1e-7)


def test_compute_setting_is_checked():
    assert resolve_compute("int8") == "int8" and resolve_compute("bf16") == "bf16"
    with pytest.raises(ValueError, match="compute must be one of"):
        resolve_compute("fast")


@pytest.mark.parametrize("fast, expected", [(True, "bf16"), (False, "int8")])
def test_compute_auto_takes_bf16_only_where_the_cpu_multiplies_it(monkeypatch, fast, expected):
    import nerel_spacy.machine as machine

    monkeypatch.setattr(machine, "cpu_has_fast_bf16", lambda: fast)
    assert resolve_compute("auto") == expected


def test_float_layers_auto_asks_the_cpu_and_explicit_settings_pass_through():
    assert resolve_float_layers("auto") in (FFN_DOWN_PROJECTIONS, "")
    assert resolve_float_layers("") == ""
    assert resolve_float_layers("attention") == "attention"


def test_dynamic_int8_linear_matches_float_and_restores_the_quantized_engine():
    torch.manual_seed(0)
    weight, bias, x = torch.randn(16, 32), torch.randn(16), torch.randn(3, 4, 32)
    q, scale = quantize_rows(weight)
    before = torch.backends.quantized.engine
    layer = DynamicInt8Linear(q, scale, bias)
    assert torch.backends.quantized.engine == before
    expected = torch.nn.functional.linear(x, dequantize_rows(q, scale, torch.float32), bias)
    out = layer(x)
    assert out.shape == (3, 4, 16) and out.dtype == torch.float32
    # Activations are quantized per tensor to 7 or 8 bits: a few per cent of the output's scale.
    assert (out - expected).abs().max() < 0.03 * expected.abs().max()


def test_int8_embedding_expands_exactly_the_looked_up_rows():
    torch.manual_seed(0)
    q, scale = quantize_rows(torch.randn(10, 6))
    ids = torch.tensor([[0, 3, 3], [9, 1, 0]])
    table = dequantize_rows(q, scale, torch.float32)
    embedding = Int8Embedding(q, scale, padding_idx=0, dtype=torch.float32)
    assert torch.equal(embedding(ids), table[ids])
    assert Int8Embedding(q, scale, None, torch.bfloat16)(ids).dtype == torch.bfloat16
    assert not dict(embedding.state_dict())  # the shim saves the int8 tensors itself


@pytest.mark.skipif(not PackedBf16Linear.available(), reason="oneDNN has no packed bf16 linear on this CPU (AVX2 only)")
@pytest.mark.parametrize("gelu", [False, True])
def test_packed_bf16_linear_matches_bf16_linear_with_fused_gelu(gelu):
    torch.manual_seed(0)
    weight, bias = torch.randn(16, 32), torch.randn(16)
    x = torch.randn(2, 5, 32).to(torch.bfloat16)
    out = PackedBf16Linear(weight, bias, gelu=gelu)(x)
    expected = torch.nn.functional.linear(x.float(), weight.bfloat16().float(), bias.bfloat16().float())
    if gelu:
        expected = torch.nn.functional.gelu(expected)
    assert out.dtype == torch.bfloat16 and out.shape == (2, 5, 16)
    assert (out.float() - expected).abs().max() < 0.02 * expected.abs().max()
