"""nerel_spacy.windows and nerel-batch set-windows: other windows, same weights."""
import numpy
import pytest
import spacy
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.windows import check_windows, save_with_windows

from quantize_helpers import save_trained_cnn, save_trained_trf
from conftest import model_weights


@pytest.fixture(scope="module")
def trf_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("windows") / "trf")


def test_check_windows_accepts_tilings_only():
    check_windows(256, 192)
    check_windows(8, 8)
    with pytest.raises(ValueError, match="larger than window"):
        check_windows(8, 9)
    with pytest.raises(ValueError, match="positive"):
        check_windows(0, 0)


@pytest.mark.slow
def test_saved_copy_reads_with_the_new_windows_and_keeps_themodel_weights(trf_dir, tmp_path):
    save_with_windows(trf_dir, tmp_path / "wide", window=12, stride=10)
    source, wide = spacy.load(trf_dir), spacy.load(tmp_path / "wide")
    get_spans = wide.config["components"]["transformer"]["model"]["get_spans"]
    assert (get_spans["window"], get_spans["stride"]) == (12, 10)
    doc = wide.make_doc(" ".join(["слово"] * 30))
    windows = wide.get_pipe("transformer").model.attrs["get_spans"]([doc])[0]
    assert [(span.start, span.end) for span in windows] == [(0, 12), (10, 22), (20, 30)]
    for name in source.pipe_names:
        for a, b in zip(model_weights(source.get_pipe(name).model), model_weights(wide.get_pipe(name).model)):
            numpy.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_cli_writes_the_copy_and_rejects_bad_input(trf_dir, tmp_path):
    runner = CliRunner()

    def set_windows(model, output, window, stride):
        return runner.invoke(app, ["set-windows", str(model), str(output), "--window", window, "--stride", stride])

    ok = set_windows(trf_dir, tmp_path / "w", "16", "12")
    assert ok.exit_code == 0, ok.output
    assert spacy.load(tmp_path / "w").config["components"]["transformer"]["model"]["get_spans"]["window"] == 16
    in_place = set_windows(tmp_path / "w", tmp_path / "w", "20", "10")
    assert in_place.exit_code == 0, in_place.output
    get_spans = spacy.load(tmp_path / "w").config["components"]["transformer"]["model"]["get_spans"]
    assert (get_spans["window"], get_spans["stride"]) == (20, 10)
    bad_stride = set_windows(trf_dir, tmp_path / "x", "8", "9")
    assert bad_stride.exit_code == 2 and "larger than window" in bad_stride.output
    not_a_pipeline = set_windows(tmp_path, tmp_path / "y", "8", "6")
    assert not_a_pipeline.exit_code == 2 and "config.cfg" in not_a_pipeline.output
    cnn = save_trained_cnn(tmp_path / "cnn")
    no_transformer = set_windows(cnn, tmp_path / "z", "8", "6")
    assert no_transformer.exit_code == 2
    assert "no 'transformer' component" in " ".join(no_transformer.output.split())


@pytest.mark.parametrize("output, message", [
    ("run", "holds MODEL"), ("run/model-best/w", "inside MODEL"), ("afile", "is a file"),
])
def test_cli_refuses_an_output_that_would_delete_the_model_or_is_a_file(tmp_path, output, message):
    model = tmp_path / "run" / "model-best"
    model.mkdir(parents=True)
    (model / "config.cfg").write_text("[nlp]\n")
    (tmp_path / "afile").write_text("keep me")
    result = CliRunner().invoke(app, ["set-windows", str(model), str(tmp_path / output), "--window", "8",
                                      "--stride", "6"])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no NotADirectoryError
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "afile", "run", "run/model-best", "run/model-best/config.cfg"]


@pytest.mark.slow
def test_an_in_place_change_cut_short_leaves_the_model_as_it_was(trf_dir, tmp_path, monkeypatch):
    import shutil

    from spacy.language import Language

    model = shutil.copytree(trf_dir, tmp_path / "model")
    before = {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    to_disk = Language.to_disk

    def disk_full(nlp, path, **kwargs):
        to_disk(nlp, path, **kwargs)
        (path / "transformer" / "model").write_bytes(b"")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Language, "to_disk", disk_full)
    result = CliRunner().invoke(app, ["set-windows", str(model), str(model), "--window", "20", "--stride", "10"])
    assert isinstance(result.exception, OSError)
    assert {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
