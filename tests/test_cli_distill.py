"""``nerel-batch distill`` end to end on the tiny transformer pipeline, and its refusals."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.corpus import read_corpus
from nerel_spacy.soft_targets import TEACHER_KEY
from nerel_spacy.distill.student import choose_layers, keep_layers, set_attention_dropout, shrink_pipeline
from nerel_spacy.distill.teacher import TEACHER_SOURCE, with_teacher_outputs
from nerel_spacy.quantize import find_transformer_shims, quantize_pipeline
from conftest import assert_annotates
from quantize_helpers import save_gold_corpus, save_trained_cnn, save_trained_trf


@pytest.fixture(scope="module")
def teacher_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("teacher") / "model")


@pytest.mark.parametrize("n_teacher,n_student,expected", [
    (12, 4, [0, 4, 7, 11]), (12, 6, [0, 2, 4, 7, 9, 11]), (12, 2, [0, 11]), (12, 1, [11]), (2, 2, [0, 1]),
])
def test_choose_layers_spreads_them_keeping_first_and_last(n_teacher, n_student, expected):
    assert choose_layers(n_teacher, n_student) == expected


def test_choose_layers_refuses_more_layers_than_the_teacher_has():
    with pytest.raises(ValueError, match="between 1 and 12"):
        choose_layers(12, 13)


def test_keep_layers_keeps_the_chosen_modules_in_order():
    import torch
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                                 intermediate_size=16))
    layers = list(model.encoder.layer)
    keep_layers(model, [0, 2])
    assert list(model.encoder.layer) == [layers[0], layers[2]] and model.config.num_hidden_layers == 2
    assert model(torch.tensor([[1, 2, 3]])).last_hidden_state.shape == (1, 3, 8)
    with pytest.raises(ValueError, match="not distinct"):
        keep_layers(model, [1, 1])


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_set_attention_dropout_reaches_the_attention_kernels_and_the_config(attn_implementation):
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=16, attention_probs_dropout_prob=0.5, hidden_dropout_prob=0.0)
    model = BertModel._from_config(config, attn_implementation=attn_implementation)
    model.train()
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    torch.manual_seed(0)
    assert not torch.allclose(model(ids).last_hidden_state, model(ids).last_hidden_state)  # dropout is on
    set_attention_dropout(model, 0.0)
    assert model.config.attention_probs_dropout_prob == 0.0
    assert torch.allclose(model(ids).last_hidden_state, model(ids).last_hidden_state)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        set_attention_dropout(model, 1.0)


@pytest.mark.slow
def test_shrink_refuses_cnn_and_int8_pipelines(teacher_dir, tmp_path):
    with pytest.raises(ValueError, match="no transformer"):
        shrink_pipeline(spacy.load(save_trained_cnn(tmp_path / "cnn")), 1)
    int8_nlp, _ = quantize_pipeline(spacy.load(teacher_dir), compute="int8")
    with pytest.raises(ValueError, match="int8"):
        shrink_pipeline(int8_nlp, 1)


@pytest.mark.slow
def test_cli_trains_a_one_layer_student_that_loads_and_quantizes(teacher_dir, tmp_path):
    train = save_gold_corpus(tmp_path / "train.spacy")
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("Путин посетил Москву и Вашингтон.", encoding="utf8")
    out = tmp_path / "student"
    result = CliRunner().invoke(app, [
        "distill", str(teacher_dir), str(out), "--layers", "1", "--train", str(train), "--dev", str(train),
        "--texts", str(texts), "--steps", "3", "--eval-frequency", "2", "--attention-dropout", "0",
        "--token-vector-weight", "0.5",
    ])
    assert result.exit_code == 0, result.output
    # written beside OUTPUT and renamed: every config names OUTPUT, not the staging folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student", "texts", "train.spacy"]
    for config in ("config.cfg", "model-best/config.cfg", "model-last/config.cfg"):
        text = (out / config).read_text()
        assert ".partial" not in text and str(out / "distill-corpus") in text
    assert f'source = "{out / "student-init"}"' in (out / "config.cfg").read_text()
    summary = json.loads((out / "distill.json").read_text())
    assert summary["student"]["layers"] == {"transformer": [1]}
    assert summary["corpus"] == {"gold_docs": 3, "teacher_labelled_texts": 1, "docs": 4, "token_vectors": True}
    assert "ents_f" in summary["dev_scores"] and "spans_nerel_f" in summary["dev_scores"]
    docs = list(DocBin().from_disk(out / "distill-corpus" / "train.spacy").get_docs(spacy.blank("ru").vocab))
    assert all(TEACHER_KEY in doc.user_data for doc in docs)
    assert all(doc.user_data[TEACHER_KEY]["token_vectors"].shape[0] == len(doc) for doc in docs)
    assert [bool(doc.user_data.get(TEACHER_SOURCE)) for doc in docs] == [False, False, False, True]
    student = spacy.load(out / "model-best")
    [(_, shim)] = find_transformer_shims(student)
    assert len(shim._hfmodel.transformer.encoder.layer) == 1
    assert shim._hfmodel.transformer.config.attention_probs_dropout_prob == 0.0  # survives the reload
    assert summary["student"]["attention_dropout"] == 0.0
    assert student.get_pipe("nerel_joint").cfg["distill_weight"] == 0.5
    assert student.get_pipe("nerel_joint").cfg["distill_token_vectors_weight"] == 0.5
    assert_annotates(student)
    int8_nlp, _ = quantize_pipeline(student, compute="int8")
    assert_annotates(int8_nlp)
    # a second student size reuses the teacher outputs; a corpus without them is refused
    again = tmp_path / "student2"
    result = CliRunner().invoke(app, [
        "distill", str(teacher_dir), str(again), "--layers", "2", "--dev", str(train), "--steps", "1",
        "--teacher-outputs", str(out / "distill-corpus" / "train.spacy"),
    ])
    assert result.exit_code == 0, result.output
    assert json.loads((again / "distill.json").read_text())["corpus"]["teacher_labelled_texts"] == 1
    result = CliRunner().invoke(app, ["distill", str(teacher_dir), str(tmp_path / "s3"), "--dev", str(train),
                                      "--teacher-outputs", str(train)])
    assert result.exit_code == 2 and "no teacher outputs" in result.output
    # --token-vector-weight needs stored token vectors: a corpus without them is refused
    for doc in docs:
        del doc.user_data[TEACHER_KEY]["token_vectors"]
    without = tmp_path / "without-vectors.spacy"
    DocBin(store_user_data=True, docs=docs).to_disk(without)
    result = CliRunner().invoke(app, ["distill", str(teacher_dir), str(tmp_path / "s4"), "--dev", str(train),
                                      "--teacher-outputs", str(without), "--token-vector-weight", "1"])
    assert result.exit_code == 2 and "no token vectors" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("drop", [False, True], ids=["kept", "dropped"])
def test_a_teacher_with_static_vectors_gives_a_student_that_reads_them_or_not(teacher_dir, tmp_path, drop):
    """`all` ends in a pipeline whose encoder also reads navec, and `distill` reads training/${vars.run}.
    With --static-vectors drop the student reads none and carries no table."""
    from nerel_spacy.static_vectors import save_with_static_vectors

    from conftest import save_fixture_vectors

    vectors = spacy.load(save_fixture_vectors(tmp_path / "vectors"))
    save_with_static_vectors(teacher_dir, tmp_path / "vectors", tmp_path / "teacher", scale=4.0)
    train = save_gold_corpus(tmp_path / "train.spacy")
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["distill", str(tmp_path / "teacher"), str(out), "--layers", "1",
                                      "--train", str(train), "--dev", str(train), "--steps", "2"]
                                + (["--static-vectors", "drop"] if drop else []))
    assert result.exit_code == 0, result.output
    student = spacy.load(out / "model-best")
    tok2vec = student.config["components"]["nerel_joint"]["model"]["tok2vec"]["@architectures"]
    if drop:
        assert student.vocab.vectors.shape[0] == 0 and tok2vec == "spacy-transformers.TransformerListener.v1"
        assert "static vectors dropped" in result.output
        assert json.loads((out / "distill.json").read_text(encoding="utf8"))["student"]["static_vectors"] == "dropped"
    else:
        assert student.vocab.vectors.shape == (len(vectors.vocab.vectors), 6)
        assert tok2vec == "nerel.WithStaticVectors.v1"
    assert_annotates(student)
    if drop:  # a teacher without static vectors has none to drop (the project's default on any run): said, and done
        result = CliRunner().invoke(app, ["distill", str(teacher_dir), str(tmp_path / "other"), "--layers", "1",
                                          "--train", str(train), "--dev", str(train), "--steps", "1",
                                          "--static-vectors", "drop"])
        assert result.exit_code == 0 and "teacher reads no static vectors, so there are none to drop" in \
            " ".join(result.output.split()), result.output


@pytest.mark.slow
def test_cli_refuses_a_cnn_teacher_and_a_full_output_folder(tmp_path):
    train = save_gold_corpus(tmp_path / "train.spacy")
    cnn = save_trained_cnn(tmp_path / "cnn")
    args = ["--train", str(train), "--dev", str(train)]
    result = CliRunner().invoke(app, ["distill", str(cnn), str(tmp_path / "out"), *args])
    assert result.exit_code == 2 and "no transformer" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    result = CliRunner().invoke(app, ["distill", str(cnn), str(tmp_path / "full"), *args])
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = CliRunner().invoke(app, ["distill", str(tmp_path / "nope"), str(tmp_path / "out2"), *args])
    assert result.exit_code == 2 and "TEACHER" in result.output


@pytest.fixture
def inputs(tmp_path):
    """A TEACHER folder (only its config.cfg: refusals come before it is loaded) and a corpus."""
    (tmp_path / "dd" / "model-best").mkdir(parents=True)
    spacy.blank("ru").to_disk(tmp_path / "dd" / "model-best")
    save_gold_corpus(tmp_path / "train.spacy")
    (tmp_path / "dd2" / "distill-corpus").mkdir(parents=True)
    (tmp_path / "dd2" / "distill-corpus" / "train.spacy").write_bytes(b"hours of teacher outputs")
    return tmp_path


@pytest.mark.parametrize("output, extra, message", [
    ("dd", [], "holds TEACHER"),  # would rmtree the teacher
    ("dd/model-best", [], "is TEACHER"),
    ("dd/model-best/student", [], "inside TEACHER"),
    ("dd2", ["--teacher-outputs", "dd2/distill-corpus/train.spacy"], "holds --teacher-outputs"),
    (".", [], "holds TEACHER"),
    ("corpus", ["--train", "corpus/train.spacy"], "holds --train"),
    ("corpus", ["--dev", "corpus/train.spacy"], "holds --dev"),
    ("texts", ["--texts", "texts/a.txt"], "holds --texts"),
    ("afile", [], "is a file"),
])
def test_cli_refuses_an_output_that_would_delete_or_lie_in_an_input(inputs, monkeypatch, output, extra, message):
    monkeypatch.chdir(inputs)
    for folder in ("corpus", "texts"):
        (inputs / folder).mkdir()
    (inputs / "corpus" / "train.spacy").write_bytes((inputs / "train.spacy").read_bytes())
    (inputs / "texts" / "a.txt").write_text("Путин посетил Москву.", encoding="utf8")
    (inputs / "afile").write_text("keep me")
    before = sorted(str(p.relative_to(inputs)) for p in inputs.rglob("*"))
    result = CliRunner().invoke(app, ["distill", "dd/model-best", output, "--train", "train.spacy",
                                      "--dev", "train.spacy", *extra, "--overwrite"])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert sorted(str(p.relative_to(inputs)) for p in inputs.rglob("*")) == before
    assert (inputs / "dd2" / "distill-corpus" / "train.spacy").read_bytes() == b"hours of teacher outputs"


def test_cli_refuses_texts_that_a_reused_teacher_pass_would_leave_unlabelled(inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    (inputs / "a.txt").write_text("Путин посетил Москву.", encoding="utf8")
    result = CliRunner().invoke(app, ["distill", "dd/model-best", "student", "--dev", "train.spacy",
                                      "--teacher-outputs", "dd2/distill-corpus/train.spacy", "--texts", "a.txt"])
    assert result.exit_code == 2 and "leave --teacher-outputs out" in " ".join(result.output.split()), result.output
    assert not (inputs / "student").exists()


def test_a_failed_run_leaves_the_earlier_output_as_it_was(inputs):
    """--overwrite replaces OUTPUT only with a finished run: here the teacher is refused."""
    earlier = inputs / "student"
    (earlier / "model-best").mkdir(parents=True)
    (earlier / "model-best" / "meta.json").write_text("{}")
    result = CliRunner().invoke(app, ["distill", str(inputs / "dd" / "model-best"), str(earlier), "--overwrite",
                                      "--train", str(inputs / "train.spacy"), "--dev", str(inputs / "train.spacy")])
    assert result.exit_code == 2 and "no transformer" in result.output
    assert (earlier / "model-best" / "meta.json").read_text() == "{}"
    assert sorted(p.name for p in inputs.iterdir()) == ["dd", "dd2", "student", "train.spacy"]


def test_a_second_run_into_the_same_output_is_refused_and_touches_nothing(inputs):
    """Another distill into OUTPUT holds its lock: even --fresh must not delete that run's files."""
    import subprocess
    import sys
    import textwrap

    output = inputs / "student"
    kept = inputs / "student-student-run" / "train" / "checkpoint"
    kept.mkdir(parents=True)
    (kept / "progress.json").write_text('{"step": 1219}')
    hold = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from nerel_spacy.resumable.lock import output_lock
        with output_lock(sys.argv[1], lock_file=Path(sys.argv[2])):
            print("held", flush=True)
            time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", hold, str(output), str(inputs / ".student.distill.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(app, ["distill", str(inputs / "dd" / "model-best"), str(output), "--fresh",
                                          "--train", str(inputs / "train.spacy"), "--dev", str(inputs / "train.spacy")])
    finally:
        holder.kill()
        holder.wait()
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"is being trained into by pid {holder.pid}" in said, said
    assert f"kill -TERM {holder.pid}" in said
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert (kept / "progress.json").read_text() == '{"step": 1219}'
    assert not output.exists()
    assert (inputs / ".student.distill.lock").read_text() == str(holder.pid)  # the holder's, left as it was


@pytest.mark.slow
def test_a_run_that_fails_before_training_keeps_its_teacher_outputs(teacher_dir, tmp_path, monkeypatch):
    from nerel_spacy.cli import distill as distill_cli

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(distill_cli, "write_student", fail)
    train = save_gold_corpus(tmp_path / "train.spacy")
    out = tmp_path / "student"
    args = ["distill", str(teacher_dir), str(out), "--layers", "1", "--train", str(train), "--dev", str(train)]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, OSError)
    kept = tmp_path / "student-teacher-outputs.spacy"
    assert not out.exists() and kept.is_file() and "--teacher-outputs" in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "student-teacher-outputs.spacy", "student-teacher-pass", "train.spacy"]
    assert kept.read_bytes() == (tmp_path / "student-teacher-pass" / "train.spacy").read_bytes()
    monkeypatch.undo()
    result = CliRunner().invoke(app, [*args, "--teacher-outputs", str(kept), "--steps", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "distill.json").read_text())["corpus"]["copied_from"] == str(kept)
    # the same command again skips the teacher pass it kept, and removes it
    result = CliRunner().invoke(app, [*args, "--steps", "1", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "Continuing the teacher pass" in " ".join(result.output.split())
    assert json.loads((out / "distill.json").read_text())["corpus"]["resumed_after_docs"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student", "student-teacher-outputs.spacy", "train.spacy"]


@pytest.mark.slow
def test_a_run_that_fails_in_training_is_continued_by_the_same_command(teacher_dir, tmp_path, monkeypatch):
    import nerel_spacy.resumable as resumable

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(resumable, "train_resumably", fail)
    train = save_gold_corpus(tmp_path / "train.spacy")
    out = tmp_path / "student"
    args = ["distill", str(teacher_dir), str(out), "--layers", "1", "--train", str(train), "--dev", str(train),
            "--steps", "2"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, OSError)
    run = tmp_path / "student-student-run"
    assert "the same command continues it" in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student-student-run", "student-teacher-pass", "train.spacy"]
    assert (run / "student-init" / "config.cfg").is_file() and (run / "run.json").is_file()
    monkeypatch.undo()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Continuing the student's training" in said and "Continuing the teacher pass" not in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student", "train.spacy"]
    assert sorted(p.name for p in out.iterdir()) == [
        "config.cfg", "distill-corpus", "distill.json", "model-best", "model-last", "student-init"]
    assert str(run) not in (out / "model-best" / "config.cfg").read_text()
    assert_annotates(spacy.load(out / "model-best"))


@pytest.mark.slow
def test_a_run_stopped_in_training_continues_from_its_checkpoint(teacher_dir, tmp_path, monkeypatch):
    from spacy.language import Language

    train = save_gold_corpus(tmp_path / "train.spacy")
    out = tmp_path / "student"
    args = ["distill", str(teacher_dir), str(out), "--layers", "1", "--train", str(train), "--dev", str(train),
            "--steps", "6", "--eval-frequency", "2"]
    update, calls = Language.update, []

    def ctrl_c_in_the_fourth_update(self, *a, **k):
        calls.append(1)
        if len(calls) == 4:
            signal.raise_signal(signal.SIGINT)  # the loop finishes the step, checkpoints it and stops
        return update(self, *a, **k)

    monkeypatch.setattr(Language, "update", ctrl_c_in_the_fourth_update)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    run = tmp_path / "student-student-run"
    progress = json.loads((run / "train" / "checkpoint" / "progress.json").read_text())
    assert progress["step"] >= 3 and not out.exists()
    said = " ".join(result.output.split())
    assert "stopped after step" in said and "the same command continues it" in said
    assert "once the cause is fixed" not in said  # a stop is not a failure
    monkeypatch.undo()
    # another setting is refused, and leaves the kept run as it was
    result = CliRunner().invoke(app, [*args, "--weight", "0.7"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "--weight: 0.5 then, 0.7 now" in said and "--fresh" in said
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"after step {progress['step']}" in said and "Continuing the teacher pass" not in said
    summary = json.loads((out / "distill.json").read_text())
    assert summary["resumed_from_step"] == progress["step"] and "dev_scores" in summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student", "train.spacy"]
    # --fresh discards a kept run: here there is none left, and it trains from step 0
    result = CliRunner().invoke(app, [*args, "--fresh", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "resumed_from_step" not in json.loads((out / "distill.json").read_text())


@pytest.mark.slow
def test_a_run_stopped_in_its_teacher_pass_is_continued_by_the_same_command(teacher_dir, tmp_path, monkeypatch):
    from nerel_spacy.cli import distill as distill_cli

    train = save_gold_corpus(tmp_path / "train.spacy", copies=50)  # 150 docs: 3 shards of 64 docs at most
    out = tmp_path / "student"
    args = ["distill", str(teacher_dir), str(out), "--layers", "1", "--train", str(train), "--dev", str(train),
            "--steps", "1", "--batch-size", "16"]
    write = distill_cli.write_distill_corpus

    def stopped_by_ctrl_c(*args, on_progress, **kwargs):
        def progress(done, total):
            on_progress(done, total)
            if done >= 80:
                raise KeyboardInterrupt
        return write(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(distill_cli, "write_distill_corpus", stopped_by_ctrl_c)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130  # as after Ctrl-C
    kept = tmp_path / "student-teacher-pass"
    assert "first 64 docs are kept in" in " ".join(result.output.split())
    assert str(kept) in "".join(result.output.split())  # the console wraps long paths
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student-teacher-pass", "train.spacy"]
    assert sorted(p.name for p in (kept / "parts").iterdir()) == ["00000.spacy"]
    monkeypatch.undo()
    # other inputs are refused, before the teacher is loaded, and leave the kept pass as it was
    for other, named in ((["--batch-size", "8"], "--batch-size: 16 then, 8 now"),
                         (["--token-vector-weight", "1"], "--token-vector-weight")):
        result = CliRunner().invoke(app, [*args, *other])
        assert result.exit_code == 2 and named in " ".join(result.output.split()) and "--fresh" in result.output
    assert sorted(p.name for p in (kept / "parts").iterdir()) == ["00000.spacy"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Continuing the teacher pass" in said and "64 of them by an earlier run" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student", "train.spacy"]  # the kept pass is removed
    assert (out / "distill-corpus" / "train.spacy").read_bytes() == _uninterrupted_corpus(teacher_dir, train, 16)


def _uninterrupted_corpus(teacher_dir, train, batch_size) -> bytes:
    """The teacher pass's corpus in one go, as it was written before it was kept in shards."""
    teacher = spacy.load(teacher_dir)
    docs = with_teacher_outputs(teacher, read_corpus(train, teacher.vocab), batch_size)
    return DocBin(store_user_data=True, docs=docs).to_bytes()


STALLED_TEACHER = """
import os, sys, time
from pathlib import Path
import nerel_spacy.distill.teacher as teacher
from nerel_spacy.cli import app

records, first_shard = teacher.teacher_records, Path(os.environ["FIRST_SHARD"])


def stalled(*args, **kwargs):
    if first_shard.is_file():
        time.sleep(600)
    return records(*args, **kwargs)


teacher.teacher_records = stalled
app(sys.argv[1:])
"""


@pytest.mark.slow
def test_a_run_killed_in_its_teacher_pass_is_continued_by_the_same_command(teacher_dir, tmp_path):
    """SIGKILL runs no clean-up at all (nor does SIGTERM, which distill does not catch). The teacher
    stalls in the batch after the first shard, so that it is killed there."""
    train = save_gold_corpus(tmp_path / "train.spacy", copies=50)
    out = tmp_path / "student"
    args = ["distill", str(teacher_dir), str(out), "--layers", "1", "--train", str(train), "--dev", str(train),
            "--steps", "1", "--batch-size", "16"]
    runner = tmp_path / "stalled_teacher.py"
    runner.write_text(STALLED_TEACHER, encoding="utf8")
    first = tmp_path / "student-teacher-pass" / "parts" / "00000.spacy"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), FIRST_SHARD=str(first))
    process = subprocess.Popen([sys.executable, str(runner), *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while not first.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the stalled batch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert sorted(p.name for p in first.parent.iterdir()) == ["00000.spacy"] and not out.exists()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Continuing the teacher pass" in said and "64 of them by an earlier run" in said
    assert (out / "distill-corpus" / "train.spacy").read_bytes() == _uninterrupted_corpus(teacher_dir, train, 16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stalled_teacher.py", "student", "train.spacy"]
