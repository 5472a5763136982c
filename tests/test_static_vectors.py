"""nerel_spacy.static_vectors and nerel-batch add-vectors: a trained pipeline reads static vectors too."""
import pytest
import spacy
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.models.static_residual import STATIC_VECTORS
from nerel_spacy.static_vectors import (
    ARCHITECTURE, add_static_vectors, remove_static_vectors, save_with_static_vectors, static_projection,
    zero_static_vectors,
)

from conftest import TINY_DOCS, make_examples, save_fixture_vectors
from quantize_helpers import save_trained_trf

DIMS = 6


@pytest.fixture(scope="module")
def trf_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("static") / "trf")


@pytest.fixture(scope="module")
def vectors_dir(tmp_path_factory):
    """A vectors pipeline over the fixture words, lower-cased as navec's are."""
    return save_fixture_vectors(tmp_path_factory.mktemp("static") / "vectors", DIMS)


def annotations(nlp):
    docs = list(nlp.pipe(text for text, _, _ in TINY_DOCS))
    return [([(s.start, s.end, s.label_) for s in doc.spans["nerel"]], [(e.start, e.end, e.label_) for e in doc.ents],
             doc.cats) for doc in docs]


def test_the_copy_predicts_as_the_original_and_round_trips(trf_dir, vectors_dir, tmp_path):
    expected = annotations(spacy.load(trf_dir))
    nlp = save_with_static_vectors(trf_dir, vectors_dir, tmp_path / "copy", scale=4.0)
    assert annotations(nlp) == expected
    loaded = spacy.load(tmp_path / "copy")
    tok2vec = loaded.config["components"]["nerel_joint"]["model"]["tok2vec"]
    assert tok2vec["@architectures"] == ARCHITECTURE and tok2vec["scale"] == 4.0
    assert tok2vec["tok2vec"]["@architectures"] == "spacy-transformers.TransformerListener.v1"
    assert loaded.vocab.vectors.shape[1] == DIMS
    assert annotations(loaded) == expected


def test_training_the_copy_moves_the_projection(trf_dir, vectors_dir):
    nlp = add_static_vectors(spacy.load(trf_dir), vectors_dir)
    W = nlp.get_pipe("nerel_joint").model.get_ref("tok2vec").get_ref(STATIC_VECTORS)
    assert not W.get_param("W").any()
    optimizer = nlp.resume_training()  # the pipeline's own schedule: a warm-up from 0
    for _ in range(3):
        nlp.update(make_examples(nlp), sgd=optimizer, drop=0.0)
        optimizer.step_schedules()
    assert W.get_param("W").any()


def test_wrong_pipelines_are_refused(trf_dir, vectors_dir):
    nlp = add_static_vectors(spacy.load(trf_dir), vectors_dir)
    with pytest.raises(ValueError, match="already reads static vectors"):
        add_static_vectors(nlp, vectors_dir)
    with pytest.raises(ValueError, match="no 'ner' component"):
        add_static_vectors(spacy.load(trf_dir), vectors_dir, component="ner")


def test_cli_writes_the_copy_and_names_bad_folders(trf_dir, vectors_dir, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["add-vectors", str(trf_dir), str(vectors_dir), str(tmp_path / "copy"), "--scale", "2"])
    assert ok.exit_code == 0, ok.output
    assert "projection at zero, scale 2" in " ".join(ok.output.split())
    assert spacy.load(tmp_path / "copy").config["components"]["nerel_joint"]["model"]["tok2vec"]["scale"] == 2.0
    no_vectors = runner.invoke(app, ["add-vectors", str(trf_dir), str(tmp_path), str(tmp_path / "x")])
    assert no_vectors.exit_code == 2 and "VECTORS" in no_vectors.output and "config.cfg" in no_vectors.output
    twice = runner.invoke(app, ["add-vectors", str(tmp_path / "copy"), str(vectors_dir), str(tmp_path / "y")])
    assert twice.exit_code == 2 and "already reads static vectors" in " ".join(twice.output.split())


def test_the_knock_out_zeroes_the_projection_only(trf_dir, vectors_dir):
    nlp = add_static_vectors(spacy.load(trf_dir), vectors_dir)
    static = nlp.get_pipe("nerel_joint").model.get_ref("tok2vec").get_ref(STATIC_VECTORS)
    static.set_param("W", static.get_param("W") + 1.0)
    zero_static_vectors(nlp)
    assert not static.get_param("W").any()
    assert annotations(nlp) == annotations(spacy.load(trf_dir))
    with pytest.raises(ValueError, match="reads no static vectors"):
        zero_static_vectors(spacy.load(trf_dir))


@pytest.mark.parametrize("output, message", [
    ("run/model-best", "is MODEL"), ("run", "holds MODEL"), ("run/model-best/v", "inside MODEL"),
    ("vectors", "is VECTORS"), ("afile", "is a file"),
])
def test_cli_refuses_an_output_that_would_delete_an_input_or_is_a_file(tmp_path, output, message):
    for folder in ("run/model-best", "vectors"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "config.cfg").write_text("[nlp]\n")
    (tmp_path / "afile").write_text("keep me")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["add-vectors", str(tmp_path / "run" / "model-best"), str(tmp_path / "vectors"),
                                      str(tmp_path / output)])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no NotADirectoryError
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_removing_the_vectors_predicts_as_their_knock_out_and_leaves_no_table(trf_dir, vectors_dir, tmp_path):
    """distill --static-vectors drop starts its student so: the encoder alone, and no 300 MB table."""
    import numpy

    nlp = add_static_vectors(spacy.load(trf_dir), vectors_dir, scale=4.0)
    projection = static_projection(nlp)
    projection.set_param("W", numpy.random.default_rng(0).normal(size=projection.get_param("W").shape).astype("f"))
    nlp.to_disk(tmp_path / "with")
    knocked_out = annotations(zero_static_vectors(spacy.load(tmp_path / "with")))
    assert annotations(spacy.load(tmp_path / "with")) != knocked_out  # the vectors matter here
    removed = remove_static_vectors(spacy.load(tmp_path / "with"))
    assert annotations(removed) == knocked_out
    removed.to_disk(tmp_path / "without")
    loaded = spacy.load(tmp_path / "without")
    assert loaded.config["components"]["nerel_joint"]["model"]["tok2vec"]["@architectures"] == \
        "spacy-transformers.TransformerListener.v1"
    assert loaded.vocab.vectors.shape[0] == 0 and annotations(loaded) == knocked_out
    with pytest.raises(ValueError, match="reads no static vectors"):
        remove_static_vectors(loaded)
