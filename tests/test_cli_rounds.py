"""``nerel-batch train-rounds``: its help, --plan, and clear refusals (the chain itself: test_rounds_chain)."""
from typer.testing import CliRunner

from nerel_spacy.cli import app

from conftest import REPO_ROOT, unwrapped

runner = CliRunner()


def test_help_says_what_a_round_is_and_how_a_second_run_resumes():
    result = runner.invoke(app, ["train-rounds", "--help"])
    assert result.exit_code == 0
    text = unwrapped(result.output)
    assert "[rounds.NAME]" in text and "finished rounds are skipped" in text and "--plan" in text
    assert "configs/rounds_headline.cfg" in text


def test_a_bad_schedule_is_a_usage_error_naming_the_file(tmp_path):
    (tmp_path / "rounds.cfg").write_text("[rounds]\n\n[rounds.a]\nsteps = 0\nlearn_rate = 1\n", encoding="utf8")
    result = runner.invoke(app, ["train-rounds", str(tmp_path), str(tmp_path / "rounds.cfg"),
                                 "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    # the round's [section] is printed as it is, not read as rich markup
    assert "rounds.cfg, [rounds.a]: steps must be a positive whole number, got 0" in unwrapped(result.output)
    assert not (tmp_path / "out").exists()


def test_the_headline_schedule_needs_vectors_and_a_pipeline(tmp_path):
    schedule = str(REPO_ROOT / "configs" / "rounds_headline.cfg")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.cfg").write_text("[nlp]\n", encoding="utf8")
    for name in ("train.spacy", "dev.spacy"):
        (tmp_path / name).write_bytes(b"")
    args = ["train-rounds", str(tmp_path / "model"), schedule, "--output", str(tmp_path / "out"),
            "--corpus", str(tmp_path), "--config", str(REPO_ROOT / "configs" / "joint_trf_continue.cfg"), "--plan"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "round round8_navec adds static vectors: pass --vectors" in \
        unwrapped(result.output)
    result = runner.invoke(app, args[:1] + [str(tmp_path)] + args[2:] + ["--vectors", str(tmp_path / "model")])
    assert result.exit_code == 2 and "not a pipeline folder (no config.cfg)" in unwrapped(result.output)


def test_plan_lists_every_round_and_trains_nothing(tmp_path):
    schedule = str(REPO_ROOT / "configs" / "rounds_headline.cfg")
    for folder in ("model", "vectors"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.cfg").write_text("[nlp]\n", encoding="utf8")
    for name in ("train.spacy", "dev.spacy"):
        (tmp_path / name).write_bytes(b"")
    result = runner.invoke(app, [
        "train-rounds", str(tmp_path / "model"), schedule, "--output", str(tmp_path / "out"), "--corpus",
        str(tmp_path), "--vectors", str(tmp_path / "vectors"),
        "--config", str(REPO_ROOT / "configs" / "joint_trf_continue.cfg"), "--plan"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "1. round5: 1500 steps at 0.0001: train", "2. round6: 1000 steps at 5e-05: train",
        "3. round7: 1000 steps at 2.5e-05: train", "4. round8_navec: 1000 steps at 2.5e-05, adds vectors: train",
        "4,500 steps to train (≈ 5 h 52 min on 2 cores of an AMD EPYC without AMX)"]
    assert not (tmp_path / "out").exists()
