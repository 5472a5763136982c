"""nerel_spacy.resumable.checks: a damaged checkpoint, an OUTPUT that holds the inputs, a file as
OUTPUT and missing inputs are refused with what to do, and nothing in OUTPUT is removed."""
import io
import json
import shutil
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from thinc.api import Config
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.resumable import ResumeError, train_resumably
from nerel_spacy.resumable.checks import check_inputs_outside, check_output_folder, missing_inputs, read_progress

from conftest import REPO_ROOT, make_nested_examples, unwrapped
from test_resumable_loop import fresh_nlp, overrides, quiet, stop_at_step  # noqa: F401  (a fixture)

runner = CliRunner()
CONTINUE = REPO_ROOT / "configs" / "joint_trf_continue.cfg"
CHECKPOINT_FILES = ["progress.json", "optimizer.npz", "optimizer.json", "random.json", "numpy_random.npy", "model"]


@pytest.fixture(scope="module")
def stopped(overrides, tmp_path_factory) -> Path:  # noqa: F811
    """An OUTPUT whose run died at step 5: model-best, model-last and step 4's checkpoint."""
    output = tmp_path_factory.mktemp("stopped")
    with pytest.MonkeyPatch.context() as patch:
        stop_at_step(patch, 5)
        with pytest.raises(KeyboardInterrupt):
            quiet(fresh_nlp(overrides), output)
    assert json.loads((output / "checkpoint" / "progress.json").read_text())["step"] == 4
    return output


def copy_of(stopped: Path, tmp_path: Path) -> Path:
    output = tmp_path / "out"
    shutil.copytree(stopped, output)
    return output


def damage(checkpoint: Path, part: str, how: str) -> None:
    path = checkpoint / part
    if how == "delete":
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how.startswith("set "):  # "set FIELD JSON": a field of a JSON file, as a hand or other code wrote it
        _, field, value = how.split(" ", 2)
        path.write_text(json.dumps({**json.loads(path.read_text()), field: json.loads(value)}))


@pytest.mark.slow
@pytest.mark.parametrize("part,how,says", [
    *[(part, "delete", f"missing {part}") for part in CHECKPOINT_FILES],
    ("progress.json", "truncate", "unreadable progress.json"),
    ("optimizer.npz", "truncate", "unreadable optimizer.npz"),
    ("optimizer.json", "truncate", "unreadable optimizer.json"),
    ("random.json", "truncate", "unreadable random.json"),
    ("model/meta.json", "delete", "missing model/meta.json"),
    # fields the loop computes with: refused as damaged, not a TypeError (or a resume from step 0) later
    ("progress.json", 'set step "4"', 'unreadable progress.json: not what the loop writes: step = "4"'),
    ("progress.json", "set step -1", "unreadable progress.json: not what the loop writes: step = -1"),
    ("progress.json", 'set seconds "30"', 'unreadable progress.json: not what the loop writes: seconds = "30"'),
])
def test_a_damaged_checkpoint_is_refused_and_nothing_is_removed(overrides, stopped, tmp_path, part, how,  # noqa: F811
                                                                says):
    output = copy_of(stopped, tmp_path)
    damage(output / "checkpoint", part, how)
    with pytest.raises(ResumeError, match="damaged") as err:
        quiet(fresh_nlp(overrides), output)
    message = str(err.value)
    assert says in message and str(output / "checkpoint") in message and "--fresh" in message, message
    for kept in ("model-best", "model-last", "checkpoint"):  # never trained over
        assert (output / kept).is_dir(), kept


@pytest.mark.slow
def test_model_weights_cut_short_are_a_damaged_checkpoint(overrides, stopped, tmp_path):  # noqa: F811
    output = copy_of(stopped, tmp_path)
    weights = next(p for p in (output / "checkpoint" / "model" / "nerel_joint").iterdir() if p.name == "model")
    weights.write_bytes(weights.read_bytes()[:10])
    with pytest.raises(ResumeError, match=r"damaged \(model/ does not load"):
        quiet(fresh_nlp(overrides), output)


@pytest.mark.slow
def test_fresh_removes_a_damaged_checkpoint_and_starts_over(overrides, stopped, tmp_path, monkeypatch):  # noqa: F811
    output = copy_of(stopped, tmp_path)
    damage(output / "checkpoint", "progress.json", "delete")
    stop_at_step(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        quiet(fresh_nlp(overrides), output, resume=False)
    assert json.loads((output / "checkpoint" / "progress.json").read_text())["step"] == 0
    assert not (output / "checkpoint.removed").exists()


@pytest.mark.slow
def test_a_kill_while_removing_a_checkpoint_leaves_no_half_checkpoint(overrides, stopped, tmp_path):  # noqa: F811
    output = copy_of(stopped, tmp_path)
    (output / "checkpoint").rename(output / "checkpoint.removed")  # as a kill during the removal leaves it
    (output / "checkpoint.removed" / "progress.json").unlink()
    log = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        stop_at_step(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            train_resumably(fresh_nlp(overrides), output, stdout=log, stderr=io.StringIO())
    assert "Resuming" not in log.getvalue() and not (output / "checkpoint.removed").exists()


@pytest.mark.slow
def test_the_cli_refuses_a_damaged_checkpoint_with_exit_2(tiny_bert_dir, overrides, stopped, tmp_path):  # noqa: F811
    output = copy_of(stopped, tmp_path)
    damage(output / "checkpoint", "progress.json", "delete")
    args = ["train", str(REPO_ROOT / "configs" / "joint_trf.cfg"), "--output", str(output)]
    for key, value in overrides.items():
        args += [f"--{key}", "null" if value is None else str(value)]
    result = runner.invoke(app, args)
    text = unwrapped(result.output)
    assert result.exit_code == 2 and "is damaged (missing progress.json)" in text and "--fresh" in text, text
    assert (output / "model-best").is_dir() and (output / "checkpoint").is_dir()


@pytest.mark.parametrize("progress,says", [
    ({"step": 4, "config": ""}, "no results, words, seconds, orders"),
    ({"step": "4", "results": [], "words": 0, "seconds": 0, "orders": [], "config": ""}, 'step = "4"'),
])
def test_read_progress_refuses_a_progress_json_the_loop_cannot_resume_from(tmp_path, progress, says):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "progress.json").write_text(json.dumps(progress))
    with pytest.raises(ResumeError) as err:
        read_progress(tmp_path / "checkpoint")
    message = str(err.value)
    assert f"checkpoint {tmp_path / 'checkpoint'} is damaged (unreadable progress.json: " in message, message
    assert says in message and "--fresh" in message, message


def paths_config(**paths) -> Config:
    return Config({"paths": paths, "components": {"transformer": {"source": "${paths.init_model}"}},
                   "corpora": {"train": {"path": "${paths.train}"}},
                   "training": {"train_corpus": "corpora.train"}})


def test_an_input_inside_the_output_is_refused_and_a_sibling_is_not(tmp_path):
    out = tmp_path / "out"
    for folder in (out / "model-best", tmp_path / "out_source", tmp_path / "corpus"):
        folder.mkdir(parents=True)
    (tmp_path / "corpus" / "train.spacy").write_bytes(b"")
    train = str(tmp_path / "corpus" / "train.spacy")
    with pytest.raises(ResumeError, match=r"paths\.init_model = .*out/model-best") as err:
        check_inputs_outside(paths_config(init_model=str(out / "model-best"), train=train), out)
    assert "components.transformer.source" in str(err.value) and "--output" in str(err.value)
    with pytest.raises(ResumeError, match=r"paths\.init_model"):  # OUTPUT itself, by a relative path
        check_inputs_outside(paths_config(init_model=str(out / ".." / "out"), train=train), out)
    # train-rounds: OUTPUT/ROUND_source beside OUTPUT/ROUND, not in it
    check_inputs_outside(paths_config(init_model=str(tmp_path / "out_source"), train=train), out)
    check_inputs_outside(paths_config(init_model="DeepPavlov/rubert-base-cased", train=train), out)  # no such path


def test_missing_inputs_are_named_with_their_override():
    config = paths_config(init_model="/nonexistent/model", train="/nonexistent/train.spacy")
    assert missing_inputs(config) == [
        "corpora.train.path = /nonexistent/train.spacy (--paths.train)",
        "components.transformer.source = /nonexistent/model (--paths.init_model)",
    ]
    assert missing_inputs(paths_config(init_model="en_core_web_sm_not_installed", train=str(REPO_ROOT))) == [
        "components.transformer.source = en_core_web_sm_not_installed (--paths.init_model)"
    ]


def test_a_file_as_output_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ResumeError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "afile")
    with pytest.raises(ResumeError, match="lies under .*afile, a file"):
        check_output_folder(tmp_path / "afile" / "sub")
    check_output_folder(tmp_path / "new" / "sub")


@pytest.mark.slow
def test_train_resumably_refuses_a_corpus_inside_its_output_and_keeps_model_best(overrides, tmp_path):  # noqa: F811
    output = tmp_path / "out"
    (output / "model-best").mkdir(parents=True)
    shutil.copy(overrides["paths.train"], output / "train.spacy")
    nlp = fresh_nlp(overrides, **{"paths.train": str(output / "train.spacy")})
    with pytest.raises(ResumeError, match=r"paths\.train = .*inside|inside the output folder"):
        quiet(nlp, output)
    assert (output / "model-best").is_dir()


def train_cli(tmp_path, output: str, init_model: str):
    """``nerel-batch train`` of the continue config into ``output`` from ``init_model``, on a tiny corpus."""
    train = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in make_nested_examples(spacy.blank("ru"))]).to_disk(train)
    result = runner.invoke(app, ["train", str(CONTINUE), "--output", output, "--paths.init_model", init_model,
                                 "--paths.train", str(train), "--paths.dev", str(train)])
    return result, unwrapped(result.output)


def test_the_cli_refuses_a_sourced_model_inside_output_before_removing_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short paths, which the console does not wrap
    (tmp_path / "tc" / "model-best").mkdir(parents=True)
    (tmp_path / "tc" / "model-best" / "config.cfg").write_text("")
    result, text = train_cli(tmp_path, "tc", "tc/model-best")
    assert result.exit_code == 2 and "paths.init_model = tc/model-best" in text and "inside the output" in text, text
    assert "Initializing pipeline" not in text and (tmp_path / "tc" / "model-best" / "config.cfg").exists()


def test_the_cli_names_a_moved_source_of_a_run_with_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "checkpoint").mkdir(parents=True)
    result, text = train_cli(tmp_path, "out", "moved")
    assert result.exit_code == 2 and "components.transformer.source = moved (--paths.init_model)" in text, text
    assert "put them back" in text and "Traceback" not in text


def test_the_cli_turns_an_error_building_the_pipeline_into_a_message(tmp_path, monkeypatch):
    import spacy.training.initialize

    def fail(config, use_gpu=-1):
        raise OSError("[E050] Can't find model 'gone'.")

    monkeypatch.setattr(spacy.training.initialize, "init_nlp", fail)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    result, text = train_cli(tmp_path, "out", "src")
    assert result.exit_code == 2 and "could not build the pipeline" in text and "E050" in text, text


def test_the_cli_refuses_a_file_as_output_and_a_missing_corpus_with_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    config = str(REPO_ROOT / "configs" / "joint_cnn_fast.cfg")
    result = runner.invoke(app, ["train", config, "--output", "afile", "--paths.train", "none.spacy"])
    assert result.exit_code == 2 and "--output afile is a file" in unwrapped(result.output), result.output
    result = runner.invoke(app, ["train", config, "--output", "out", "--paths.train", "none.spacy",
                                 "--paths.dev", "nodev.spacy"])
    text = unwrapped(result.output)
    assert result.exit_code == 2 and "corpora.train.path = none.spacy (--paths.train)" in text, text
    assert "Traceback" not in text and (tmp_path / "afile").read_text() == "x"
