"""nerel-batch compact-vectors, and the compact copies quantize and export-onnx write by default."""
import json
import shutil

import pytest
import spacy
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.pq_vectors import PQVectors

from conftest import unwrapped
from test_vector_compaction import navec_vectors  # noqa: F401  (the fixture)

runner = CliRunner()


def listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def test_it_writes_a_compact_copy_and_leaves_the_source(navec_vectors, tmp_path):  # noqa: F811
    before = listing(navec_vectors)
    result = runner.invoke(app, ["compact-vectors", str(navec_vectors), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = " ".join(unwrapped(result.output).split())
    assert "Wrote" in text and "420 vectors of 300 dimensions" in text and "every row identical" in text, text
    assert listing(navec_vectors) == before
    assert isinstance(spacy.load(tmp_path / "out").vocab.vectors, PQVectors)
    meta = json.loads((tmp_path / "out" / "meta.json").read_text(encoding="utf8"))
    assert meta["compact_vectors"] == {"source": str(navec_vectors)}
    # a rerun replaces its earlier copy; --keep-strings keeps the words
    result = runner.invoke(app, ["compact-vectors", str(navec_vectors), str(tmp_path / "out"), "--keep-strings"])
    assert result.exit_code == 0, result.output
    assert (json.loads((tmp_path / "out" / "vocab" / "strings.json").read_text(encoding="utf8"))
            == json.loads((navec_vectors / "vocab" / "strings.json").read_text(encoding="utf8")))


@pytest.mark.parametrize("make,says", [
    (lambda tmp: spacy.blank("ru").to_disk(tmp / "model") or tmp / "model", "has no static vectors table"),
    (lambda tmp: tmp, "not a pipeline folder (no config.cfg)"),
])
def test_nothing_to_compact_is_exit_2_and_writes_nothing(tmp_path, make, says):
    model = make(tmp_path)
    result = runner.invoke(app, ["compact-vectors", str(model), str(tmp_path / "out")])
    assert result.exit_code == 2 and says in " ".join(unwrapped(result.output).split()), result.output
    assert not (tmp_path / "out").exists()


def test_an_out_dir_holding_something_else_or_the_model_is_refused(navec_vectors, tmp_path):  # noqa: F811
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine", encoding="utf8")
    result = runner.invoke(app, ["compact-vectors", str(navec_vectors), str(tmp_path / "busy")])
    assert result.exit_code == 2 and "pass --overwrite" in " ".join(unwrapped(result.output).split())
    assert (tmp_path / "busy" / "notes.txt").read_text(encoding="utf8") == "mine"
    model = tmp_path / "model"
    shutil.copytree(navec_vectors, model)
    result = runner.invoke(app, ["compact-vectors", str(model), str(model)])
    assert result.exit_code == 2 and listing(model) == listing(navec_vectors)


@pytest.mark.slow
@pytest.mark.parametrize("dense", [False, True], ids=["default", "--dense-vectors"])
def test_quantize_stores_the_vectors_of_a_transformer_with_navec_as_codes(navec_vectors, tiny_bert_dir, tmp_path,  # noqa: F811
                                                                          dense):
    """A transformer pipeline after add-vectors (all's last round), quantized: the int8 copy keeps codes
    unless --dense-vectors, and predicts what the dense int8 copy predicts."""
    from nerel_spacy.static_vectors import save_with_static_vectors

    from quantize_helpers import save_trained_trf
    from test_static_vectors import annotations

    trf = save_trained_trf(tiny_bert_dir, tmp_path / "trf")
    save_with_static_vectors(trf, navec_vectors, tmp_path / "navec", scale=4.0)
    args = ["quantize", str(tmp_path / "navec"), str(tmp_path / "int8"), "--backend", "int8"]
    result = runner.invoke(app, args + (["--dense-vectors"] if dense else []))
    assert result.exit_code == 0, result.output
    int8 = spacy.load(tmp_path / "int8")
    assert isinstance(int8.vocab.vectors, PQVectors) != dense
    assert ("static vectors: 420 rows kept as 100 codes each" in " ".join(unwrapped(result.output).split())) != dense
    result = runner.invoke(app, args[:2] + [str(tmp_path / "int8-dense"), "--backend", "int8", "--dense-vectors"])
    assert annotations(int8) == annotations(spacy.load(tmp_path / "int8-dense"))
