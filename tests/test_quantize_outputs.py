"""``nerel-batch quantize`` never deletes or half-writes: refused outputs, clean errors, staged writes.

The refusals come before the pipeline loads, so blank pipelines stand in for trained ones.
"""
import pytest
import spacy
from typer.testing import CliRunner

pytest.importorskip("spacy_transformers")

from nerel_spacy import quantize as quantize_module  # noqa: E402
from nerel_spacy.cli import app  # noqa: E402
from nerel_spacy.cli.quantize import report_table  # noqa: E402
from nerel_spacy.quantize import QuantizationReport  # noqa: E402


def blank_pipeline(path):
    spacy.blank("ru").to_disk(path)
    return path


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def quantize(*args):
    return CliRunner().invoke(app, ["quantize", *map(str, args)])


class _Copy:
    def to_disk(self, path):
        (path / "config.cfg").write_text("[nlp]\n")


def test_an_out_dir_holding_the_model_is_refused_even_with_overwrite(tmp_path, monkeypatch):
    monkeypatch.setattr(quantize_module, "quantize_pipeline", lambda nlp, **kwargs: (_Copy(), QuantizationReport()))
    parent = tmp_path / "run"
    parent.mkdir()
    model = blank_pipeline(parent / "model-best")
    blank_pipeline(parent / "model-last")
    before = files_under(parent)
    result = quantize(model, parent, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "holds MODEL_DIR" in result.stderr and "run/model-best-int8" in result.stderr
    assert files_under(parent) == before  # neither the source nor its sibling was touched


def test_an_out_dir_inside_the_model_or_a_file_is_refused(tmp_path):
    model = blank_pipeline(tmp_path / "model-best")
    inside = quantize(model, model / "int8")
    assert inside.exit_code == 2 and "inside MODEL_DIR" in inside.stderr
    assert not (model / "int8").exists()
    (tmp_path / "afile").write_text("keep")
    a_file = quantize(model, tmp_path / "afile")
    assert a_file.exit_code == 2 and "is a file" in a_file.stderr
    assert a_file.stderr.startswith("error: ") and (tmp_path / "afile").read_text() == "keep"


def test_a_bad_float_layers_regex_is_a_usage_error_before_loading(tmp_path, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before --float-layers was checked")

    monkeypatch.setattr(spacy, "load", no_loading)
    result = quantize(tmp_path / "model", tmp_path / "out", "--float-layers", "(")
    assert result.exit_code == 2
    assert "not a regular expression" in " ".join(result.output.split())
    assert not isinstance(result.exception, AssertionError)


def test_a_pipeline_that_does_not_load_is_a_message_not_a_traceback(tmp_path):
    nlp = spacy.blank("ru")
    nlp.add_pipe("sentencizer")
    model = tmp_path / "model"
    nlp.to_disk(model)
    config = model / "config.cfg"
    config.write_text(config.read_text().replace('factory = "sentencizer"', 'factory = "no_such_factory"'))
    result = quantize(model, tmp_path / "out")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: cannot load") and "no_such_factory" in result.stderr
    assert not (tmp_path / "out").exists()


class _FailingCopy:
    """Stands in for the int8 pipeline: writes half of itself, then the disk fills up."""

    def to_disk(self, path):
        (path / "half.bin").write_bytes(b"\0" * 10)
        raise OSError(28, "No space left on device")


def test_a_failed_write_keeps_the_earlier_output(tmp_path, monkeypatch):
    model = blank_pipeline(tmp_path / "model")
    out = tmp_path / "int8"
    out.mkdir()
    (out / "meta.json").write_text('{"quantization": {}}')  # an earlier int8 copy, replaced on reruns
    monkeypatch.setattr(quantize_module, "quantize_pipeline",
                        lambda nlp, **kwargs: (_FailingCopy(), QuantizationReport()))
    result = quantize(model, out)
    assert isinstance(result.exception, OSError)
    assert files_under(out) == ["meta.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8", "model"]  # no staging folder left


def test_the_summary_copes_with_a_source_of_unknown_size():
    table = report_table(QuantizationReport(), 0.0, 12.5)
    assert "0.0 → 12.5 MiB" in table.caption and "%" not in table.caption
    assert "(25%)" in report_table(QuantizationReport(), 50.0, 12.5).caption
