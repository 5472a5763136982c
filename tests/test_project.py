"""The spaCy project's commands outside `all`, on the brat fixtures: convert's rerun, the
CNN config, trim-vocab and distill.

Runs `weasel run` (what `spacy project run` calls) in a copy of the project: the CNN on tiny
fake navec vectors, the transformer on the tiny random BERT. A handful of steps each: this
checks the wiring, not the scores. `all` itself (train, train-heads, train-more twice,
evaluate, trim-vocab, quantize, benchmark, package) runs in test_quickstart_transformer.
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

pytestmark = pytest.mark.slow


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
