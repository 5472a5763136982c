"""Where quantize, trim-vocab and export-onnx may write a pipeline copy, and how it is swapped in."""
import pytest

from nerel_spacy.cli._outputs import output_clash, staged_output, staging_dir


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
