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
