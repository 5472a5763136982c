"""``nerel-batch trim-vocab``: SOURCE and OUTPUT checked before any work, exit 2 for wrong inputs,
1 only for a failed tokenization check, and OUTPUT replaced only by a finished copy."""
import pytest
import spacy
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.cli import trim as trim_cli
from nerel_spacy.trim.encoder import TokenizationChangedError
from nerel_spacy.trim.tokenizer_json import UnsupportedTokenizerError


def trim(*args):
    return CliRunner().invoke(app, ["trim-vocab", *map(str, args)])


def flat(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture
def texts(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("Путин посетил Москву.", encoding="utf8")
    return path


@pytest.fixture
def no_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("SOURCE was loaded, or looked up on the hub, before the inputs were checked")

    monkeypatch.setattr(trim_cli, "load_hf_encoder", refuse)
    monkeypatch.setattr(spacy, "load", refuse)


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_a_mistyped_local_path_is_named_not_looked_up_on_the_hub(tmp_path, texts, monkeypatch, no_loading):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "training" / "joint_trf" / "model-best").mkdir(parents=True)
    (tmp_path / "assets" / "e5-small").mkdir(parents=True)
    for source, near in (("training/joint_trf/model-bset", "training/joint_trf/model-best"),
                         ("assets/e5-smal", "assets/e5-small"), ("./e5", None)):
        result = trim(source, "out", "--texts", texts)
        assert result.exit_code == 2, (source, result.output)
        assert f"SOURCE {source}: no such folder" in flat(result)
        assert near is None or f"Did you mean {near}?" in flat(result)
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_no_pipeline_or_encoder_is_named(tmp_path, texts, no_loading):
    (tmp_path / "empty").mkdir()
    result = trim(tmp_path / "empty", tmp_path / "out", "--texts", texts)
    assert result.exit_code == 2 and "has neither config.cfg nor config.json" in flat(result)


def test_missing_texts_are_reported_before_a_hub_name_is_loaded(tmp_path, no_loading):
    result = trim("somebody/some-encoder", tmp_path / "out", "--texts", tmp_path / "nope.txt")
    assert result.exit_code == 2 and "no such file or folder" in flat(result)
    words = trim("somebody/some-encoder", tmp_path / "out", "--texts", tmp_path, "--words", "frequent")
    assert words.exit_code == 2 and "one word per line" in flat(words)


def test_a_hub_name_that_does_not_load_is_a_message_not_a_traceback(tmp_path, texts, monkeypatch):
    def offline(source):
        raise OSError(f"We couldn't connect to 'https://huggingface.co' to load {source}")

    monkeypatch.setattr(trim_cli, "load_hf_encoder", offline)
    result = trim("somebody/some-encoder", tmp_path / "out", "--texts", texts)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "cannot load SOURCE somebody/some-encoder: We couldn't connect" in flat(result)


def test_an_output_holding_the_source_or_a_file_is_refused(tmp_path, texts, no_loading):
    parent = tmp_path / "run"
    source = parent / "model-best"
    source.mkdir(parents=True)
    (source / "config.cfg").write_text("[nlp]\n")
    (parent / "model-last").mkdir()
    before = files_under(parent)
    holds = trim(source, parent, "--texts", texts, "--overwrite")
    assert holds.exit_code == 2 and "holds SOURCE" in flat(holds) and files_under(parent) == before
    inside = trim(source, source / "trimmed", "--texts", texts)
    assert inside.exit_code == 2 and "inside SOURCE" in flat(inside)
    a_file = trim(source, texts, "--texts", texts)
    assert a_file.exit_code == 2 and "is a file" in flat(a_file)


@pytest.mark.parametrize("raised, status", [
    (TokenizationChangedError("2 of 3 fully covered texts tokenize differently"), 1),
    (UnsupportedTokenizerError("a WordLevel tokenizer can't be trimmed"), 2),
    (ValueError("a slow tokenizer; trimming needs a fast one"), 2),
])
def test_only_a_failed_tokenization_check_exits_1_and_nothing_is_replaced(
        tmp_path, texts, monkeypatch, raised, status):
    source = tmp_path / "encoder"
    source.mkdir()
    (source / "config.json").write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("earlier")

    def fails(source, output, *args, **kwargs):
        (output / "model.safetensors").write_bytes(b"half")
        raise raised

    monkeypatch.setattr(trim_cli, "load_hf_encoder", lambda source: ("tokenizer", "model"))
    monkeypatch.setattr(trim_cli, "trim_hf_folder", fails)
    result = trim(source, out, "--texts", texts, "--words", "none", "--overwrite")
    assert result.exit_code == status, result.output
    assert str(raised) in flat(result)
    assert files_under(out) == ["config.json"] and (out / "config.json").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder", "out", "texts.txt"]
