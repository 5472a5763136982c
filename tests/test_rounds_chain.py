"""nerel_spacy.rounds.chain: a schedule's rounds train as train-more by hand would, once each.

The tiny random BERT pipeline, trained 3 steps with configs/joint_trf.cfg, is continued by a
two-round chain (the second adds static vectors) and, separately, by the same commands typed
one at a time (set-windows, add-vectors, nerel-batch train); both must end in the same weights.
"""
import json
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.rounds import ChainError, ChainSettings, Round, plan_chain, run_chain
from nerel_spacy.rounds.chain import RECORD, SUMMARY
from nerel_spacy.static_vectors import ARCHITECTURE, save_with_static_vectors
from nerel_spacy.windows import save_with_windows

from conftest import REPO_ROOT, make_nested_examples, model_weights, save_fixture_vectors

pytestmark = pytest.mark.slow
runner = CliRunner()
WINDOW, STRIDE = 8, 6
QUIET = {"training.logger.progress_bar": None}
ROUNDS = [Round("first", 3, 0.001), Round("second", 3, 0.001, add_vectors=True, vectors_scale=32.0)]


@pytest.fixture(scope="module")
def workspace(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("rounds")
    docs = [eg.reference for eg in make_nested_examples(spacy.blank("ru"))]
    DocBin(docs=docs, store_user_data=True).to_disk(root / "train.spacy")
    DocBin(docs=docs, store_user_data=True).to_disk(root / "dev.spacy")
    result = runner.invoke(app, [
        "train", str(REPO_ROOT / "configs" / "joint_trf.cfg"), "--output", str(root / "start"),
        "--paths.encoder", str(tiny_bert_dir), "--paths.train", str(root / "train.spacy"),
        "--paths.dev", str(root / "dev.spacy"), "--training.max_steps", "3", "--training.eval_frequency", "2",
        "--training.logger.progress_bar", "null",
        "--components.transformer.model.get_spans.window", str(WINDOW),
        "--components.transformer.model.get_spans.stride", str(STRIDE),
    ])
    assert result.exit_code == 0, result.output
    save_fixture_vectors(root / "vectors")
    return root


def settings(root, **changes):
    values = dict(base_config=REPO_ROOT / "configs" / "joint_trf_continue.cfg", train=root / "train.spacy",
                  dev=root / "dev.spacy", window=WINDOW, stride=STRIDE, eval_frequency=1, vectors=root / "vectors",
                  overrides=dict(QUIET))
    values.update(changes)
    return ChainSettings(**values)


def train_by_hand(root, init_model, output, vectors="null"):
    result = runner.invoke(app, [
        "train", str(REPO_ROOT / "configs" / "joint_trf_continue.cfg"), "--output", str(output),
        "--paths.init_model", str(init_model), "--paths.train", str(root / "train.spacy"),
        "--paths.dev", str(root / "dev.spacy"), "--training.max_steps", "3", "--training.eval_frequency", "1",
        "--training.optimizer.learn_rate.initial_rate", "0.001", "--initialize.vectors", str(vectors),
        "--training.logger.progress_bar", "null",
    ])
    assert result.exit_code == 0, result.output


def pipeline_weights(path):
    nlp = spacy.load(path)
    return [w for name in nlp.pipe_names for w in model_weights(nlp.get_pipe(name).model)]


@pytest.fixture(scope="module")
def chained(workspace):
    lines = []
    final = run_chain(workspace / "start" / "model-best", ROUNDS, workspace / "chain", settings(workspace),
                      log=lines.append)
    return final, lines


def test_the_chain_equals_train_more_by_hand_round_for_round(workspace, chained):
    final, lines = chained
    hand = workspace / "by_hand"
    hand.mkdir()
    save_with_windows(workspace / "start" / "model-best", hand / "first_source", WINDOW, STRIDE)
    train_by_hand(workspace, hand / "first_source", hand / "first")
    save_with_static_vectors(hand / "first" / "model-last", workspace / "vectors", hand / "second_vectors", scale=32.0)
    save_with_windows(hand / "second_vectors", hand / "second_source", WINDOW, STRIDE)
    train_by_hand(workspace, hand / "second_source", hand / "second", vectors=workspace / "vectors")

    chain_weights = pipeline_weights(final)
    hand_weights = pipeline_weights(hand / "second" / "model-best")
    start_weights = pipeline_weights(workspace / "start" / "model-best")
    assert len(chain_weights) == len(hand_weights) == len(start_weights) + 1  # + the vectors' projection
    assert all(numpy.array_equal(a, b) for a, b in zip(chain_weights, hand_weights))
    assert any(not numpy.array_equal(a, b) for a, b in zip(chain_weights, start_weights))  # it trained
    first = pipeline_weights(workspace / "chain" / "first" / "model-last")
    assert all(numpy.array_equal(a, b) for a, b in zip(first, pipeline_weights(hand / "first" / "model-last")))


def test_the_result_reads_the_vectors_and_the_record_says_what_ran(workspace, chained):
    final, lines = chained
    nlp = spacy.load(final)
    assert nlp.config["components"]["nerel_joint"]["model"]["tok2vec"]["@architectures"] == ARCHITECTURE
    assert nlp.vocab.vectors.shape[0] > 0
    get_spans = nlp.config["components"]["transformer"]["model"]["get_spans"]
    assert (get_spans["window"], get_spans["stride"]) == (WINDOW, STRIDE)
    summary = json.loads((workspace / "chain" / SUMMARY).read_text(encoding="utf8"))
    assert [r["name"] for r in summary["rounds"]] == ["first", "second"]
    assert all(r["status"] == "done" and 0 <= r["dev"]["spans_nerel_f"] <= 1 for r in summary["rounds"])
    assert summary["rounds"][1]["reads_vectors"] and not summary["rounds"][0]["reads_vectors"]
    assert not (workspace / "chain" / "first_source").exists()  # sources are removed once a round is done
    assert "2 rounds into" in lines[0] and "6 steps to train (≈ 0 min on 2 cores of an AMD EPYC" in lines[0]


def test_a_second_run_trains_nothing_and_a_changed_round_trains_again_from_there(workspace, chained):
    final, _ = chained
    chain = workspace / "chain"
    stamps = {name: (chain / name / "model-last" / "meta.json").stat().st_mtime_ns for name in ("first", "second")}
    lines = []
    run_chain(workspace / "start" / "model-best", ROUNDS, chain, settings(workspace), log=lines.append)
    assert "0 steps to train\n" in lines[0] and "(done)" in lines[0]
    assert stamps == {name: (chain / name / "model-last" / "meta.json").stat().st_mtime_ns for name in stamps}

    changed = [ROUNDS[0], Round("second", 3, 0.002, add_vectors=True)]
    assert [p.state for p in plan_chain(workspace / "start" / "model-best", changed, chain,
                                        settings(workspace))] == ["done", "retrain"]
    (workspace / "copy").mkdir(exist_ok=True)
    for name in ("train.spacy", "dev.spacy"):
        (workspace / "copy" / name).write_bytes((workspace / name).read_bytes())
    moved = settings(workspace, train=workspace / "copy" / "train.spacy", dev=workspace / "copy" / "dev.spacy")
    assert [p.state for p in plan_chain(workspace / "start" / "model-best", ROUNDS, chain,
                                        moved)] == ["done", "done"]  # the same bytes elsewhere: the same corpus
    (workspace / "copy" / "dev.spacy").write_bytes((workspace / "train.spacy").read_bytes()[:-1] + b"\0")
    assert [p.state for p in plan_chain(workspace / "start" / "model-best", ROUNDS, chain,
                                        moved)] == ["retrain", "retrain"]
    assert [p.state for p in plan_chain(workspace / "start" / "model-best", ROUNDS, chain,
                                        settings(workspace, eval_frequency=2))] == ["retrain", "retrain"]


def test_a_stopped_round_resumes_and_a_cut_record_trains_again(workspace, chained, tmp_path):
    import shutil

    chain = tmp_path / "chain"
    shutil.copytree(workspace / "chain", chain)
    record = json.loads((chain / "second" / RECORD).read_text(encoding="utf8"))
    (chain / "second" / RECORD).write_text(json.dumps({**record, "status": "training"}), encoding="utf8")
    (chain / "first" / RECORD).write_text("{\"fingerprint\": ", encoding="utf8")
    states = [p.state for p in plan_chain(workspace / "start" / "model-best", ROUNDS, chain, settings(workspace))]
    assert states == ["retrain", "resume"]


def test_what_would_fail_later_is_refused_before_any_training(workspace, tmp_path):
    start = workspace / "start" / "model-best"
    with pytest.raises(ChainError, match="pass --vectors"):
        run_chain(start, ROUNDS, tmp_path / "out", settings(workspace, vectors=None))
    with pytest.raises(ChainError, match="not a pipeline folder"):
        run_chain(workspace, ROUNDS, tmp_path / "out", settings(workspace))
    with pytest.raises(ChainError, match="the training corpus .*nope.spacy does not exist"):
        run_chain(start, ROUNDS, tmp_path / "out", settings(workspace, train=tmp_path / "nope.spacy"))
    with pytest.raises(ChainError, match="round first: stride 9 is larger than window 8"):
        run_chain(start, ROUNDS, tmp_path / "out", settings(workspace, stride=9))
    with pytest.raises(ChainError, match="round model-best: the name is taken"):
        run_chain(start, [Round("model-best", 1, 0.0)], tmp_path / "out", settings(workspace, vectors=None))
    with pytest.raises(ChainError, match="round a_source: the name is taken"):
        run_chain(start, [Round("a_source", 1, 0.0)], tmp_path / "out", settings(workspace, vectors=None))
    (tmp_path / "out" / "first").mkdir(parents=True)
    (tmp_path / "out" / "first" / "model-last").mkdir()
    with pytest.raises(ChainError, match="was not written by train-rounds"):
        run_chain(start, ROUNDS, tmp_path / "out", settings(workspace))
    assert not (tmp_path / "out" / "second").exists()


def test_a_round_stopped_by_sigterm_resumes_to_the_weights_of_an_unstopped_chain(workspace, chained, tmp_path,
                                                                                 monkeypatch):
    import shutil
    import signal

    from nerel_spacy.resumable import TrainingStopped
    from test_resumable_loop import stop_at_step

    chain = tmp_path / "chain"
    chain.mkdir()
    shutil.copytree(workspace / "chain" / "first", chain / "first")  # the first round done, as the fixture did it
    with monkeypatch.context() as patch:
        stop_at_step(patch, 2, signal.SIGTERM)  # in the second round, between its evaluations
        with pytest.raises(TrainingStopped):
            run_chain(workspace / "start" / "model-best", ROUNDS, chain, settings(workspace), log=lambda line: None)
    assert json.loads((chain / "second" / RECORD).read_text(encoding="utf8"))["status"] == "training"
    assert (chain / "second" / "checkpoint").exists() and not (chain / "model-best").exists()
    lines = []
    final = run_chain(workspace / "start" / "model-best", ROUNDS, chain, settings(workspace), log=lines.append)
    assert "1. first: 3 steps at 0.001 (done)" in lines[0] and "(resume)" in lines[0]
    assert any("Round 2/2 (second): resuming" in line for line in lines)
    assert all(numpy.array_equal(a, b) for a, b in zip(pipeline_weights(final), pipeline_weights(chained[0])))


def test_an_output_that_holds_the_model_or_a_model_without_a_transformer_is_refused(workspace, tmp_path):
    from nerel_spacy.rounds.schedule import folder_checksum

    start = workspace / "start"
    before = folder_checksum(start)
    with pytest.raises(ChainError, match="--output .*start holds MODEL .*model-best: .*e.g. .*start_rounds"):
        run_chain(start / "model-best", ROUNDS[:1], start, settings(workspace, vectors=None))
    with pytest.raises(ChainError, match="lies inside MODEL"):
        run_chain(start / "model-best", ROUNDS[:1], start / "model-best" / "r", settings(workspace, vectors=None))
    with pytest.raises(ChainError, match="is --vectors"):
        run_chain(start / "model-best", ROUNDS, workspace / "vectors", settings(workspace))
    assert folder_checksum(start) == before and not (start / "first").exists()
    cnn = tmp_path / "cnn"
    cnn.mkdir()
    (cnn / "config.cfg").write_text('[nlp]\npipeline = ["tok2vec","nerel_joint"]\n', encoding="utf8")
    with pytest.raises(ChainError, match="has no 'transformer' component .*its pipeline: tok2vec, nerel_joint"):
        run_chain(cnn, ROUNDS[:1], tmp_path / "out", settings(workspace, vectors=None))
    assert not (tmp_path / "out").exists()


def test_a_shortened_schedule_copies_its_own_last_rounds_model_best(workspace, chained, tmp_path):
    import shutil

    from nerel_spacy.rounds.schedule import folder_checksum

    chain = tmp_path / "chain"
    shutil.copytree(workspace / "chain", chain)
    assert folder_checksum(chain / "model-best") == folder_checksum(chain / "second" / "model-best")
    lines = []
    run_chain(workspace / "start" / "model-best", ROUNDS[:1], chain, settings(workspace), log=lines.append)
    assert "0 steps to train" in lines[1] and "(round first's model-best)" in lines[-1]
    assert folder_checksum(chain / "model-best") == folder_checksum(chain / "first" / "model-best")
    summary = json.loads((chain / SUMMARY).read_text(encoding="utf8"))
    assert (summary["model_best_round"], summary["model_best_fingerprint"]) == \
        ("first", json.loads((chain / "first" / RECORD).read_text(encoding="utf8"))["fingerprint"])
    # a rounds.json written before it said which round model-best came from: copied again
    del summary["model_best_round"], summary["model_best_fingerprint"]
    (chain / SUMMARY).write_text(json.dumps(summary), encoding="utf8")
    shutil.rmtree(chain / "model-best")
    shutil.copytree(chain / "second" / "model-best", chain / "model-best")  # as if left there by the old code
    run_chain(workspace / "start" / "model-best", ROUNDS[:1], chain, settings(workspace), log=lambda line: None)
    assert folder_checksum(chain / "model-best") == folder_checksum(chain / "first" / "model-best")
    run_chain(workspace / "start" / "model-best", ROUNDS, chain, settings(workspace), log=lambda line: None)
    assert folder_checksum(chain / "model-best") == folder_checksum(chain / "second" / "model-best")


def test_a_stopped_round_resumes_however_output_and_corpus_are_spelled(workspace, chained, tmp_path, monkeypatch):
    import shutil
    import signal

    from nerel_spacy.resumable import TrainingStopped
    from test_resumable_loop import stop_at_step

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    for name in ("train.spacy", "dev.spacy"):
        shutil.copy(workspace / name, tmp_path / "corpus" / name)
    chain = tmp_path / "chain"
    chain.mkdir()
    shutil.copytree(workspace / "chain" / "first", chain / "first")
    absolute = settings(workspace, train=tmp_path / "corpus" / "train.spacy", dev=tmp_path / "corpus" / "dev.spacy")
    with monkeypatch.context() as patch:
        stop_at_step(patch, 2, signal.SIGTERM)
        with pytest.raises(TrainingStopped):
            run_chain(workspace / "start" / "model-best", ROUNDS, chain, absolute, log=lambda line: None)
    progress_path = chain / "second" / "checkpoint" / "progress.json"
    progress = json.loads(progress_path.read_text(encoding="utf8"))
    assert 'init_model = "chain/second_source"' in progress["config"]  # spelled relative to the current folder
    assert 'train = "corpus/train.spacy"' in progress["config"]
    shutil.copytree(chain, tmp_path / "other")

    # a checkpoint written with other spellings of the same paths (as before they were normalised) resumes
    progress["config"] = progress["config"].replace('"chain/', f'"{tmp_path}/chain/').replace(
        '"corpus/', '"./corpus/')
    progress_path.write_text(json.dumps(progress), encoding="utf8")
    relative = settings(workspace, train=Path("corpus/train.spacy"), dev=Path("./corpus/dev.spacy"))
    lines = []
    final = run_chain(workspace / "start" / "model-best", ROUNDS, Path("chain"), relative, log=lines.append)
    assert any("Round 2/2 (second): resuming" in line for line in lines)
    assert "(resume) after step 2, 1 to go" in lines[0]
    assert all(numpy.array_equal(a, b) for a, b in zip(pipeline_weights(final), pipeline_weights(chained[0])))

    # one whose settings really differ is refused with advice train-rounds can follow, and that advice works
    other = tmp_path / "other"
    progress_path = other / "second" / "checkpoint" / "progress.json"
    progress = json.loads(progress_path.read_text(encoding="utf8"))
    progress["config"] = progress["config"].replace('dev = "corpus/dev.spacy"', 'dev = "corpus/train.spacy"')
    progress_path.write_text(json.dumps(progress), encoding="utf8")
    with pytest.raises(ChainError) as err:
        run_chain(workspace / "start" / "model-best", ROUNDS, other, relative, log=lambda line: None)
    assert "paths.dev: 'corpus/train.spacy' → 'corpus/dev.spacy'" in str(err.value)
    assert f"delete {Path('other/second/checkpoint')} to train the round again" in str(err.value).replace(
        str(tmp_path) + "/", "")
    assert "--fresh" not in str(err.value)
    shutil.rmtree(other / "second" / "checkpoint")
    final = run_chain(workspace / "start" / "model-best", ROUNDS, other, relative, log=lambda line: None)
    assert all(numpy.array_equal(a, b) for a, b in zip(pipeline_weights(final), pipeline_weights(chained[0])))


def test_the_loops_advice_to_pass_fresh_becomes_one_train_rounds_can_follow(workspace, chained, tmp_path,
                                                                          monkeypatch):
    import shutil

    from nerel_spacy.resumable import ResumeError
    from nerel_spacy.rounds import chain as chain_module

    chain = tmp_path / "chain"
    shutil.copytree(workspace / "chain", chain)
    record = json.loads((chain / "second" / RECORD).read_text(encoding="utf8"))
    (chain / "second" / RECORD).write_text(json.dumps({**record, "status": "training"}), encoding="utf8")
    shutil.copytree(chain / "second" / "model-last", chain / "second_source")
    checkpoint = chain / "second" / "checkpoint"

    def refuse(*args, **kwargs):
        raise ResumeError(f"checkpoint {checkpoint} is damaged (unreadable optimizer state), so the run cannot "
                          f"resume from it. Pass --fresh to start over (the checkpoint is then removed), or delete "
                          f"{checkpoint} yourself and run again.")

    monkeypatch.setattr(chain_module, "train_round", refuse)
    with pytest.raises(ChainError) as err:
        run_chain(workspace / "start" / "model-best", ROUNDS, chain, settings(workspace), log=lambda line: None)
    assert str(err.value) == (f"round second: checkpoint {checkpoint} is damaged (unreadable optimizer state), so "
                              f"the run cannot resume from it.\nDelete {checkpoint} to train the round again from "
                              "its start")
