"""The spaCy project itself, end to end on the brat fixtures: convert → train → evaluate.

Runs `weasel run` (what `spacy project run` calls) in a copy of the project, with both
configs: the transformer one on the tiny random BERT, the CNN one on tiny fake navec
vectors. A handful of steps each: this checks the wiring, not the scores.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from conftest import REPO_ROOT
from vectors_helpers import write_fake_navec

FIXTURE_NEREL = REPO_ROOT / "tests" / "fixtures" / "brat" / "nerel"

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=150)]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("project")
    shutil.copy(REPO_ROOT / "project.yml", path / "project.yml")
    shutil.copytree(REPO_ROOT / "configs", path / "configs")
    return path


def weasel_run(project: Path, command: str, *variables: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "weasel", "run", command, str(project)]
    args += [f"--vars.{v}" for v in variables]
    result = subprocess.run(args, capture_output=True, text=True, cwd=project, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_convert_then_rerun_skips(project_dir):
    weasel_run(project_dir, "convert", f"nerel_dir={FIXTURE_NEREL}")
    assert (project_dir / "corpus" / "train.spacy").exists()
    assert (project_dir / "corpus" / "dev.spacy").exists()
    again = weasel_run(project_dir, "convert", f"nerel_dir={FIXTURE_NEREL}")
    assert "Skipping" in again.stdout


def train_transformer(project_dir: Path, tiny_bert_dir: Path) -> tuple:
    """Convert the fixtures (once) and train joint_trf on the tiny BERT; returns the vars."""
    if not (project_dir / "corpus" / "train.spacy").exists():
        weasel_run(project_dir, "convert", f"nerel_dir={FIXTURE_NEREL}")
    variables = ("config=joint_trf", f"encoder={tiny_bert_dir}", "max_steps=4", "eval_frequency=2")
    weasel_run(project_dir, "train", *variables)
    return variables


def test_transformer_config_trains_and_evaluates(project_dir, tiny_bert_dir):
    variables = train_transformer(project_dir, tiny_bert_dir)
    assert (project_dir / "training" / "joint_trf" / "model-best" / "config.cfg").exists()
    weasel_run(project_dir, "evaluate", *variables, "run=joint_trf")
    metrics = json.loads((project_dir / "metrics" / "joint_trf" / "dev.json").read_text())
    for key in ("seqeval_f", "ents_f", "cats_micro_f", "cats_micro_p", "natasha_mapping"):
        assert key in metrics


def test_cnn_config_trains(project_dir, tmp_path):
    if not (project_dir / "corpus" / "train.spacy").exists():
        weasel_run(project_dir, "convert", f"nerel_dir={FIXTURE_NEREL}")
    navec = write_fake_navec(tmp_path / "navec.tar", {"обама": 5, "москва": 4, "россия": 3}, dim=300, qdim=100)
    vectors = tmp_path / "vectors"
    result = subprocess.run(
        [sys.executable, "-m", "nerel_spacy", "prepare-vectors", str(vectors), "--navec", str(navec)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    weasel_run(
        project_dir, "train", "config=joint_cnn", f"vectors_dir={vectors}", "max_steps=4", "eval_frequency=2"
    )
    assert (project_dir / "training" / "joint_cnn" / "model-best" / "config.cfg").exists()


def test_train_more_continues_from_the_checkpoint(project_dir, tiny_bert_dir):
    """train-more sources both components: with a zero learning rate nothing may change."""
    if not (project_dir / "training" / "joint_trf" / "model-best").exists():
        train_transformer(project_dir, tiny_bert_dir)
    variables = ("more_from=joint_trf", "more_steps=2", "eval_frequency=1", "more_learn_rate=0.0",
                 "more_window=10", "more_stride=7")
    weasel_run(project_dir, "train-more", *variables)
    source = spacy.load(project_dir / "training" / "joint_trf" / "model-best")
    continued = spacy.load(project_dir / "training" / "joint_trf_more" / "model-best")
    get_spans = continued.config["components"]["transformer"]["model"]["get_spans"]
    assert (get_spans["window"], get_spans["stride"]) == (10, 7)
    assert continued.pipe_names == source.pipe_names
    assert continued.get_pipe("nerel_joint").labels == source.get_pipe("nerel_joint").labels
    for name in source.pipe_names:
        before_params = _weights(source.get_pipe(name).model)
        after_params = _weights(continued.get_pipe(name).model)
        assert len(before_params) == len(after_params) > 0
        for a, b in zip(before_params, after_params):
            assert a.shape == b.shape
            assert abs(a - b).max() < 1e-6
    weasel_run(project_dir, "evaluate", "run=joint_trf_more")
    assert (project_dir / "metrics" / "joint_trf_more" / "dev.json").exists()


def test_train_heads_trains_new_heads_on_the_frozen_encoder(project_dir, tiny_bert_dir):
    """train-heads sources the transformer and freezes it; nerel_joint starts afresh and learns."""
    if not (project_dir / "training" / "joint_trf" / "model-best").exists():
        train_transformer(project_dir, tiny_bert_dir)
    weasel_run(project_dir, "train-heads", "heads_from=joint_trf", "heads_steps=3", "heads_eval_frequency=1")
    source = spacy.load(project_dir / "training" / "joint_trf" / "model-best")
    trained = spacy.load(project_dir / "training" / "joint_trf_heads" / "model-last")
    assert trained.pipe_names == source.pipe_names
    for a, b in zip(_weights(source.get_pipe("transformer").model), _weights(trained.get_pipe("transformer").model)):
        assert a.shape == b.shape
        assert (a == b).all()
    relation_head = trained.config["components"]["nerel_joint"]["model"]["relation_head"]
    assert relation_head["@architectures"] == "nerel.RelationScorer.v2"
    before = _weights(source.get_pipe("nerel_joint").model)
    after = _weights(trained.get_pipe("nerel_joint").model)
    assert len(after) > 0
    assert any(a.shape != b.shape or abs(a - b).max() > 0 for a, b in zip(before, after))
    doc = trained("Президент России Владимир Путин посетил Москву.")
    assert doc._.trf_data is not None


def _weights(model) -> list:
    """Every weight of a thinc model as numpy: its own params and its PyTorch shims'."""
    weights = []
    for node in model.walk():
        weights += [node.get_param(name) for name in node.param_names if node.has_param(name)]
        for shim in node.shims:
            weights += [tensor.detach().numpy() for tensor in shim._model.state_dict().values()]
    return weights


def test_distill_trains_and_quantizes_a_student_of_the_trimmed_model(project_dir, tiny_bert_dir):
    if not (project_dir / "training" / "joint_trf" / "model-best").exists():
        train_transformer(project_dir, tiny_bert_dir)
    variables = ("run=joint_trf", "trim_words=none", "student_layers=1", "distill_steps=2", "eval_frequency=1")
    weasel_run(project_dir, "trim-vocab", *variables)
    weasel_run(project_dir, "distill", *variables)
    student = project_dir / "training" / "joint_trf_student"
    assert json.loads((student / "distill.json").read_text())["student"]["layers"] == {"transformer": [1]}
    int8 = spacy.load(student / "model-int8")
    assert int8.meta["quantization"] and int8("Путин посетил Москву.") is not None
