"""The transformer encoder's training knobs: frozen word embeddings and bfloat16 training."""
import numpy
import pytest
import spacy
import torch
from spacy.util import load_model_from_config
from thinc.api import Adam

from nerel_spacy.models.encoders import TRAIN_PRECISIONS, resolve_train_precision

from conftest import make_examples, tiny_trf_config


def test_fixed_precisions_are_kept():
    assert resolve_train_precision("fp32") == "fp32"
    assert resolve_train_precision("bf16") == "bf16"


@pytest.mark.parametrize("fast, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_takes_bf16_only_where_the_cpu_multiplies_it(monkeypatch, fast, expected):
    import nerel_spacy.machine as machine

    monkeypatch.setattr(machine, "cpu_has_fast_bf16", lambda: fast)
    assert resolve_train_precision("auto") == expected


def test_an_unknown_precision_names_the_choices():
    with pytest.raises(ValueError) as error:
        resolve_train_precision("fp16")
    assert "'fp16'" in str(error.value)
    assert all(choice in str(error.value) for choice in TRAIN_PRECISIONS)


def trf_nlp(bert_dir, train_precision: str):
    config = tiny_trf_config(bert_dir, **{"components.transformer.model.train_precision": train_precision})
    return load_model_from_config(config, auto_fill=True, validate=True)


def record_autocast(nlp) -> list:
    """Whether CPU autocast was on, and at which dtype, on each pass through the encoder."""
    seen = []
    hf_model = nlp.get_pipe("transformer").model.transformer
    hf_model.register_forward_hook(
        lambda module, args, output: seen.append(
            torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
        )
    )
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("train_precision, expected", [("bf16", torch.bfloat16), ("fp32", None)])
def test_training_passes_run_in_bf16_and_prediction_in_fp32(tiny_bert_dir, train_precision, expected):
    nlp = trf_nlp(tiny_bert_dir, train_precision)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    seen = record_autocast(nlp)
    hf_model = nlp.get_pipe("transformer").model.transformer
    before = hf_model.encoder.layer[0].output.dense.weight.detach().clone()
    optimizer = Adam(0.001)
    # The heads' output layers start at zero: the encoder gets gradients from the third update.
    for _ in range(3):
        losses = nlp.update(examples, sgd=optimizer, drop=0.0, losses={})
    assert seen and all(dtype == expected for dtype in seen)
    assert all(numpy.isfinite(loss) for loss in losses.values())
    after = hf_model.encoder.layer[0].output.dense.weight.detach()
    assert after.dtype == torch.float32 and not torch.equal(before, after)

    seen.clear()
    doc = nlp("Банк России повысил ключевую ставку.")
    assert seen == [None]
    assert set(doc.cats) == set(nlp.get_pipe("nerel_joint").cats_labels)


@pytest.mark.slow
def test_bf16_training_follows_fp32_closely(tiny_bert_dir):
    """The same updates from the same start: bfloat16's rounding moves the losses a little,
    not the training."""
    histories = {}
    for precision in ("fp32", "bf16"):
        spacy.util.fix_random_seed(0)
        nlp = trf_nlp(tiny_bert_dir, precision)
        examples = make_examples(nlp)
        nlp.initialize(lambda: examples)
        optimizer = Adam(0.001)
        histories[precision] = [
            nlp.update(examples, sgd=optimizer, drop=0.0, losses={})["nerel_joint"]
            for _ in range(4)
        ]
    fp32, bf16 = histories["fp32"], histories["bf16"]
    assert fp32[-1] < fp32[0] and bf16[-1] < bf16[0]
    assert bf16 == pytest.approx(fp32, rel=0.05)


def test_bf16_setting_survives_saving_and_loading(tiny_bert_dir, tmp_path):
    nlp = trf_nlp(tiny_bert_dir, "bf16")
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe_config("transformer")["model"]["train_precision"] == "bf16"
    assert loaded.get_pipe("transformer").model.attrs["train_precision"] == "bf16"
    seen = record_autocast(loaded)
    loaded.update(make_examples(loaded), sgd=loaded.resume_training(), drop=0.0)
    assert seen == [torch.bfloat16]


def test_the_wrapper_hands_on_float32_outputs(tiny_bert_dir):
    """BERT's pooler output comes out of autocast as bfloat16, which thinc cannot read."""
    nlp = trf_nlp(tiny_bert_dir, "bf16")
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    model = nlp.get_pipe("transformer").model
    output, backprop = model.begin_update([eg.predicted for eg in examples])
    dtypes = {value.dtype for value in output.model_output.values() if isinstance(value, torch.Tensor)}
    assert dtypes == {torch.float32}
