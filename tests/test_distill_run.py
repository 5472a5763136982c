"""``distill.run``: the teacher pass, continued after a kill, and the student's training config."""
from itertools import chain

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from thinc.api import Config

from conftest import NESTED_DOCS, TINY_DOCS, make_examples
from nerel_spacy.corpus import read_corpus
from nerel_spacy.distill import run
from nerel_spacy.distill.run import student_config, write_distill_corpus
from nerel_spacy.distill.teacher import label_texts, with_teacher_outputs
from nerel_spacy.distill.teacher_pass import TeacherPass, made_from
from pipeline_helpers import cnn_nlp, train
from quantize_helpers import save_gold_corpus

TEXTS = [text for text, _, _ in NESTED_DOCS + TINY_DOCS]
BATCH = 2  # 9 gold docs and 6 texts: shards of 2 batches end inside the gold docs and inside the texts


class Killed(Exception):
    """The process ending in the middle of the teacher pass."""


@pytest.fixture(scope="module")
def teacher():
    nlp = cnn_nlp()
    train(nlp, make_examples(nlp), 2)
    return nlp


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "config.cfg").write_text("[nlp]\n")
    return save_gold_corpus(tmp_path / "train.spacy", copies=3)


def _pass(teacher, corpus, output, on_progress=None):
    """``write_distill_corpus`` as ``nerel-batch distill`` calls it, into OUTPUT-teacher-pass."""
    shards = TeacherPass(corpus.parent / "student-teacher-pass")
    shards.open(made_from(corpus.parent / "teacher", corpus, TEXTS, token_vectors=True, batch_size=BATCH,
                          shard_docs=2 * BATCH))
    return write_distill_corpus(teacher, corpus, TEXTS, output, shards, BATCH, on_progress, token_vectors=True)


def _as_before(teacher, corpus) -> bytes:
    """The corpus of the pass as it was written before shards: one DocBin, all docs in one go."""
    docs = chain(read_corpus(corpus, teacher.vocab), label_texts(teacher, TEXTS, BATCH))
    return DocBin(store_user_data=True, docs=with_teacher_outputs(teacher, docs, BATCH, token_vectors=True)).to_bytes()


def _docs(data: bytes):
    return list(DocBin().from_bytes(data).get_docs(spacy.blank("ru").vocab))


@pytest.mark.parametrize("killed_after, continued_from", [(1, 0), (3, 4), (6, 12), (7, 12)])
def test_a_pass_killed_midway_is_continued_into_the_corpus_of_an_uninterrupted_one(
        teacher, corpus, tmp_path, killed_after, continued_from):
    """Killed after ``killed_after`` batches of 2, with shards of 4 docs (9 gold docs, then 6 texts)."""
    output = tmp_path / "student" / "distill-corpus" / "train.spacy"
    seen = []

    def kill(done, total):
        seen.append(done)
        if len(seen) > killed_after:  # the first call is the start
            raise Killed

    with pytest.raises(Killed):
        _pass(teacher, corpus, output, kill)
    parts = sorted((tmp_path / "student-teacher-pass" / "parts").glob("*.spacy"))
    assert [len(DocBin().from_disk(part)) for part in parts] == [4] * (continued_from // 4)  # bounded, whole
    assert not output.exists()
    progress = []
    summary = _pass(teacher, corpus, output, lambda done, total: progress.append((done, total)))
    assert progress[0] == (continued_from, 15) and progress[-1] == (15, 15)  # the bar starts where it stopped
    assert summary.get("resumed_after_docs", 0) == continued_from and summary["docs"] == 15
    expected = _as_before(teacher, corpus)
    got = output.read_bytes()
    for want, doc in zip(_docs(expected), _docs(got), strict=True):
        assert doc.to_json() == want.to_json()
        assert srsly.msgpack_dumps(doc.user_data) == srsly.msgpack_dumps(want.user_data)
    assert got == expected


def test_a_finished_pass_is_not_run_again(teacher, corpus, tmp_path, monkeypatch):
    """Killed in the join, or later (in the student's training): the teacher is not run again."""
    output = tmp_path / "student" / "distill-corpus" / "train.spacy"
    join = TeacherPass.join

    def killed_in_join(self):
        raise Killed

    monkeypatch.setattr(TeacherPass, "join", killed_in_join)
    with pytest.raises(Killed):
        _pass(teacher, corpus, output)
    monkeypatch.setattr(TeacherPass, "join", join)
    monkeypatch.setattr(run, "with_teacher_outputs", None)  # no doc goes through the teacher again
    for _ in range(2):  # the shards are joined; then the joined corpus is reused
        output.unlink(missing_ok=True)
        progress = []
        _pass(teacher, corpus, output, lambda done, total: progress.append(done))
        assert progress == [15] and output.read_bytes() == _as_before(teacher, corpus)

TEACHER_CONFIG = """
[paths]
train = null
dev = null

[nlp]
lang = "ru"
pipeline = ["transformer","nerel_joint"]

[components]

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = "corpus/train.spacy"

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = "corpus/dev.spacy"

[training]
train_corpus = "corpora.train"
dev_corpus = "corpora.dev"
max_steps = 20000
eval_frequency = 200

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.001

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
"""


def test_student_config_reads_the_distillation_corpus_even_where_the_teacher_had_literal_paths(tmp_path):
    student = tmp_path / "student-init"
    student.mkdir()
    (student / "config.cfg").write_text(TEACHER_CONFIG, encoding="utf8")
    config = student_config(student, tmp_path / "distill.spacy", tmp_path / "dev.spacy", max_steps=30,
                            eval_frequency=10, learn_rate=1e-4, warmup_steps=5)
    resolved = Config().from_str(config.to_str()).interpolate()
    assert resolved["corpora"]["train"]["path"] == str(tmp_path / "distill.spacy")
    assert resolved["corpora"]["dev"]["path"] == str(tmp_path / "dev.spacy")
    assert config["components"] == {name: {"source": str(student)} for name in ("transformer", "nerel_joint")}
    assert config["training"]["max_steps"] == 30
    assert config["training"]["optimizer"]["learn_rate"]["total_steps"] == 30


def test_student_config_shows_the_token_vector_distance_when_the_student_learns_it(tmp_path):
    student = tmp_path / "student-init"
    student.mkdir()
    config_text = TEACHER_CONFIG.replace(
        '@loggers = "spacy.ConsoleLogger.v1"',
        '@loggers = "nerel.ConsoleLogger.v1"\nraw_columns = ["sigma_ner","loss_ner"]')
    (student / "config.cfg").write_text(config_text, encoding="utf8")
    kwargs = dict(max_steps=30, eval_frequency=10, learn_rate=1e-4, warmup_steps=5)
    plain = student_config(student, tmp_path / "d.spacy", tmp_path / "dev.spacy", **kwargs)
    assert plain["training"]["logger"]["raw_columns"] == ["sigma_ner", "loss_ner"]
    pulled = student_config(student, tmp_path / "d.spacy", tmp_path / "dev.spacy", token_vectors=True, **kwargs)
    assert pulled["training"]["logger"]["raw_columns"] == ["sigma_ner", "loss_ner", "loss_token_vectors"]
    assert pulled["training"]["score_weights"]["loss_token_vectors"] == 0.0


def test_a_teacher_trained_on_a_frozen_encoder_gives_a_student_that_trains_its_encoder(tmp_path):
    """train-heads freezes the transformer and lets it annotate; its model-best is a teacher
    like any other, but its student must train the shortened encoder, and once."""
    student = tmp_path / "student-init"
    student.mkdir()
    frozen = TEACHER_CONFIG.replace(
        "[training]\n",
        '[training]\nfrozen_components = ["transformer"]\nannotating_components = ["transformer", "other"]\n')
    assert frozen != TEACHER_CONFIG
    (student / "config.cfg").write_text(frozen, encoding="utf8")
    kwargs = dict(max_steps=30, eval_frequency=10, learn_rate=1e-4, warmup_steps=5)
    config = student_config(student, tmp_path / "d.spacy", tmp_path / "dev.spacy", **kwargs)
    assert config["training"]["frozen_components"] == []
    assert config["training"]["annotating_components"] == ["other"]  # what annotated for another reason stays


def test_a_student_of_a_teacher_with_static_vectors_loads_them_from_itself(tmp_path):
    student = tmp_path / "student-init"
    student.mkdir()
    wrapped = TEACHER_CONFIG.replace("[components]\n", """[components]

[components.nerel_joint]
factory = "nerel_joint"

[components.nerel_joint.model]
@architectures = "nerel.JointTagCat.v3"

[components.nerel_joint.model.tok2vec]
@architectures = "nerel.WithStaticVectors.v1"
scale = 32.0

[components.nerel_joint.model.tok2vec.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
""") + "\n[initialize]\nvectors = \"assets/navec_vectors\"\n"
    (student / "config.cfg").write_text(wrapped, encoding="utf8")
    kwargs = dict(max_steps=30, eval_frequency=10, learn_rate=1e-4, warmup_steps=5)
    config = student_config(student, tmp_path / "d.spacy", tmp_path / "dev.spacy", **kwargs)
    assert config["initialize"]["vectors"] == str(student)  # not the teacher's relative path
    (student / "config.cfg").write_text(TEACHER_CONFIG + "\n[initialize]\nvectors = null\n", encoding="utf8")
    assert student_config(student, tmp_path / "d.spacy", tmp_path / "dev.spacy", **kwargs)["initialize"]["vectors"] \
        is None
    # a student that reads none (--static-vectors drop) loads none, whatever table its teacher's config names
    (student / "config.cfg").write_text(TEACHER_CONFIG + '\n[initialize]\nvectors = "assets/navec_vectors"\n',
                                        encoding="utf8")
    assert student_config(student, tmp_path / "d.spacy", tmp_path / "dev.spacy", **kwargs)["initialize"]["vectors"] \
        is None
