"""nerel_spacy.resumable.loop: `spacy train`'s loop, stopped and resumed to the same model."""
import functools
import io
import json
import os
import re
import shutil
import signal
from pathlib import Path
from typing import Dict

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as spacy_train
from spacy.util import load_config
from thinc.api import Config

import nerel_spacy.resumable.loop as loop_module
from nerel_spacy.resumable import ResumeError, TrainingStopped, train_resumably
from nerel_spacy.resumable.live import LIVE_FILE, LiveProgress
from nerel_spacy.resumable.loop import steps_to_go, config_differences

from conftest import REPO_ROOT, make_nested_examples, model_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def overrides(tiny_bert_dir, tmp_path_factory) -> Dict[str, object]:
    """joint_trf.cfg on the tiny BERT: 6 docs, batches of a growing number of words (so epochs
    hold different batches), evaluations every 4 steps, dropout on."""
    root = tmp_path_factory.mktemp("resumable")
    docs = [eg.reference for eg in make_nested_examples(spacy.blank("ru"))] * 2
    DocBin(docs=docs, store_user_data=True).to_disk(root / "train.spacy")
    DocBin(docs=docs[:3], store_user_data=True).to_disk(root / "dev.spacy")
    return {
        "paths.encoder": str(tiny_bert_dir),
        "paths.train": str(root / "train.spacy"),
        "paths.dev": str(root / "dev.spacy"),
        "components.transformer.model.get_spans.window": 8,
        "components.transformer.model.get_spans.stride": 6,
        "training.max_steps": 14,
        "training.eval_frequency": 4,
        "training.batcher.size.start": 6,
        "training.batcher.size.stop": 40,
        "training.batcher.size.compound": 1.3,
        "training.logger.progress_bar": None,
    }


def fresh_nlp(overrides, **more):
    return init_nlp(load_config(REPO_ROOT / "configs" / "joint_trf.cfg", overrides={**overrides, **more}))


def weights_of(path: Path):
    nlp = spacy.load(path)
    return [w for _, pipe in nlp.pipeline for w in model_weights(pipe.model)]


def assert_same_weights(a: Path, b: Path) -> None:
    left, right = weights_of(a), weights_of(b)
    assert len(left) == len(right) > 0
    for x, y in zip(left, right):
        assert x.shape == y.shape and (x == y).all()


def quiet(nlp, output, **kwargs):
    return train_resumably(nlp, output, stdout=io.StringIO(), stderr=io.StringIO(), **kwargs)


def stop_at_step(monkeypatch, step: int, signum=None) -> None:
    """Make the loop die (as a killed job would) when it reaches ``step``; with ``signum``,
    send that signal to the process during the step instead."""
    real = loop_module.subdivide_batch
    calls = {"n": 0}

    def dying(batch, accumulate_gradient):
        if calls["n"] == step:
            if signum is None:
                raise KeyboardInterrupt
            os.kill(os.getpid(), signum)
        calls["n"] += 1
        return real(batch, accumulate_gradient)

    monkeypatch.setattr(loop_module, "subdivide_batch", dying)


@pytest.fixture(scope="module")
def uninterrupted(overrides, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("uninterrupted")
    quiet(fresh_nlp(overrides), output)
    return output


def test_an_uninterrupted_run_writes_what_spacy_train_writes(overrides, uninterrupted, tmp_path):
    spacy_train(fresh_nlp(overrides), tmp_path, stdout=io.StringIO(), stderr=io.StringIO())
    assert_same_weights(tmp_path / "model-last", uninterrupted / "model-last")
    assert_same_weights(tmp_path / "model-best", uninterrupted / "model-best")
    assert not (uninterrupted / "checkpoint").exists()  # a finished run leaves none


def test_a_stopped_run_resumes_to_the_model_of_an_uninterrupted_one(overrides, uninterrupted, tmp_path,
                                                                  monkeypatch):
    with monkeypatch.context() as patch:
        stop_at_step(patch, 10)  # evaluations at 0, 4, 8: the checkpoint is step 8's
        with pytest.raises(KeyboardInterrupt):
            quiet(fresh_nlp(overrides), tmp_path)
    progress = json.loads((tmp_path / "checkpoint" / "progress.json").read_text())
    assert progress["step"] == 8 and [step for _, step in progress["results"]] == [0, 4, 8]
    assert len(progress["orders"]) >= 2  # the stop came after the first reshuffle

    log = io.StringIO()
    written = []

    class EveryStep(LiveProgress):  # what `nerel-batch progress` would read after each step
        def step_done(self, step, seconds):
            super().step_done(step, seconds)
            written.append(json.loads(self.path.read_text()))

    monkeypatch.setattr(loop_module, "LiveProgress", functools.partial(EveryStep, interval=0.0))
    train_resumably(fresh_nlp(overrides), tmp_path, stdout=log, stderr=io.StringIO())
    assert [record["step"] for record in written] == list(range(9, 15))
    assert written[0]["seconds"] >= progress["seconds"] and written == sorted(written, key=lambda r: r["seconds"])
    assert not (tmp_path / LIVE_FILE).exists()  # removed when the loop ends
    assert "Resuming from" in log.getvalue() and "9 steps done, 6 to go" in log.getvalue()
    trained = re.search(r"Trained (\d+) steps in (\d+) s of training time \((\d+) s in this part\)", log.getvalue())
    assert trained and trained[1] == "15" and int(trained[2]) >= int(trained[3]) >= 0, log.getvalue()  # both parts' time
    assert_same_weights(tmp_path / "model-last", uninterrupted / "model-last")
    assert_same_weights(tmp_path / "model-best", uninterrupted / "model-best")
    assert json.loads((tmp_path / "model-best" / "meta.json").read_text())["performance"] == \
        json.loads((uninterrupted / "model-best" / "meta.json").read_text())["performance"]
    assert not (tmp_path / "checkpoint").exists()


def test_sigterm_checkpoints_the_step_in_progress_and_resumes_to_the_same_model(overrides, uninterrupted,
                                                                                tmp_path, monkeypatch):
    log, handler_before = io.StringIO(), signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch:
        stop_at_step(patch, 6, signal.SIGTERM)  # between evaluations (0, 4, 8)
        with pytest.raises(TrainingStopped) as stopped:
            train_resumably(fresh_nlp(overrides), tmp_path, stdout=log, stderr=io.StringIO())
    assert (stopped.value.signum, stopped.value.step) == (signal.SIGTERM, 6)
    assert "stopped by SIGTERM after step 6" in log.getvalue()
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the loop's handler is gone again
    progress = json.loads((tmp_path / "checkpoint" / "progress.json").read_text())
    assert progress["step"] == 6 and progress["losses"]  # the losses since step 4's evaluation

    quiet(fresh_nlp(overrides), tmp_path)
    assert_same_weights(tmp_path / "model-last", uninterrupted / "model-last")
    assert_same_weights(tmp_path / "model-best", uninterrupted / "model-best")


def test_a_checkpoint_of_other_settings_is_refused_and_fresh_starts_over(overrides, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        stop_at_step(patch, 5)
        with pytest.raises(KeyboardInterrupt):
            quiet(fresh_nlp(overrides), tmp_path)
    assert (tmp_path / "checkpoint").is_dir()
    with pytest.raises(ResumeError, match=r"training\.dropout: 0\.1 → 0\.2") as err:
        quiet(fresh_nlp(overrides, **{"training.dropout": 0.2}), tmp_path)
    assert "--fresh" in str(err.value)

    with monkeypatch.context() as patch:
        stop_at_step(patch, 1)  # only the step-0 evaluation: a fresh start replaced the old checkpoint
        with pytest.raises(KeyboardInterrupt):
            quiet(fresh_nlp(overrides, **{"training.dropout": 0.2}), tmp_path, resume=False)
    assert json.loads((tmp_path / "checkpoint" / "progress.json").read_text())["step"] == 0


def test_a_kill_between_the_checkpoint_renames_keeps_the_previous_checkpoint(overrides, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        stop_at_step(patch, 5)
        with pytest.raises(KeyboardInterrupt):
            quiet(fresh_nlp(overrides), tmp_path)
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")  # as a kill after the first rename leaves it
    log = io.StringIO()
    train_resumably(fresh_nlp(overrides), tmp_path, stdout=log, stderr=io.StringIO())
    assert "5 steps done" in log.getvalue()


# What a checkpoint held when runs that are resumed today were stopped (December 2025): later
# versions may add to it, but must resume one of exactly these files and fields as before.
LEGACY_FILES = {"model", "optimizer.npz", "optimizer.json", "progress.json", "random.json", "numpy_random.npy",
                "torch_random.npy"}
LEGACY_FIELDS = {"progress.json": {"config", "losses", "orders", "results", "seconds", "step", "words"},
                 "optimizer.json": {"nr_update", "last_seen"}, "random.json": {"python", "numpy"}}


def test_a_checkpoint_of_the_first_format_still_resumes_to_the_same_model(overrides, uninterrupted, tmp_path,
                                                                        monkeypatch):
    with monkeypatch.context() as patch:
        stop_at_step(patch, 10)
        with pytest.raises(KeyboardInterrupt):
            quiet(fresh_nlp(overrides), tmp_path)
    checkpoint = tmp_path / "checkpoint"
    assert LEGACY_FILES <= {p.name for p in checkpoint.iterdir()}
    for path in checkpoint.iterdir():  # nothing newer than the first format
        if path.name not in LEGACY_FILES:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for name, fields in LEGACY_FIELDS.items():
        data = json.loads((checkpoint / name).read_text())
        assert fields <= set(data), name
        (checkpoint / name).write_text(json.dumps({key: data[key] for key in fields}))
    log = io.StringIO()
    train_resumably(fresh_nlp(overrides), tmp_path, stdout=log, stderr=io.StringIO())
    assert "after step 8: 9 steps done" in " ".join(log.getvalue().split())
    assert_same_weights(tmp_path / "model-last", uninterrupted / "model-last")
    assert_same_weights(tmp_path / "model-best", uninterrupted / "model-best")


def test_config_differences_names_each_changed_setting():
    saved = "[training]\ndropout = 0.1\nmax_steps = 10\n\n[paths]\ntrain = \"a\"\n"
    current = "[training]\ndropout = 0.1\nmax_steps = 20\n\n[paths]\ntrain = \"b\"\n"
    assert config_differences(saved, current) == ["paths.train: 'a' → 'b'", "training.max_steps: 10 → 20"]
    assert config_differences(saved, saved) == []
    many = "[x]\n" + "\n".join(f"k{i} = {i}" for i in range(12))
    changed = "[x]\n" + "\n".join(f"k{i} = {i + 1}" for i in range(12))
    assert config_differences(many, changed, limit=3)[-1] == "… and 9 more"


def test_the_resume_message_estimates_what_is_left_with_the_loggers_pace():
    config = Config({"training": {"max_steps": 1500, "logger": {"seconds_per_step": 4.7}}})
    assert steps_to_go(config, 1000) == ", 500 to go ≈ 39 min"
    assert steps_to_go(Config({"training": {"max_steps": 1500, "logger": {}}}), 1250) == ", 250 to go"
    assert steps_to_go(Config({"training": {"max_steps": 0, "logger": {}}}), 10) == ""  # epochs decide


def test_a_setting_the_factory_gained_later_at_its_default_is_no_difference():
    import nerel_spacy.pipeline.factory  # noqa: F401  (registers nerel_joint)

    saved = '[components]\n\n[components.nerel_joint]\nfactory = "nerel_joint"\nthreshold = 0.5\n'
    assert config_differences(saved, saved + "max_batch_tokens = 0\n") == []
    # another value than the default, or a setting the factory does not know, still differs
    assert config_differences(saved, saved + "max_batch_tokens = 2048\n") == [
        "components.nerel_joint.max_batch_tokens: '(absent)' → 2048"
    ]
    assert config_differences(saved, saved + "unknown = 0\n") == ["components.nerel_joint.unknown: '(absent)' → 0"]
    # and a setting dropped from the current config is still named
    assert config_differences(saved + "max_batch_tokens = 0\n", saved) == [
        "components.nerel_joint.max_batch_tokens: 0 → '(absent)'"
    ]
