"""``nerel_spacy.workflow_progress``: a workflow's training stages from project.yml, and each one's state."""
import json
import os

import pytest
import typer

from nerel_spacy.cli import app
from nerel_spacy.resumable import output_lock
from nerel_spacy.resumable.live import LiveProgress
from nerel_spacy.resumable.lock import lock_holder
from nerel_spacy.workflow_progress import (
    DAMAGED, DONE, NOT_STARTED, RUNNING, STOPPED, WorkflowError, planned_stages, stage_state,
)

from conftest import REPO_ROOT
from test_resumable_progress_file import whole_progress, write_checkpoint, write_progress

COMMANDS = typer.main.get_command(app)

PROJECT = """\
vars:
  steps: 100
workflows:
  all:
    - prepare
    - train
    - rounds
commands:
  - name: prepare
    script:
      - "echo nothing to train here"
  - name: train
    script:
      - "nerel-batch set-windows a b --window 8 --stride 8"
      - "nerel-batch train configs/x.cfg --output training/a --paths.train corpus/train.spacy --training.max_steps ${vars.steps}"
  - name: rounds
    script:
      - "nerel-batch train-rounds training/a/model-best rounds.cfg --output training/r --config configs/x.cfg --window 8"
"""
CONFIG = """\
[paths]
train = null

[training]
max_steps = 50

[training.logger]
seconds_per_step = 2.0
measured_on = "a test box"
"""
ROUNDS = "[rounds]\n\n[rounds.one]\nsteps = 30\nlearn_rate = 0.1\n\n[rounds.two]\nsteps = 20\nlearn_rate = 0.05\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "project.yml").write_text(PROJECT, encoding="utf8")
    (tmp_path / "configs" / "x.cfg").write_text(CONFIG, encoding="utf8")
    (tmp_path / "rounds.cfg").write_text(ROUNDS, encoding="utf8")
    return tmp_path


def test_the_plan_is_the_train_and_round_lines_in_workflow_order_with_vars_filled_in(project):
    stages = planned_stages(COMMANDS, project)
    assert [(s.command, str(s.folder), s.max_steps) for s in stages] == [
        ("train", "training/a", 100), ("rounds", "training/r/one", 30), ("rounds", "training/r/two", 20),
    ]
    assert all(s.seconds_per_step == 2.0 and s.measured_on == "a test box" for s in stages)
    assert planned_stages(COMMANDS, project, overrides={"vars.steps": 7})[0].max_steps == 7


def test_without_an_override_a_stage_takes_its_configs_steps(project):
    yml = (project / "project.yml").read_text(encoding="utf8")
    (project / "project.yml").write_text(yml.replace(" --training.max_steps ${vars.steps}", ""), encoding="utf8")
    assert planned_stages(COMMANDS, project)[0].max_steps == 50


def test_states_come_from_the_folders(project):
    train, one, two = planned_stages(COMMANDS, project)
    checkpoint = project / "training" / "a" / "checkpoint"
    checkpoint.mkdir(parents=True)
    write_checkpoint(checkpoint, whole_progress(step=40, seconds=120.0))
    (project / "training" / "a" / "model-best").mkdir()
    (project / "training" / "a" / "model-best" / "meta.json").write_text(
        json.dumps({"performance": {"spans_nerel_f": 0.5}}), encoding="utf8")
    (project / "training" / "r" / "one" / "model-last").mkdir(parents=True)
    (project / "training" / "r" / "one" / "model-last" / "config.cfg").write_text("", encoding="utf8")

    stopped = stage_state(project, train)
    assert (stopped.status, stopped.step, stopped.best_nested_f) == (STOPPED, 40, 0.5)
    assert stopped.seconds_per_step == 3.0 and stopped.seconds_left == 60 * 3.0  # this machine's pace
    done = stage_state(project, one)
    assert (done.status, done.step, done.seconds_left) == (DONE, 30, 0.0)
    fresh = stage_state(project, two)
    assert (fresh.status, fresh.step, fresh.seconds_left) == (NOT_STARTED, 0, 20 * 2.0)  # the config's pace


def test_a_stage_whose_folder_another_process_trains_into_is_running(project):
    train = planned_stages(COMMANDS, project)[0]
    with output_lock(project / "training" / "a"):
        state = stage_state(project, train)
        assert (state.status, state.holder) == (RUNNING, os.getpid())
    assert lock_holder(project / "training" / "a" / ".train.lock") is None
    assert stage_state(project, train).status == NOT_STARTED


def test_a_running_stage_reports_the_step_its_loop_wrote_since_the_checkpoint(project):
    train = planned_stages(COMMANDS, project)[0]
    folder = project / "training" / "a"
    (folder / "checkpoint").mkdir(parents=True)
    write_checkpoint(folder / "checkpoint", whole_progress(step=40, seconds=120.0))
    LiveProgress(folder).step_done(60, 240.0)
    with output_lock(folder):
        state = stage_state(project, train)
        assert (state.status, state.step, state.seconds_per_step) == (RUNNING, 60, 4.0)
        assert state.live_written is not None
    stopped = stage_state(project, train)  # the lock is free: the file is a dead run's, the checkpoint counts
    assert (stopped.status, stopped.step, stopped.live_written) == (STOPPED, 40, None)


def test_unreadable_projects_are_named_errors(project, tmp_path_factory):
    with pytest.raises(WorkflowError, match="no project.yml"):
        planned_stages(COMMANDS, tmp_path_factory.mktemp("empty"))
    with pytest.raises(WorkflowError, match="no workflow 'cnn'; it has all"):
        planned_stages(COMMANDS, project, "cnn")
    yml = (project / "project.yml").read_text(encoding="utf8")
    (project / "project.yml").write_text(yml.replace(" --output training/a", ""), encoding="utf8")
    with pytest.raises(WorkflowError, match="project command 'train': nerel-batch train configs/x.cfg .*--output"):
        planned_stages(COMMANDS, project)


def test_the_projects_own_all_workflow_has_its_eight_stages():
    stages = planned_stages(COMMANDS, REPO_ROOT, "all")
    assert [(s.command, str(s.folder), s.max_steps) for s in stages] == [
        ("train", "training/joint_trf", 2000),
        ("train-heads", "training/joint_trf_heads", 4000),
        ("train-more", "training/joint_trf_heads_more", 1500),
        ("train-more-again", "training/joint_trf_heads_more_more", 1500),
        ("train-rounds", "training/joint_trf_heads_more_more_rounds/round5", 1500),
        ("train-rounds", "training/joint_trf_heads_more_more_rounds/round6", 1000),
        ("train-rounds", "training/joint_trf_heads_more_more_rounds/round7", 1000),
        ("train-rounds", "training/joint_trf_heads_more_more_rounds/round8_navec", 1000),
    ]
    # every stage's config states a pace and the CPU it was measured on
    assert all(s.seconds_per_step and ("AMD EPYC" in s.measured_on or "Intel Xeon" in s.measured_on) for s in stages)


def test_a_checkpoint_that_cannot_be_read_is_damaged_not_done(project):
    train, one, _ = planned_stages(COMMANDS, project)
    for stage, text in ((train, '{"step": 4'), (one, '{"seconds": 3}')):
        folder = project / stage.folder
        (folder / "checkpoint").mkdir(parents=True)
        (folder / "model-last").mkdir()
        (folder / "model-last" / "config.cfg").write_text("", encoding="utf8")
        (folder / "checkpoint" / "progress.json").write_text(text, encoding="utf8")
        state = stage_state(project, stage)
        assert (state.status, state.step, state.seconds_left) == (DAMAGED, 0, stage.max_steps * 2.0)
    (project / one.folder / "checkpoint" / "progress.json").unlink()
    assert stage_state(project, one).status == DAMAGED  # a checkpoint without it
    (project / one.folder / "checkpoint").rmdir()
    (project / one.folder / "checkpoint.old").mkdir()  # the loop takes it back when it resumes
    write_checkpoint(project / one.folder / "checkpoint.old", whole_progress(step=9))
    assert (stage_state(project, one).status, stage_state(project, one).step) == (STOPPED, 9)


@pytest.mark.parametrize("leave,damage", [
    # a kill between the loop's two renames, then a disk that cut checkpoint.old short: train takes it back
    # and refuses it, so it is not "not started" (nor "done", though model-last is there)
    (lambda folder: write_progress(folder / "checkpoint.old", '{"step": 9'), "unreadable progress.json: "),
    # a step but nothing else the loop resumes from: train refuses it, so it is not "stopped"
    (lambda folder: write_progress(folder / "checkpoint", {"step": 9, "seconds": 3}),
     "unreadable progress.json: no config, results, words, orders"),
    (lambda folder: (folder / "checkpoint").symlink_to(folder / "gone"), "not a folder"),
])
def test_a_checkpoint_train_would_refuse_is_damaged_and_named_as_train_names_it(project, leave, damage):
    train = planned_stages(COMMANDS, project)[0]
    folder = project / train.folder
    (folder / "model-last").mkdir(parents=True)
    (folder / "model-last" / "config.cfg").write_text("", encoding="utf8")
    leave(folder)
    state = stage_state(project, train)
    named = "checkpoint.old" if (folder / "checkpoint.old").exists() else "checkpoint"
    assert (state.status, state.step) == (DAMAGED, 0)
    assert state.checkpoint == train.folder / named
    assert state.damage.startswith(damage), state.damage


@pytest.mark.parametrize("edit,message", [
    (lambda p: (p / "rounds.cfg").unlink(), "project command 'rounds': rounds.cfg: no such schedule file"),
    (lambda p: (p / "rounds.cfg").write_text("[rounds.a]\nsteps = 0\nlearn_rate = 1\n", encoding="utf8"),
     "project command 'rounds': rounds.cfg, [rounds.a]: steps must be a positive whole number"),
    (lambda p: (p / "project.yml").write_text(PROJECT.replace(" --config configs/x.cfg", ""), encoding="utf8"),
     "project command 'rounds': its config configs/joint_trf_continue.cfg does not exist"),
    (lambda p: (p / "configs" / "x.cfg").write_text("[training\n", encoding="utf8"),
     "project command 'train': its config configs/x.cfg cannot be read"),
])
def test_a_schedule_or_config_a_stage_names_that_cannot_be_read_is_a_named_error(project, edit, message):
    edit(project)
    with pytest.raises(WorkflowError) as err:
        planned_stages(COMMANDS, project)
    assert message in str(err.value)


def test_a_schedule_without_the_rounds_header_is_read(project):
    (project / "rounds.cfg").write_text(ROUNDS.replace("[rounds]\n\n", ""), encoding="utf8")
    assert [str(s.folder) for s in planned_stages(COMMANDS, project)] == ["training/a", "training/r/one",
                                                                          "training/r/two"]


def test_the_projects_own_speed_workflow_has_the_student_and_the_cnn():
    stages = planned_stages(COMMANDS, REPO_ROOT, "speed", {"vars.cnn_config": "joint_cnn_fast"})
    student = "training/joint_trf_heads_more_more_rounds_student"
    assert [(s.command, str(s.folder), s.max_steps) for s in stages] == [
        ("distill", f"{student}-student-run/train", 4000), ("train-cnn", "training/joint_cnn_fast", 5000)]
    assert (str(stages[0].finished), str(stages[0].lock)) == (student, f"training/.{student.split('/')[1]}.distill.lock")


DISTILL = """\
workflows:
  speed:
    - distill
commands:
  - name: distill
    script:
      - "nerel-batch distill training/a/model-best training/s --steps 100 --layers 2"
"""


def test_a_student_runs_from_its_teacher_pass_on_stops_in_training_and_is_done_once_moved(project):
    from nerel_spacy.distill.student_run import LOCK_SUFFIX, beside

    (project / "project.yml").write_text(DISTILL, encoding="utf8")
    (stage,) = planned_stages(COMMANDS, project, "speed")
    assert stage_state(project, stage).status == NOT_STARTED
    with output_lock(project / "training" / "s", lock_file=beside(project / "training" / "s", LOCK_SUFFIX, hidden=True)):
        state = stage_state(project, stage)  # the teacher pass: no training yet, but the run is under way
        assert (state.status, state.step, state.holder) == (RUNNING, 0, os.getpid())
    write_checkpoint(project / stage.folder / "checkpoint", whole_progress(step=40, seconds=120.0))
    state = stage_state(project, stage)
    assert (state.status, state.step, state.seconds_left) == (STOPPED, 40, 60 * 3.0)
    (project / "training" / "s" / "model-last").mkdir(parents=True)  # an earlier student there: the kept run counts
    (project / "training" / "s" / "model-last" / "config.cfg").write_text("", encoding="utf8")
    assert stage_state(project, stage).status == STOPPED
    import shutil

    shutil.rmtree(project / "training" / "s-student-run")  # finished: moved to OUTPUT
    (project / "training" / "s" / "model-best").mkdir()
    (project / "training" / "s" / "model-best" / "meta.json").write_text(
        json.dumps({"performance": {"spans_nerel_f": 0.7}}), encoding="utf8")
    state = stage_state(project, stage)
    assert (state.status, state.step, state.best_nested_f) == (DONE, 100, 0.7)
