"""``nerel-batch progress``: the stage table and the time left, and clear refusals."""
import re

import pytest
from typer.testing import CliRunner

from nerel_spacy.cli import app

from conftest import unwrapped
from test_resumable_progress_file import whole_progress, write_checkpoint
from test_workflow_progress import project  # noqa: F401  (the fixture)

runner = CliRunner()


def test_it_prints_each_stage_and_the_training_time_left(project):  # noqa: F811
    checkpoint = project / "training" / "a" / "checkpoint"
    checkpoint.mkdir(parents=True)
    write_checkpoint(checkpoint, whole_progress(step=40, seconds=120.0))
    result = runner.invoke(app, ["progress", str(project), "--vars.steps", "1240"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = unwrapped(result.output)
    assert "train stopped 40/1240" in " ".join(text.split())
    assert "one not started 0/30" in " ".join(text.split())
    # 1,200 steps at this machine's 3 s, then 50 at the config's 2 s: 3,700 s
    assert "0 of 3 stages done; ≈ 1 h 02 min of training left" in text
    assert "timed at their configs' pace, measured on a test box" in text


def test_an_unknown_workflow_exits_2_naming_the_ones_there_are(project):  # noqa: F811
    result = runner.invoke(app, ["progress", str(project), "--workflow", "nope"])
    assert result.exit_code == 2
    assert "has no workflow 'nope'; it has all" in unwrapped(result.output)


def test_vars_without_the_folder_are_read_in_the_current_folder(project, monkeypatch):  # noqa: F811
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["progress", "--vars.steps", "1240"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "train not started 0/1240" in " ".join(unwrapped(result.output).split())


def test_a_running_stage_shows_the_step_its_loop_reached_and_when(project):  # noqa: F811
    from nerel_spacy.resumable import output_lock
    from nerel_spacy.resumable.live import LiveProgress

    folder = project / "training" / "a"
    (folder / "checkpoint").mkdir(parents=True)
    write_checkpoint(folder / "checkpoint", whole_progress(step=40, seconds=120.0))
    LiveProgress(folder).step_done(60, 240.0)
    with output_lock(folder):
        result = runner.invoke(app, ["progress", str(project), "--vars.steps", "1240"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    text = " ".join(unwrapped(result.output).split())
    assert "train running 60/1240" in text and "4.00" in text
    assert re.search(r"training now: training/a \(pid \d+, at step 60 \d+ s ago\)", text), text


@pytest.mark.parametrize("damage,named", [
    (lambda checkpoint: (checkpoint / "progress.json").write_text('{"step": 4', encoding="utf8"),
     "unreadable progress.json: Expecting"),
    # a whole progress.json, but the optimizer's moments gone: train refuses it, so it is not "stopped 40/1240"
    (lambda checkpoint: (write_checkpoint(checkpoint, whole_progress(step=40)), (checkpoint / "optimizer.npz").unlink()),
     "missing optimizer.npz"),
])
def test_a_damaged_checkpoint_is_shown_and_named_not_done(project, damage, named):  # noqa: F811
    folder = project / "training" / "a"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "model-last").mkdir()
    (folder / "model-last" / "config.cfg").write_text("", encoding="utf8")
    damage(folder / "checkpoint")
    result = runner.invoke(app, ["progress", str(project), "--vars.steps", "1240"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = " ".join(unwrapped(result.output).split())
    assert "train damaged 0/1240" in text and "done 1240/1240" not in text and "stopped" not in text
    assert f"damaged: training/a/checkpoint ({named}" in text, text
    assert "A stage cannot resume from a damaged checkpoint and is timed from its start" in text, text


def test_a_missing_schedule_or_config_exits_2_with_a_message(project):  # noqa: F811
    (project / "rounds.cfg").unlink()
    result = runner.invoke(app, ["progress", str(project)])
    assert result.exit_code == 2 and isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert "rounds.cfg: no such schedule file" in unwrapped(result.output)
    (project / "rounds.cfg").write_text("[rounds.one]\nsteps = 30\nlearn_rate = 0.1\n", encoding="utf8")
    yml = (project / "project.yml").read_text(encoding="utf8")
    (project / "project.yml").write_text(yml.replace(" --config configs/x.cfg", ""), encoding="utf8")
    result = runner.invoke(app, ["progress", str(project)])  # train-rounds' default --config is not there
    assert result.exit_code == 2 and isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert "its config configs/joint_trf_continue.cfg does not exist" in unwrapped(result.output)
    result = runner.invoke(app, ["progress", str(project), "--nope"])
    assert result.exit_code == 2 and "No such option" in unwrapped(result.output)
