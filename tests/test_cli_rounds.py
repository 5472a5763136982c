"""``nerel-batch train-rounds``: its help, --plan, and clear refusals (the chain itself: test_rounds_chain)."""
import json

from typer.testing import CliRunner

from nerel_spacy.cli import app

from conftest import REPO_ROOT, unwrapped
from test_resumable_progress_file import write_checkpoint

runner = CliRunner()
CONTINUE = str(REPO_ROOT / "configs" / "joint_trf_continue.cfg")
# what train-rounds reads of MODEL: a transformer whose windows each round sets
TRF_CONFIG = ('[nlp]\npipeline = ["transformer","nerel_joint"]\n\n[components]\n\n[components.transformer]\n\n'
              '[components.transformer.model]\n\n[components.transformer.model.get_spans]\nwindow = 128\n')
CNN_CONFIG = ('[nlp]\npipeline = ["tok2vec","nerel_joint"]\n\n[components]\n\n[components.tok2vec]\n'
              'factory = "tok2vec"\n')


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
        (tmp_path / folder / "config.cfg").write_text(TRF_CONFIG, encoding="utf8")
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


def fake_run(tmp_path, model_config=TRF_CONFIG):
    """A MODEL, vectors and a corpus that --plan and the checks can read (nothing can train)."""
    for folder in ("model", "vectors"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.cfg").write_text(model_config if folder == "model" else TRF_CONFIG,
                                                    encoding="utf8")
    (tmp_path / "corpus").mkdir()
    for name in ("train.spacy", "dev.spacy"):
        (tmp_path / "corpus" / name).write_bytes(b"")
    return ["train-rounds", str(tmp_path / "model"), str(REPO_ROOT / "configs" / "rounds_headline.cfg"),
            "--corpus", str(tmp_path / "corpus"), "--vectors", str(tmp_path / "vectors"), "--config", CONTINUE]


def test_a_cnn_model_is_refused_with_a_message_by_plan_and_run(tmp_path):
    args = fake_run(tmp_path, CNN_CONFIG) + ["--output", str(tmp_path / "out")]
    for extra in (["--plan"], []):
        result = runner.invoke(app, args + extra)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        text = unwrapped(result.output)
        assert "has no 'transformer' component with strided windows (its pipeline: tok2vec, nerel_joint)" in text
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_holds_or_lies_inside_what_the_chain_reads_is_refused(tmp_path):
    from nerel_spacy.rounds.schedule import folder_checksum

    args = fake_run(tmp_path)
    (tmp_path / "model" / "model-best").mkdir()
    (tmp_path / "model" / "model-best" / "config.cfg").write_text(TRF_CONFIG, encoding="utf8")
    before = folder_checksum(tmp_path)
    cases = [(tmp_path / "model", "is MODEL"), (tmp_path, "holds MODEL"),
             (tmp_path / "model" / "rounds", "lies inside MODEL"),
             (tmp_path / "vectors" / "r", "lies inside --vectors"),
             (tmp_path / "corpus", "holds the training corpus")]
    for output, why in cases:
        for extra in (["--plan"], []):
            result = runner.invoke(app, args + ["--output", str(output)] + extra)
            assert result.exit_code == 2, result.output
            text = unwrapped(result.output)
            assert f"--output {output} {why}" in text and "would overwrite what it reads" in text, text
    # MODEL = RUN/model-best with --output RUN: the review's case, with the folder to use instead
    result = runner.invoke(app, [args[0], str(tmp_path / "model" / "model-best")] + args[2:]
                           + ["--output", str(tmp_path / "model")])
    assert result.exit_code == 2 and f"e.g. {tmp_path / 'model_rounds'}" in unwrapped(result.output)
    assert folder_checksum(tmp_path) == before and not (tmp_path / "model" / "rounds").exists()
    # beside the corpus files (inside its folder) is fine: their checksums do not see it
    result = runner.invoke(app, args + ["--output", str(tmp_path / "corpus" / "rounds"), "--plan"])
    assert result.exit_code == 0, result.output


def test_an_option_train_rounds_lacks_or_a_bad_override_is_a_message_not_a_traceback(tmp_path):
    args = fake_run(tmp_path) + ["--output", str(tmp_path / "out"), "--plan"]
    result = runner.invoke(app, args + ["--fresh"])  # what the loop's advice used to name
    assert result.exit_code == 2 and isinstance(result.exception, (SystemExit, type(None))), result.exception
    text = unwrapped(result.output)
    assert "No such option '--fresh': train-rounds' own options are listed by --help" in text
    assert "--SECTION.KEY VALUE" in text
    result = runner.invoke(app, args + ["--nope.key", "1"])
    assert result.exit_code == 2 and isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert "cannot be read" in unwrapped(result.output) and "nope -> key" in unwrapped(result.output)


def progress_text(**fields) -> str:
    """A progress.json as the loop writes it, with ``fields`` changed (None: left out)."""
    progress = {"step": 1000, "results": [[0.5, 1000]], "words": 90000, "seconds": 4000, "orders": [[0, 1]],
                "config": "[paths]\n", **fields}
    return json.dumps({key: value for key, value in progress.items() if value is not None})


def stopped_round(tmp_path, progress_text):
    """fake_run's arguments, with OUTPUT/round5 stopped: its record and a checkpoint's progress.json."""
    from nerel_spacy.rounds import ChainSettings, plan_chain, read_schedule

    args = fake_run(tmp_path) + ["--output", str(tmp_path / "out")]
    settings = ChainSettings(base_config=CONTINUE, train=tmp_path / "corpus" / "train.spacy",
                             dev=tmp_path / "corpus" / "dev.spacy", vectors=tmp_path / "vectors")
    planned = plan_chain(tmp_path / "model", read_schedule(args[2]), tmp_path / "out", settings)
    folder = tmp_path / "out" / "round5"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "round.json").write_text(json.dumps({"fingerprint": planned[0].fingerprint, "status": "training"}),
                                       encoding="utf8")
    write_checkpoint(folder / "checkpoint", progress_text)
    return args


def test_plan_counts_the_steps_a_stopped_round_has_left_and_writes_nothing(tmp_path):
    from nerel_spacy.rounds.schedule import folder_checksum

    args = stopped_round(tmp_path, progress_text())
    before = sorted(p.name for p in (tmp_path / "out").rglob("*")), folder_checksum(tmp_path / "out")
    result = runner.invoke(app, args + ["--plan"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "1. round5: 1500 steps at 0.0001: resume after step 1000, 500 to go", "2. round6: 1000 steps at 5e-05: train"]
    assert result.output.splitlines()[-1].startswith("3,500 steps to train (≈ ")
    assert (sorted(p.name for p in (tmp_path / "out").rglob("*")), folder_checksum(tmp_path / "out")) == before


def test_a_stopped_round_whose_checkpoint_cannot_be_read_is_named_before_any_work(tmp_path):
    args = stopped_round(tmp_path, '{"step": ')
    result = runner.invoke(app, args + ["--plan"])
    assert result.exit_code == 0, result.output
    checkpoint = tmp_path / "out" / "round5" / "checkpoint"
    damaged = f"checkpoint {checkpoint} is damaged (unreadable progress.json: "
    assert result.output.splitlines()[0].startswith(f"1. round5: 1500 steps at 0.0001: resume but {damaged}")
    assert f"delete {checkpoint} to train the round from its start" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"round round5 cannot resume: {damaged}" in unwrapped(result.output)
    assert not (tmp_path / "out" / "round5_source").exists()


def test_a_stopped_round_whose_checkpoint_the_loop_would_refuse_is_named_before_any_work(tmp_path):
    # parseable, with a step, but without what the loop resumes from: the plan used to promise a resume
    args = stopped_round(tmp_path, progress_text(results=None, words=None))
    result = runner.invoke(app, args + ["--plan"])
    checkpoint = tmp_path / "out" / "round5" / "checkpoint"
    assert result.output.splitlines()[0] == (
        f"1. round5: 1500 steps at 0.0001: resume but checkpoint {checkpoint} is damaged (unreadable progress.json: "
        f"no results, words); delete {checkpoint} to train the round from its start"), result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "round round5 cannot resume" in unwrapped(result.output), result.output
    assert not (tmp_path / "out" / "round5_source").exists()


def test_a_damaged_checkpoint_old_is_the_one_named_for_deleting(tmp_path):
    args = stopped_round(tmp_path, progress_text())
    folder = tmp_path / "out" / "round5"
    (folder / "checkpoint").rename(folder / "checkpoint.old")  # a kill between the loop's two renames
    assert "resume after step 1000, 500 to go" in runner.invoke(app, args + ["--plan"]).output
    (folder / "checkpoint.old" / "progress.json").write_text('{"step": ', encoding="utf8")
    result = runner.invoke(app, args + ["--plan"])
    assert f"resume but checkpoint {folder / 'checkpoint.old'} is damaged" in result.output, result.output
    assert f"delete {folder / 'checkpoint.old'} to train" in result.output, result.output
