"""``nerel-batch retrain-relations``: a pipeline with a new relation head, and clear refusals."""
import json

import pytest
import spacy
from spacy.tokens import DocBin
from thinc.api import get_current_ops
from typer.testing import CliRunner

from nerel_spacy.cli import app

from conftest import assert_annotates, make_nested_examples, unwrapped
from pipeline_helpers import v3_trained_on_nested

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A saved v3 CNN pipeline and a corpus folder with the three nested docs as train and dev."""
    root = tmp_path_factory.mktemp("retrain")
    nlp, _ = v3_trained_on_nested(20)
    nlp.to_disk(root / "pipeline")
    docs = [eg.reference for eg in make_nested_examples(spacy.blank("ru"))]
    (root / "corpus").mkdir()
    for split in ("train", "dev"):
        DocBin(docs=docs, store_user_data=True).to_disk(root / "corpus" / f"{split}.spacy")
    return root


def retrain(project, output, *extra):
    return runner.invoke(app, ["retrain-relations", str(project / "pipeline"), str(output),
                               "--corpus", str(project / "corpus"), *extra])


def test_a_fresh_v4_head_is_trained_chosen_and_written_with_its_curve(project, tmp_path):
    head = '{"context_width": 16, "structure_width": 8}'  # v4 by default
    ops_before = get_current_ops()
    result = retrain(project, tmp_path / "out", "--epochs", "3", "--head", head, "--cache", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    # Only the new head multiplies through numpy's BLAS: a pipeline loaded later in this
    # process (a test, a notebook) keeps thinc's kernels and so its predictions.
    assert get_current_ops() is ops_before
    text = unwrapped(result.output)
    assert "epoch 3:" in text and "in-sentence P" in text
    report = json.loads((tmp_path / "out" / "retrain_relations.json").read_text())
    assert [entry["epoch"] for entry in report["curve"]] == [0, 1, 2, 3]
    assert report["selected_epoch"] == max(report["curve"], key=lambda e: e["dev"]["relations_gold_f"])["epoch"]
    # dev is decoded as the saved pipeline decodes (the fixture's pipeline keeps every variant)
    assert report["nested_arguments"] == "all" and "nested arguments 'all'" in text
    nlp = spacy.load(tmp_path / "out")
    assert nlp.config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == \
        "nerel.RelationScorer.v4"
    # The second run reads the cached vectors instead of running the encoder again.
    again = retrain(project, tmp_path / "out", "--epochs", "1", "--head", head, "--cache", str(tmp_path / "cache"),
                    "--overwrite")
    assert again.exit_code == 0 and "Token vectors from" in unwrapped(again.output)


def test_continuing_the_pipelines_own_head(project, tmp_path):
    result = retrain(project, tmp_path / "out", "--epochs", "1", "--continue")
    assert result.exit_code == 0, result.output
    nlp = spacy.load(tmp_path / "out")
    assert nlp.config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == \
        "nerel.RelationScorer.v1"


@pytest.mark.parametrize("args, message", [
    (["--head", "not json"], "--head is not JSON"),
    (["--head", "[1]"], "must be a JSON object"),
    (["--continue", "--architecture", "nerel.RelationScorer.v4"], "--continue keeps the pipeline's head"),
    (["--architecture", "nerel.RelationScorer.v9"], "cannot build the relation head"),
    (["--head", '{"no_such_setting": 1}'], "cannot build the relation head"),
    (["--corpus", "nowhere"], "nerel-batch convert"),
])
def test_bad_usage_is_refused_before_any_work(project, tmp_path, args, message):
    result = retrain(project, tmp_path / "out", *args)
    assert result.exit_code == 2 and message in unwrapped(result.output), result.output
    assert not (tmp_path / "out").exists()


def test_another_architecture_by_name(project, tmp_path):
    result = retrain(project, tmp_path / "out", "--epochs", "1", "--architecture", "nerel.RelationScorer.v2")
    assert result.exit_code == 0, result.output
    nlp = spacy.load(tmp_path / "out")
    assert nlp.config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == \
        "nerel.RelationScorer.v2"


def test_an_output_that_is_not_empty_is_kept(project, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    result = retrain(project, tmp_path / "out", "--epochs", "1")
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep me"


def test_a_pipeline_without_a_relation_head_is_refused(project, tmp_path):
    from pipeline_helpers import cnn_nlp

    nlp = cnn_nlp()
    nlp.initialize(lambda: make_nested_examples(nlp))
    nlp.to_disk(tmp_path / "v2")
    result = runner.invoke(app, ["retrain-relations", str(tmp_path / "v2"), str(tmp_path / "out"),
                                 "--corpus", str(project / "corpus")])
    assert result.exit_code == 2
    assert "has no nerel_joint relation head" in unwrapped(result.output), result.output


def test_a_corpus_without_its_splits_is_refused(project, tmp_path):
    result = runner.invoke(app, ["retrain-relations", str(project / "pipeline"), str(tmp_path / "out"),
                                 "--corpus", str(tmp_path)])
    assert result.exit_code == 2
    assert "train.spacy not found. Convert NEREL first" in unwrapped(result.output), result.output


def test_a_pipeline_with_static_vectors_keeps_them_under_its_new_head(project, tmp_path):
    """`all` ships a pipeline whose encoder also reads navec; retrain-relations reads training/${vars.run}."""
    import numpy

    from nerel_spacy.static_vectors import add_static_vectors, static_projection

    nlp = spacy.load(project / "pipeline")
    vectors = spacy.blank("ru")
    rng = numpy.random.default_rng(0)
    for doc in (eg.reference for eg in make_nested_examples(spacy.blank("ru"))):
        for token in doc:
            vectors.vocab.set_vector(token.lower_, rng.normal(size=5).astype("float32"))
    vectors.to_disk(tmp_path / "vectors")
    add_static_vectors(nlp, tmp_path / "vectors", scale=2.0)
    projection = static_projection(nlp)
    projection.set_param("W", rng.normal(size=projection.get_param("W").shape).astype("float32"))
    nlp.to_disk(tmp_path / "wrapped")
    result = runner.invoke(app, ["retrain-relations", str(tmp_path / "wrapped"), str(tmp_path / "out"),
                                 "--corpus", str(project / "corpus"), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    retrained = spacy.load(tmp_path / "out")
    assert retrained.vocab.vectors.shape == nlp.vocab.vectors.shape
    assert numpy.array_equal(static_projection(retrained).get_param("W"), projection.get_param("W"))
    assert_annotates(retrained)


@pytest.fixture
def run_folder(project, tmp_path):
    """tmp/rr holding model-best and model-last, as a training run leaves them."""
    import shutil

    for name in ("model-best", "model-last"):
        shutil.copytree(project / "pipeline", tmp_path / "rr" / name)
    return tmp_path / "rr"


@pytest.mark.parametrize("output, message", [
    (".", "holds PIPELINE"),  # rmtree'd model-best and model-last
    ("model-best", "is PIPELINE"),
    ("model-best/rel", "inside PIPELINE"),
    ("corpus-home", "holds --corpus"),
    ("afile", "is a file"),  # NotADirectoryError after all the training
])
def test_an_output_that_would_delete_or_lie_in_an_input_is_refused(project, run_folder, output, message):
    import shutil

    shutil.copytree(project / "corpus", run_folder / "corpus-home" / "corpus")
    (run_folder / "afile").write_text("keep me")
    before = sorted(str(p.relative_to(run_folder)) for p in run_folder.rglob("*"))
    corpus = run_folder / "corpus-home" / "corpus"
    result = runner.invoke(app, ["retrain-relations", str(run_folder / "model-best"), str(run_folder / output),
                                 "--corpus", str(corpus), "--epochs", "1", "--overwrite"])
    assert result.exit_code == 2 and message in unwrapped(result.output), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert sorted(str(p.relative_to(run_folder)) for p in run_folder.rglob("*")) == before


def test_a_cache_inside_the_output_is_refused(project, tmp_path):
    result = retrain(project, tmp_path / "out", "--epochs", "1", "--cache", str(tmp_path / "out" / "vectors"))
    assert result.exit_code == 2 and "--cache" in unwrapped(result.output) and not (tmp_path / "out").exists()


def test_a_failed_write_leaves_the_earlier_output(project, tmp_path, monkeypatch):
    from nerel_spacy import relation_retrain

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "meta.json").write_text('{"earlier": true}')

    def disk_full(path, report):
        path.write_text("{half")
        raise OSError("No space left on device")

    monkeypatch.setattr(relation_retrain, "write_report", disk_full)
    result = retrain(project, tmp_path / "out", "--epochs", "1", "--overwrite")
    assert isinstance(result.exception, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["meta.json"]
    assert json.loads((tmp_path / "out" / "meta.json").read_text()) == {"earlier": True}


def test_the_cache_is_recomputed_for_another_pipeline_at_the_same_path(project, tmp_path):
    """Replacing the pipeline in place keeps path and corpus: the encoder's weights tell it apart."""
    import shutil

    shutil.copytree(project / "pipeline", tmp_path / "pipeline")
    args = ["retrain-relations", str(tmp_path / "pipeline"), str(tmp_path / "out"), "--corpus", str(project / "corpus"),
            "--epochs", "1", "--cache", str(tmp_path / "cache"), "--overwrite"]
    assert runner.invoke(app, args).exit_code == 0
    nlp = spacy.load(tmp_path / "pipeline")
    nlp.get_pipe("nerel_joint").cfg["relation_threshold"] = 0.4  # not what the vectors depend on
    nlp.to_disk(tmp_path / "pipeline")
    same = runner.invoke(app, args)
    assert same.exit_code == 0 and "Token vectors from" in unwrapped(same.output), same.output
    tok2vec = nlp.get_pipe("nerel_joint").model.get_ref("tok2vec")
    node = next(node for node in tok2vec.walk() if "E" in node.param_names and node.has_param("E"))
    node.set_param("E", node.get_param("E") + 0.5)
    nlp.to_disk(tmp_path / "pipeline")
    stale = runner.invoke(app, args)
    text = unwrapped(stale.output)
    assert stale.exit_code == 0 and "Token vectors from" not in text, stale.output
    assert "are stale (encoder changed): computing them again" in text
    assert json.loads((tmp_path / "cache" / "source.json").read_text())["encoder"]
    again = runner.invoke(app, args)
    assert "Token vectors from" in unwrapped(again.output)
