"""``nerel-batch train``: spacy train's arguments, resumable, and a clear refusal of a foreign checkpoint."""
import json

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from nerel_spacy.cli import app

from conftest import REPO_ROOT, make_nested_examples, unwrapped

runner = CliRunner()


def test_help_says_how_to_resume():
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    text = unwrapped(result.output)
    assert "the same command continues after the last evaluation" in text and "--fresh" in text


def test_a_missing_config_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short path, which the console does not wrap
    result = runner.invoke(app, ["train", "nope.cfg", "--output", "out"])
    assert result.exit_code == 2 and "'nope.cfg' does not exist" in unwrapped(result.output)
    assert not (tmp_path / "out").exists()


def test_a_run_into_an_output_another_process_trains_into_is_refused_before_set_up(tmp_path, monkeypatch):
    import subprocess
    import sys

    from test_resumable_lock import HOLD

    monkeypatch.chdir(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "out"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        config = REPO_ROOT / "configs" / "joint_cnn_fast.cfg"
        result = runner.invoke(app, ["train", str(config), "--output", "out", "--paths.train", "none.spacy"])
        text = unwrapped(result.output)
        assert result.exit_code == 2 and f"kill -TERM {holder.pid}" in text, text
        assert "Initializing pipeline" not in text  # refused before the slow set-up
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_run_resumes_and_a_changed_setting_is_refused(tiny_bert_dir, tmp_path):
    docs = [eg.reference for eg in make_nested_examples(spacy.blank("ru"))]
    DocBin(docs=docs, store_user_data=True).to_disk(tmp_path / "train.spacy")
    args = [
        "train", str(REPO_ROOT / "configs" / "joint_trf.cfg"), "--output", str(tmp_path / "out"),
        "--paths.encoder", str(tiny_bert_dir), "--paths.train", str(tmp_path / "train.spacy"),
        "--paths.dev", str(tmp_path / "train.spacy"), "--training.max_steps", "3",
        "--training.eval_frequency", "2", "--training.logger.progress_bar", "null",
        "--components.transformer.model.get_spans.window", "8",
        "--components.transformer.model.get_spans.stride", "6",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "model-best" / "meta.json").exists()
    assert not (tmp_path / "out" / "checkpoint").exists()

    # A checkpoint left by a stopped run, then the command with another dropout.
    (tmp_path / "out" / "checkpoint").mkdir()
    (tmp_path / "out" / "checkpoint" / "progress.json").write_text(json.dumps(
        {"config": (tmp_path / "out" / "model-last" / "config.cfg").read_text(), "step": 2,
         "results": [[0.0, 0], [0.0, 2]], "words": 40, "seconds": 3, "orders": [[0]]}))
    result = runner.invoke(app, args + ["--training.dropout", "0.3"])
    assert result.exit_code == 2
    assert "training.dropout: 0.1 → 0.3" in unwrapped(result.output) and "--fresh" in result.output


def test_vectors_made_by_compact_vectors_are_refused_before_set_up(tmp_path, monkeypatch):
    """spaCy would load the compact table into the new pipeline but not the config naming its class."""
    import shutil

    from nerel_spacy.vector_compaction import compact_vectors_in_folder

    from conftest import save_fixture_vectors

    monkeypatch.chdir(tmp_path)
    shutil.copytree(save_fixture_vectors(tmp_path / "dense"), tmp_path / "compact")
    compact_vectors_in_folder(tmp_path / "compact")
    DocBin().to_disk(tmp_path / "c.spacy")
    config = REPO_ROOT / "configs" / "joint_cnn_fast.cfg"
    result = runner.invoke(app, ["train", str(config), "--output", "out", "--paths.train", "c.spacy",
                                 "--paths.dev", "c.spacy", "--paths.vectors", "compact"])
    text = " ".join(unwrapped(result.output).split())
    assert result.exit_code == 2 and "[initialize] vectors compact holds compact vectors" in text, text
    assert "Initializing pipeline" not in text
