"""``distill.run.student_config``: the student's training config reads the distillation corpus."""
from thinc.api import Config

from nerel_spacy.distill.run import student_config

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
