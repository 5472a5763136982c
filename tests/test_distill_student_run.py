"""The student's run kept beside OUTPUT: which settings it was made with, and what finishing it leaves."""
import json
from pathlib import Path

import pytest

from nerel_spacy.distill.student_run import StudentRun, StudentRunMismatch, run_settings, settings_differences


def test_run_settings_resolve_paths_and_keep_the_rest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = run_settings(teacher=Path("t"), layers=4, attention_dropout=None)
    assert found == {"format": 1, "teacher": str(tmp_path / "t"), "layers": 4, "attention_dropout": None}


def test_differences_name_each_setting_as_its_option():
    earlier = run_settings(teacher="a", teacher_files="x", layers=4, learn_rate=1.5e-4, texts=[0, "e"])
    now = run_settings(teacher="a", teacher_files="y", layers=2, learn_rate=1.5e-4, texts=[3, "f"])
    assert settings_differences(earlier, now) == [
        "--layers: 4 then, 2 now", 'TEACHER\'s files: "x" then, "y" now', '--texts: [0, "e"] then, [3, "f"] now']
    assert settings_differences(earlier, earlier) == []
    assert settings_differences({**earlier, "format": 0}, earlier) == ["it was written by another version of nerel-spacy"]


def test_a_run_is_checked_only_once_it_is_ready(tmp_path):
    run = StudentRun(tmp_path / "out-student-run")
    run.check(run_settings(layers=4))  # nothing kept: nothing to refuse
    run.begin()
    assert not run.ready and run.checkpoint_step() is None
    run.check(run_settings(layers=2))  # begun, not ready (killed while preparing): begun again, not refused
    run.mark_ready(run_settings(layers=4))
    run.check(run_settings(layers=4))
    with pytest.raises(StudentRunMismatch, match="--layers: 4 then, 2 now.*--fresh"):
        run.check(run_settings(layers=2))
    (run.folder / "run.json").write_text("{")
    with pytest.raises(StudentRunMismatch, match="can't be read.*--fresh"):
        run.check(run_settings(layers=4))


def test_the_checkpoint_step_is_the_one_a_resume_reads(tmp_path):
    run = StudentRun(tmp_path / "out-student-run")
    checkpoint = run.training_output / "checkpoint"
    checkpoint.mkdir(parents=True)
    (checkpoint / "progress.json").write_text(json.dumps(
        {"config": "", "step": 500, "results": [[0.5, 500]], "words": 9, "seconds": 1, "orders": [[0]]}))
    assert run.checkpoint_step() == 500
    (checkpoint / "progress.json").write_text("{")
    assert run.checkpoint_step() is None  # damaged: the loop refuses it, naming it


def test_finish_leaves_what_output_holds(tmp_path):
    run = StudentRun(tmp_path / "out-student-run")
    run.begin()
    for name in ("student-init", "distill-corpus", "train/model-best", "train/model-last", "train/checkpoint"):
        (run.folder / name).mkdir(parents=True)
    (run.folder / "train" / "model-best" / "meta.json").write_text("{}")
    run.mark_ready(run_settings(layers=4))
    run.finish()
    assert sorted(p.name for p in run.folder.iterdir()) == ["distill-corpus", "model-best", "model-last", "student-init"]
    assert (run.folder / "model-best" / "meta.json").read_text() == "{}" and not run.ready
