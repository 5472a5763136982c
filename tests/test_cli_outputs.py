"""Where quantize, trim-vocab, export-onnx, distill, retrain-relations, tune-thresholds, set-windows
and add-vectors may write, and how their output is swapped in."""
import pytest

from nerel_spacy.cli._outputs import (
    input_clash,
    output_clash,
    pipeline_write_clash,
    staged_output,
    staged_update,
    staging_dir,
)


def make_source(path):
    path.mkdir(parents=True)
    (path / "config.cfg").write_text("[nlp]\n")
    return path


def test_an_output_holding_or_inside_the_source_or_a_file_is_refused(tmp_path):
    source = make_source(tmp_path / "run" / "model-best")
    (tmp_path / "afile").write_text("x")
    assert "holds MODEL_DIR" in output_clash(str(source), tmp_path / "run")
    assert "delete the source" in output_clash(str(source), tmp_path)
    assert "inside MODEL_DIR" in output_clash(str(source), source / "int8")
    assert "is MODEL_DIR" in output_clash(str(source), tmp_path / "run" / ".." / "run" / "model-best")
    assert "is a file" in output_clash(str(source), tmp_path / "afile")
    assert output_clash(str(source), tmp_path / "run" / "model-int8") is None
    assert output_clash(str(source), tmp_path / "run" / "model-best-int8") is None  # a prefix, not a parent
    assert output_clash("ru_nerel_joint", tmp_path) is None  # a package name is no local path
    message = output_clash(str(source), tmp_path / "run", "SOURCE", "OUTPUT", "trimmed")
    assert message.startswith("OUTPUT") and "SOURCE" in message and "model-best-trimmed" in message


def test_a_finished_copy_replaces_the_earlier_one(tmp_path):
    out = tmp_path / "int8"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with staged_output(out) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".") and not any(staging.iterdir())
        (staging / "new.txt").write_text("new")
        assert (out / "old.txt").exists()  # nothing is replaced before the copy is complete
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8"]


@pytest.mark.parametrize("earlier", [True, False])
def test_a_failed_copy_leaves_the_earlier_output_or_nothing(tmp_path, earlier):
    out = tmp_path / "int8"
    if earlier:
        out.mkdir()
        (out / "old.txt").write_text("old")
    with pytest.raises(OSError, match="disk full"):
        with staged_output(out) as staging:
            (staging / "half.bin").write_text("half")
            raise OSError("disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["int8"] if earlier else [])
    if earlier:
        assert sorted(p.name for p in out.iterdir()) == ["old.txt"]


def test_a_stale_staging_folder_from_a_killed_run_is_cleared(tmp_path):
    out = tmp_path / "trimmed"
    stale = staging_dir(out)
    stale.mkdir()
    (stale / "half.bin").write_text("half")
    with staged_output(out) as staging:
        assert staging == stale and not any(staging.iterdir())
        (staging / "config.cfg").write_text("")
    assert sorted(p.name for p in out.iterdir()) == ["config.cfg"] and not stale.exists()


def test_an_output_that_is_holds_or_lies_in_any_input_is_refused(tmp_path):
    teacher = make_source(tmp_path / "run" / "model-best")
    corpus = tmp_path / "run" / "distill-corpus" / "train.spacy"
    corpus.parent.mkdir()
    corpus.write_bytes(b"docs")
    inputs = [(teacher, "TEACHER"), (None, "--unused"), (tmp_path / "missing", "--dev"), (corpus, "--teacher-outputs")]
    assert "holds TEACHER" in input_clash(tmp_path / "run", inputs)
    assert input_clash(tmp_path / "run", inputs).startswith("OUTPUT")
    assert "holds --teacher-outputs" in input_clash(tmp_path / "run" / "distill-corpus", inputs[1:])
    assert "is TEACHER" in input_clash(tmp_path / "run" / "." / "model-best", inputs)
    assert input_clash(teacher / "student", inputs) is None  # in an input folder, deleting nothing
    assert "is a file" in input_clash(corpus, inputs)
    assert input_clash(tmp_path / "run" / "student", inputs) is None
    assert input_clash(tmp_path / "run" / "model-best-student", inputs) is None  # a prefix, not a parent


def test_a_pipeline_may_be_written_in_place_only_where_the_command_allows_it(tmp_path):
    model = make_source(tmp_path / "run" / "model-best")
    assert pipeline_write_clash(model, model, in_place=True) is None
    assert "is MODEL" in pipeline_write_clash(model, model, in_place=False)
    for in_place in (True, False):
        assert "holds MODEL" in pipeline_write_clash(model, tmp_path / "run", in_place=in_place)
        assert "inside MODEL" in pipeline_write_clash(model, model / "copy", in_place=in_place)
    vectors = make_source(tmp_path / "vectors")
    assert "is VECTORS" in pipeline_write_clash(model, vectors, in_place=False, inputs=[(vectors, "VECTORS")])
    (tmp_path / "afile").write_text("")
    assert "is a file" in pipeline_write_clash(model, tmp_path / "afile", in_place=True)


def test_an_update_keeps_what_a_write_into_the_folder_would_have_kept(tmp_path):
    model = make_source(tmp_path / "model")
    (model / "retrain_relations.json").write_text("{}")
    (model / "notes").mkdir()
    (model / "notes" / "a.txt").write_text("mine")
    with staged_update(model) as staging:
        (staging / "config.cfg").write_text("[nlp]\nnew = true\n")
    assert (model / "config.cfg").read_text() == "[nlp]\nnew = true\n"
    assert (model / "retrain_relations.json").read_text() == "{}" and (model / "notes" / "a.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(OSError, match="disk full"):
        with staged_update(model) as staging:
            (staging / "config.cfg").write_text("[nlp]\nhalf")
            raise OSError("disk full")
    assert (model / "config.cfg").read_text() == "[nlp]\nnew = true\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
