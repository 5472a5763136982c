"""Int8 pipelines: quantize, save, load (here and in a fresh process), no pickle, clear errors."""
import json
import re
import pickle
import subprocess
import sys
import textwrap

import pytest
import spacy
import srsly
import torch
from safetensors.torch import load as load_safetensors
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.quantize import (
    DEFAULT_FLOAT_LAYERS,
    INT8_FORMAT,
    AlreadyQuantizedError,
    DynamicInt8Linear,
    Int8Embedding,
    Int8HFShim,
    NothingToQuantizeError,
    PackedBf16Linear,
    find_transformer_shims,
    hf_model,
    quantize_pipeline,
    resolve_float_layers,
)

from conftest import TINY_DOCS, make_examples
from quantize_helpers import save_trained_cnn, save_trained_trf

TEXTS = [text for text, _, _ in TINY_DOCS] + ["Путин прилетел в Нью-Йорк в 2020 году ."]
N_TINY_LINEAR = 2 * 6 + 1  # 2 layers × (q, k, v, attention out, FFN up, FFN down) + pooler


@pytest.fixture(scope="module")
def fp32_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("fp32") / "model")


@pytest.fixture(scope="module")
def int8_dir(fp32_dir, tmp_path_factory):
    int8_nlp, _ = quantize_pipeline(spacy.load(fp32_dir), compute="int8")
    path = tmp_path_factory.mktemp("int8") / "model"
    int8_nlp.to_disk(path)
    return path


def predictions(nlp):
    docs = list(nlp.pipe(TEXTS))
    return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs], [doc.cats for doc in docs]


@pytest.mark.slow
@pytest.mark.parametrize("compute", ["int8", "bf16"])
def test_int8_pipeline_predicts_close_to_fp32_and_round_trips(fp32_dir, tmp_path, compute):
    fp32 = spacy.load(fp32_dir)
    int8, report = quantize_pipeline(fp32, compute=compute)
    (encoder,) = report.encoders
    assert encoder.component == "transformer" and encoder.linear_layers == N_TINY_LINEAR
    assert encoder.embedding_rows == fp32.get_pipe("transformer").model.transformer.config.vocab_size
    assert encoder.stored_bytes < encoder.fp32_bytes / 2
    assert int8.get_pipe_config("transformer")["model"]["@architectures"] == "nerel.Int8TransformerModel.v1"
    assert fp32.get_pipe_config("transformer")["model"]["@architectures"] == "nerel.TransformerModel.v1"
    hf = int8.get_pipe("transformer").model.transformer
    assert isinstance(hf.get_input_embeddings(), Int8Embedding)
    if compute == "int8":
        # "auto" float layers: none where the CPU has VNNI, else the FFN down-projections
        float_pattern = re.compile(resolve_float_layers(DEFAULT_FLOAT_LAYERS) or "(?!)")
        int8_names = [name for name, m in hf.named_modules() if isinstance(m, DynamicInt8Linear)]
        float_names = [name for name, m in hf.named_modules() if type(m) is torch.nn.Linear]
        assert len(int8_names) + len(float_names) == N_TINY_LINEAR
        assert all(float_pattern.search(name) for name in float_names)
        assert not any(float_pattern.search(name) for name in int8_names)

    labels = set(fp32.get_pipe("nerel_joint").entity_labels)
    (ents_fp32, cats_fp32), (ents_int8, cats_int8) = predictions(fp32), predictions(int8)
    for doc_ents in ents_int8:
        assert {label for _, _, label in doc_ents} <= labels
    for a, b in zip(cats_fp32, cats_int8):
        assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 0.05 for k in a)

    int8.to_disk(tmp_path / "int8")
    loaded = spacy.load(tmp_path / "int8")
    assert loaded.meta["quantization"]["format"] == INT8_FORMAT
    ents_loaded, cats_loaded = predictions(loaded)
    assert ents_loaded == ents_int8
    for a, b in zip(cats_int8, cats_loaded):
        assert b == pytest.approx(a, abs=1e-5)


@pytest.mark.slow
def test_inline_transformer_is_quantized_too(tiny_bert_dir, tmp_path):
    fp32 = spacy.load(save_trained_trf(tiny_bert_dir, tmp_path / "fp32", inline=True))
    int8, report = quantize_pipeline(fp32, compute="int8")
    assert [e.component for e in report.encoders] == ["nerel_joint"]
    tok2vec = int8.get_pipe_config("nerel_joint")["model"]["tok2vec"]
    assert tok2vec["@architectures"] == "nerel.Int8Tok2VecTransformer.v1"
    assert "freeze_embeddings" not in tok2vec and "train_precision" not in tok2vec
    int8.to_disk(tmp_path / "int8")
    loaded = spacy.load(tmp_path / "int8")
    assert isinstance(find_transformer_shims(loaded)[0][1], Int8HFShim)
    for a, b in zip(predictions(int8)[1], predictions(loaded)[1]):
        assert b == pytest.approx(a, abs=1e-5)


def test_saved_weights_are_safetensors_not_pickles(int8_dir):
    msg = srsly.msgpack_loads((int8_dir / "transformer" / "model").read_bytes())
    (shim_bytes,) = [b for node_shims in msg["shims"] for b in node_shims]
    shim_msg = srsly.msgpack_loads(shim_bytes)
    assert shim_msg["quantization"]["format"] == INT8_FORMAT
    state = shim_msg["state"]
    assert not state.startswith(b"PK") and not state.startswith(b"\x80")  # torch.save / pickle
    tensors = load_safetensors(state)
    assert {t.dtype for t in tensors.values()} <= {torch.int8, torch.float32, torch.int64}
    assert any(key.endswith(".weight_int8") for key in tensors)


def test_loading_neither_unpickles_nor_requantizes(int8_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("loading an int8 pipeline must not unpickle or re-quantize")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(hf_model, "quantize_rows", refuse)  # the name quantize_state_dict calls
    nlp = spacy.load(int8_dir)
    assert len(nlp(TEXTS[0])) > 0


@pytest.mark.slow
def test_int8_pipeline_loads_in_a_fresh_process(int8_dir, tmp_path):
    expected_ents, expected_cats = predictions(spacy.load(int8_dir))
    script = textwrap.dedent(
        f"""
        import json, pickle, torch, spacy

        def refuse(*args, **kwargs):
            raise AssertionError("unpickling while loading the int8 pipeline")

        pickle.load = pickle.loads = torch.load = refuse
        nlp = spacy.load({str(int8_dir)!r})  # no nerel_spacy import: found via entry points
        docs = list(nlp.pipe({TEXTS!r}))
        import sys
        # the skeleton is built from its own model class: AutoModel.from_config would have
        # imported the configuration of every architecture transformers knows (~640 modules)
        print(sum(name.startswith("transformers.models.") for name in sys.modules))
        print(json.dumps([[[e.start, e.end, e.label_] for e in d.ents] for d in docs]))
        print(json.dumps([d.cats for d in docs]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    n_model_modules, ents_line, cats_line = done.stdout.strip().splitlines()[-3:]
    assert int(n_model_modules) < 40
    assert [[tuple(e) for e in doc] for doc in json.loads(ents_line)] == expected_ents
    for a, b in zip(expected_cats, json.loads(cats_line)):
        assert b == pytest.approx(a, abs=1e-5)


def test_concrete_model_class_is_what_the_auto_class_builds_or_none():
    from transformers import AutoModel, BertConfig, BertModel

    from nerel_spacy.quantize.hf_model import concrete_model_class, model_skeleton

    config = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    assert concrete_model_class(config, AutoModel) is BertModel
    assert type(model_skeleton(config)) is type(AutoModel.from_config(config)) is BertModel
    config.auto_map = {"AutoModel": "somebody/model--modeling.Model"}  # remote code: the Auto class decides
    assert concrete_model_class(config, AutoModel) is None
    assert concrete_model_class(BertConfig(), BertModel) is None  # not an Auto class


def test_compute_can_be_changed_at_load_without_quantizing_again(int8_dir):
    nlp = spacy.load(int8_dir, config={"components": {"transformer": {"model": {"compute": "bf16"}}}})
    hf = nlp.get_pipe("transformer").model.transformer
    query = hf.encoder.layer[0].attention.self.query
    if PackedBf16Linear.available():
        assert isinstance(query, PackedBf16Linear) and not query.gelu
        assert hf.encoder.layer[0].intermediate.dense.gelu  # fused: the GELU module is gone
        assert isinstance(hf.encoder.layer[0].intermediate.intermediate_act_fn, torch.nn.Identity)
    else:
        assert query.weight.dtype == torch.bfloat16
    assert hf.encoder.layer[0].output.LayerNorm.weight.dtype == torch.bfloat16
    int8_cats = predictions(spacy.load(int8_dir))[1]
    for a, b in zip(int8_cats, predictions(nlp)[1]):
        assert all(isinstance(v, float) for v in b.values())
        assert b == pytest.approx(a, abs=0.05)


def test_int8_pipeline_refuses_training_and_second_quantization(int8_dir):
    nlp = spacy.load(int8_dir)
    with pytest.raises(ValueError, match="can only predict"):
        nlp.update(make_examples(nlp), sgd=None)
    with pytest.raises(AlreadyQuantizedError, match="int8 already"):
        quantize_pipeline(nlp)


@pytest.mark.slow
def test_cnn_pipeline_has_nothing_to_quantize(tmp_path):
    cnn_dir = save_trained_cnn(tmp_path / "cnn")
    with pytest.raises(NothingToQuantizeError, match="no transformer encoder"):
        quantize_pipeline(spacy.load(cnn_dir))
    result = CliRunner().invoke(app, ["quantize", str(cnn_dir), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "no transformer encoder" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_cli_default_float_layers_are_the_librarys():
    """The CLI spells the default out (it imports the quantizer only when it runs)."""
    from nerel_spacy.cli import quantize as quantize_cli

    assert quantize_cli.DEFAULT_FLOAT_LAYERS == DEFAULT_FLOAT_LAYERS


def test_quantize_cli_writes_a_loadable_pipeline_and_a_summary(fp32_dir, tmp_path):
    out = tmp_path / "int8"
    result = CliRunner().invoke(app, ["quantize", str(fp32_dir), str(out), "--backend", "int8"])
    assert result.exit_code == 0, result.stderr
    assert "Linear layers int8" in result.stdout and "size on disk" in result.stdout
    assert spacy.load(out).get_pipe_config("transformer")["model"]["compute"] == "int8"
    again = CliRunner().invoke(app, ["quantize", str(fp32_dir), str(out)])
    assert again.exit_code == 0, again.stderr  # a rerun replaces its own earlier output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    refused = CliRunner().invoke(app, ["quantize", str(fp32_dir), str(other)])
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    assert (other / "notes.txt").exists()


@pytest.mark.slow
def test_int8_pipeline_keeps_the_span_head(fp32_dir, int8_dir):
    fp32, int8 = spacy.load(fp32_dir), spacy.load(int8_dir)
    # configs/joint_trf.cfg trains every head (nerel.JointTagCat.v3)
    assert int8.get_pipe("nerel_joint").tasks == ("ner", "spans", "cats", "relations")
    for doc_fp32, doc_int8 in zip(fp32.pipe(TEXTS), int8.pipe(TEXTS)):
        group = doc_int8.spans["nerel"]
        assert len(group.attrs["scores"]) == len(group)
        # The encoder is int8; the span head reads its vectors and is kept as trained:
        # the raw span scores stay close to fp32's.
        joint_fp32 = fp32.get_pipe("nerel_joint")
        joint_int8 = int8.get_pipe("nerel_joint")
        logits_fp32 = joint_fp32.model.predict([doc_fp32])["spans"][0]
        logits_int8 = joint_int8.model.predict([doc_int8])["spans"][0]
        assert logits_fp32.shape == logits_int8.shape
        assert abs(logits_fp32 - logits_int8).max() < 0.1


def test_the_int8_copy_sets_the_float32_training_scores_aside(fp32_dir):
    nlp = spacy.load(fp32_dir)
    nlp.meta["performance"] = {"ents_f": 0.9, "speed": 1000.0}
    int8, _ = quantize_pipeline(nlp, compute="int8")
    assert "performance" not in int8.meta  # spaCy's package README would show it as the int8 model's
    assert int8.meta["source_performance"] == {"ents_f": 0.9, "speed": 1000.0}
    assert "not scored" in int8.meta["source_performance_note"]
    assert nlp.meta["performance"] == {"ents_f": 0.9, "speed": 1000.0}  # the source is left as it is
