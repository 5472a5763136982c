"""nerel-batch export-onnx: the exported pipeline gives the source pipeline's outputs, without torch."""
import json
import subprocess
import sys
import zipfile

import numpy
import pytest
import spacy
from packaging.requirements import Requirement
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.packaging import build_package
from nerel_spacy.runtime.export import ExportError, export_onnx_pipeline

from conftest import TINY_DOCS
from package_helpers import make_venv, pip_install
from quantize_helpers import save_trained_trf

pytestmark = pytest.mark.slow
TEXTS = [text for text, _, _ in TINY_DOCS] + ["", "Путин"]
# As if torch, transformers and spacy-transformers were not installed: their imports fail,
# and spacy-transformers' entry points (which spaCy loads for every pipeline) are gone.
NO_TORCH = """\
import sys
for name in ('torch', 'transformers', 'spacy_transformers'):
    sys.modules[name] = None
import catalogue, importlib.metadata
groups = catalogue.AVAILABLE_ENTRY_POINTS
groups = groups.values() if hasattr(groups, "values") else [groups]
catalogue.AVAILABLE_ENTRY_POINTS = importlib.metadata.EntryPoints(
    e for group in groups for e in group if not e.value.startswith('spacy_transformers'))
"""


@pytest.fixture(scope="module")
def source_dir(tiny_bert_dir, tmp_path_factory):
    return save_trained_trf(tiny_bert_dir, tmp_path_factory.mktemp("onnx_source") / "model")


def head_outputs(nlp, text, encoder_name):
    doc = nlp.get_pipe(encoder_name)(nlp.make_doc(text))
    outputs = nlp.get_pipe("nerel_joint").model.predict([doc])
    return {task: value for task, value in outputs.items() if task in ("ner", "spans", "cats")}


def annotations(doc):
    return {"ents": [(e.start, e.end, e.label_) for e in doc.ents],
            "spans": [(s.start, s.end, s.label_) for s in doc.spans.get("nerel", [])],
            "cats": {label: round(score, 4) for label, score in doc.cats.items()}}


def test_fp32_export_reproduces_the_heads_outputs_and_round_trips(source_dir, tmp_path):
    source = spacy.load(source_dir)
    exported, report = export_onnx_pipeline(source, int8=False)
    assert exported.pipe_names == ["encoder", "nerel_joint"] and (report.window, report.stride) == (8, 6)
    exported.to_disk(tmp_path / "onnx")
    loaded = spacy.load(tmp_path / "onnx")
    for text in TEXTS:
        if text:  # the heads' raw outputs; an empty doc never reaches them
            expected, found = head_outputs(source, text, "transformer"), head_outputs(loaded, text, "encoder")
            for task in expected:
                for a, b in zip(numpy.atleast_1d(expected[task]), numpy.atleast_1d(found[task])):
                    numpy.testing.assert_allclose(numpy.asarray(b), numpy.asarray(a), atol=2e-4, rtol=1e-3)
        assert annotations(loaded(text)) == annotations(source(text))
    assert loaded.meta["onnx"]["int8"] is False


def test_the_export_loads_and_annotates_without_torch(source_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["export-onnx", str(source_dir), str(tmp_path / "onnx")])
    assert result.exit_code == 0, result.output
    script = NO_TORCH + (
        "import json, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'onnx')!r})\n"
        f"docs = list(nlp.pipe({TEXTS!r}))\n"
        "print(json.dumps([[(e.start, e.end, e.label_) for e in d.ents] for d in docs]))\n"
        "print(json.dumps([sorted(d.cats.items()) for d in docs]))\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    ents, cats = (json.loads(line) for line in ran.stdout.strip().splitlines()[-2:])
    in_process = spacy.load(tmp_path / "onnx")
    assert ents == [[list(e) for e in annotations(d)["ents"]] for d in in_process.pipe(TEXTS)]
    assert len(cats) == len(TEXTS)


def test_windows_run_shortest_first_and_each_doc_keeps_its_own_vectors(source_dir, monkeypatch):
    exported, _ = export_onnx_pipeline(spacy.load(source_dir), int8=False)
    encoder = exported.get_pipe("encoder")
    encoder.cfg["batch_windows"] = 2
    texts = [" ".join(TEXTS[:3]) * 3, TEXTS[1], TEXTS[0] * 2, "Путин"]
    alone = [encoder(exported.make_doc(text)).tensor for text in texts]
    lengths = []
    run = encoder._run
    monkeypatch.setattr(encoder, "_run", lambda ids: lengths.append(max(map(len, ids))) or run(ids))
    together = [doc.tensor for doc in encoder.pipe((exported.make_doc(text) for text in texts), batch_size=8)]
    assert len(lengths) > 2 and lengths == sorted(lengths)  # little padding: similar lengths share a batch
    for a, b in zip(alone, together):
        numpy.testing.assert_allclose(b, a, atol=1e-5)


def test_int8_export_stays_close_to_the_float_pipeline(source_dir):
    source = spacy.load(source_dir)
    exported, report = export_onnx_pipeline(source, int8=True)
    fp32, _ = export_onnx_pipeline(source, int8=False)
    assert report.int8 and report.graph_bytes < len(fp32.get_pipe("encoder").to_bytes())
    for text in TEXTS[:3]:
        a = fp32.get_pipe("encoder")(fp32.make_doc(text)).tensor
        b = exported.get_pipe("encoder")(exported.make_doc(text)).tensor
        cosine = (a * b).sum(axis=1) / (numpy.linalg.norm(a, axis=1) * numpy.linalg.norm(b, axis=1) + 1e-9)
        assert cosine.mean() > 0.95


def test_refuses_what_it_cannot_export(source_dir, tmp_path):
    exported, _ = export_onnx_pipeline(spacy.load(source_dir), int8=False)
    with pytest.raises(ExportError, match="already an ONNX export"):
        export_onnx_pipeline(exported)
    cnn = spacy.blank("ru")
    with pytest.raises(ExportError, match="need a 'transformer' component"):
        export_onnx_pipeline(cnn)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["export-onnx", str(source_dir), str(tmp_path / "taken")])
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert (tmp_path / "taken" / "notes.txt").exists()


def test_the_export_requires_onnxruntime_not_the_torch_stack(source_dir):
    source = spacy.load(source_dir)
    source.meta["requirements"] = ["spacy-transformers>=1.4.0,<1.5.0", "nerel-spacy[transformers]>=0.1",
                                   "torch==2.13.0", "natasha>=1.6"]
    exported, _ = export_onnx_pipeline(source, int8=False)
    assert exported.meta["requirements"] == [
        "nerel-spacy>=0.1", "natasha>=1.6", "onnxruntime>=1.17", "tokenizers>=0.15"]


def test_annotate_runs_without_torch_and_the_commands_that_need_it_say_so(source_dir, tmp_path):
    exported, _ = export_onnx_pipeline(spacy.load(source_dir), int8=False)
    exported.to_disk(tmp_path / "onnx")
    (tmp_path / "texts").mkdir()
    for i, text in enumerate(TEXTS[:3]):
        (tmp_path / "texts" / f"{i}.txt").write_text(text, encoding="utf-8")
    script = NO_TORCH + (
        "from nerel_spacy.cli import app\n"
        "import sys\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "finally:\n"
        "    assert sys.modules.get('torch') is None\n"
    )
    annotate = [sys.executable, "-c", script, "annotate", str(tmp_path / "texts"), "-m", str(tmp_path / "onnx"),
                "-o", str(tmp_path / "out.jsonl")]
    ran = subprocess.run(annotate, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in records) == ["0.txt", "1.txt", "2.txt"]
    refused = subprocess.run([sys.executable, "-c", script, "quantize", "a", "b"], capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "pip install" in refused.stderr


def test_its_package_installs_and_loads_by_name_without_the_torch_stack(source_dir, tmp_path):
    exported, _ = export_onnx_pipeline(spacy.load(source_dir), int8=True)
    exported.to_disk(tmp_path / "onnx")
    built = build_package(tmp_path / "onnx", tmp_path / "packages", name="nerel_onnx", version="0.1.0")
    with zipfile.ZipFile(built.wheel) as wheel:
        wheel_meta = wheel.read("ru_nerel_onnx-0.1.0.dist-info/METADATA").decode("utf8")
    requirements = {Requirement(line.split(":", 1)[1].strip()).name: Requirement(line.split(":", 1)[1].strip())
                    for line in wheel_meta.splitlines() if line.startswith("Requires-Dist:")}
    assert sorted(requirements) == ["nerel-spacy", "onnxruntime", "spacy", "tokenizers"]
    assert not requirements["nerel-spacy"].extras  # its transformers extra would bring torch
    python = make_venv(tmp_path / "venv")
    pip_install(python, built.wheel)
    script = NO_TORCH + (
        "import json, spacy, ru_nerel_onnx\n"
        "nlp = spacy.load('ru_nerel_onnx')\n"
        f"docs = list(nlp.pipe({TEXTS!r}))\n"
        "assert ru_nerel_onnx.__file__.startswith(sys.prefix), ru_nerel_onnx.__file__\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(json.dumps([[[e.start, e.end, e.label_] for e in d.ents] for d in docs]))\n"
    )
    ran = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == [
        [list(e) for e in annotations(doc)["ents"]] for doc in exported.pipe(TEXTS)]


def test_a_pipeline_with_static_vectors_exports_with_them(source_dir, tmp_path):
    """`all` ships a pipeline whose encoder also reads navec (train-rounds' last round)."""
    from nerel_spacy.static_vectors import add_static_vectors, static_projection

    from conftest import save_fixture_vectors

    rng = numpy.random.default_rng(0)
    save_fixture_vectors(tmp_path / "vectors")
    source = add_static_vectors(spacy.load(source_dir), tmp_path / "vectors", scale=4.0)
    projection = static_projection(source)
    projection.set_param("W", rng.normal(size=projection.get_param("W").shape).astype("float32"))
    source.to_disk(tmp_path / "source")
    source = spacy.load(tmp_path / "source")
    exported, _ = export_onnx_pipeline(source, int8=False)
    exported.to_disk(tmp_path / "onnx")
    loaded = spacy.load(tmp_path / "onnx")
    assert loaded.vocab.vectors.shape == source.vocab.vectors.shape
    plain = spacy.load(source_dir)
    changed = False
    for text in TEXTS[:-2]:
        expected, found = head_outputs(source, text, "transformer"), head_outputs(loaded, text, "encoder")
        for task in expected:
            for a, b in zip(numpy.atleast_1d(expected[task]), numpy.atleast_1d(found[task])):
                numpy.testing.assert_allclose(numpy.asarray(b), numpy.asarray(a), atol=2e-4, rtol=1e-3)
        without = head_outputs(plain, text, "transformer")
        changed |= any(numpy.abs(numpy.asarray(a) - numpy.asarray(b)).max() > 1e-3
                       for task in expected for a, b in zip(numpy.atleast_1d(expected[task]),
                                                            numpy.atleast_1d(without[task])))
    assert changed  # the vectors move the outputs, so the export really reads them
    # the command stores the vectors as product-quantized codes: the same outputs, loaded without torch
    result = CliRunner().invoke(app, ["export-onnx", str(tmp_path / "source"), str(tmp_path / "onnx-cli"), "--fp32"])
    assert result.exit_code == 0 and "static vectors:" in result.output, result.output
    script = NO_TORCH + (
        "import json, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'onnx-cli')!r})\n"
        "assert type(nlp.vocab.vectors).__name__ == 'PQVectors'\n"
        f"print(json.dumps([sorted(d.cats.items()) for d in nlp.pipe({TEXTS!r})]))\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    cats = json.loads(ran.stdout.strip().splitlines()[-1])
    assert cats == [[list(item) for item in sorted(doc.cats.items())] for doc in loaded.pipe(TEXTS)]
