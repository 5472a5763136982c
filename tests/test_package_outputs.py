"""``build_package`` and ``nerel-batch package``: where a package may be written, rebuilds that fail
keep the earlier package, normalised versions, and whose scores the package shows.

Blank pipelines package in a second or two (``--no-wheel``); the wheel step is stubbed where
only its place in the sequence matters (test_package.py builds and installs real wheels).
"""
import json

import pytest
import spacy
import srsly
from typer.testing import CliRunner

from nerel_spacy import packaging
from nerel_spacy.cli import app
from nerel_spacy.package_meta import SOURCE_PERFORMANCE_NOTE, set_aside_performance, with_package_info
from nerel_spacy.packaging import PackagingError, build_package, check_version

PACKAGE_DIR = "ru_nerel_joint-0.1.0"
EVALUATION = {
    "token_acc": 1.0, "token_p": 1.0, "token_r": 1.0, "token_f": 1.0, "ents_p": 0.8, "ents_r": 0.7,
    "ents_f": 0.75, "ents_per_type": {"PERSON": {"p": 0.9, "r": 0.8, "f": 0.85}}, "cats_score_desc": "micro F",
    "speed": {"docs": 3, "seconds": 0.1}, "meta": {"model": "training/joint_trf/model-int8",
                                                   "corpus": "corpus/dev.spacy", "date": "2025-01-01T00:00:00+00:00"},
}


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model"
    spacy.blank("ru").to_disk(path)
    return path


def with_meta(path, **fields):
    meta = srsly.read_json(path / "meta.json")
    meta.update(fields)
    srsly.write_json(path / "meta.json", meta)
    return path


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_an_output_inside_the_pipeline_is_refused_before_copying(model):
    before = files_under(model)
    with pytest.raises(PackagingError, match="is inside the pipeline .* copied into itself"):
        build_package(model, model / "packages", wheel=False)
    assert files_under(model) == before
    result = CliRunner().invoke(app, ["package", str(model), str(model / "packages"), "--no-wheel"])
    assert result.exit_code == 1 and "copied into itself" in result.output
    assert files_under(model) == before


def test_an_output_holding_the_pipeline_is_refused(model, tmp_path):
    with pytest.raises(PackagingError, match="holds the pipeline"):
        build_package(model, tmp_path, wheel=False)


def test_an_output_that_is_a_file_or_unwritable_is_a_message(model, tmp_path):
    (tmp_path / "afile").write_text("keep")
    with pytest.raises(PackagingError, match="is a file"):
        build_package(model, tmp_path / "afile", wheel=False)
    with pytest.raises(PackagingError, match="can't write the package under"):
        build_package(model, tmp_path / "afile" / "packages", wheel=False)
    result = CliRunner().invoke(app, ["package", str(model), str(tmp_path / "afile"), "--no-wheel"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert (tmp_path / "afile").read_text() == "keep"


def test_a_failed_rebuild_keeps_the_earlier_package(model, tmp_path, monkeypatch):
    out = tmp_path / "packages"
    first = build_package(model, out, wheel=False)
    before = files_under(first.package_dir)

    def broken(*args, **kwargs):
        raise ValueError("[E002] Can't find factory for 'nerel_joint'")

    monkeypatch.setattr(packaging, "spacy_package", broken)
    with pytest.raises(PackagingError, match="could not package"):
        build_package(model, out, wheel=False)
    assert files_under(first.package_dir) == before
    assert [p.name for p in out.iterdir()] == [PACKAGE_DIR]  # no half-built folder left behind


def test_a_failed_wheel_keeps_the_earlier_package_and_a_good_one_is_swapped_in(model, tmp_path, monkeypatch):
    out = tmp_path / "packages"
    first = build_package(model, out, wheel=False)
    (first.package_dir / "earlier.txt").write_text("from the earlier build")
    monkeypatch.setattr(packaging, "require_wheel_backend", lambda: None)

    def failing_wheel(package_dir):
        raise PackagingError("building the wheel failed")

    monkeypatch.setattr(packaging, "build_wheel", failing_wheel)
    with pytest.raises(PackagingError, match="building the wheel failed"):
        build_package(model, out)
    assert (first.package_dir / "earlier.txt").exists()

    def fake_wheel(package_dir):
        assert package_dir != first.package_dir  # built aside, not over the earlier package
        (package_dir / "dist").mkdir()
        wheel = package_dir / "dist" / "ru_nerel_joint-0.1.0-py3-none-any.whl"
        wheel.write_bytes(b"PK")
        return wheel

    monkeypatch.setattr(packaging, "build_wheel", fake_wheel)
    heard = []
    result = build_package(model, out, report=heard.append)
    assert result.wheel == first.package_dir / "dist" / "ru_nerel_joint-0.1.0-py3-none-any.whl"
    assert result.wheel.is_file() and not (first.package_dir / "earlier.txt").exists()
    assert [message.split()[0] for message in heard] == ["Packaging", "Building"]
    assert [p.name for p in out.iterdir()] == [PACKAGE_DIR]


def test_versions_are_normalised_as_the_wheel_names_them(model, tmp_path):
    assert check_version("v1.0-Beta") == "1.0b0" and check_version("0.1.0") == "0.1.0"
    result = build_package(model, tmp_path / "packages", version="v1.0-Beta", wheel=False)
    assert result.version == "1.0b0" and result.package_dir.name == "ru_nerel_joint-1.0b0"
    assert result.meta["version"] == "1.0b0"


def test_a_copys_inherited_scores_are_set_aside(model):
    scores = {"ents_f": 0.9, "speed": 1000.0}
    meta = set_aside_performance({"lang": "ru", "performance": dict(scores)})
    assert "performance" not in meta and meta["source_performance"] == scores
    assert meta["source_performance_note"] == SOURCE_PERFORMANCE_NOTE
    assert set_aside_performance({"lang": "ru"}) == {"lang": "ru"}
    # an int8 copy made before quantize set them aside itself: the package shows none of them
    int8 = with_package_info({"lang": "ru", "quantization": {}, "performance": dict(scores)}, model)
    assert int8["performance"] == {} and int8["source_performance"] == scores
    # a float32 pipeline's own training scores stay
    assert with_package_info({"lang": "ru", "performance": dict(scores)}, model)["performance"] == scores


def test_scores_from_evaluate_become_the_packages(model, tmp_path):
    with_meta(model, quantization={"format": "nerel.int8.v1"}, performance={"ents_f": 0.99})
    plain = build_package(model, tmp_path / "plain", wheel=False)
    assert plain.meta["source_performance"] == {"ents_f": 0.99} and not plain.meta["performance"]
    assert "Accuracy" not in (plain.package_dir / "README.md").read_text(encoding="utf8")
    scored = build_package(model, tmp_path / "scored", wheel=False, performance=EVALUATION)
    assert scored.meta["performance"] == pytest.approx({"token_acc": 1.0, "ents_p": 0.8, "ents_r": 0.7, "ents_f": 0.75})
    assert scored.meta["performance_source"]["corpus"] == "corpus/dev.spacy"
    readme = (scored.package_dir / "README.md").read_text(encoding="utf8")
    assert "Accuracy" in readme and "`ENTS_F` | 75.00" in readme and "99.00" not in readme
    with pytest.raises(PackagingError, match="--performance takes a SPLIT.json"):
        build_package(model, tmp_path / "bad", wheel=False, performance={"ents_f": 0.5})


def test_the_command_reads_performance_and_says_what_is_wrong(model, tmp_path):
    evaluation = tmp_path / "dev.json"
    evaluation.write_text(json.dumps(EVALUATION), encoding="utf8")
    out = tmp_path / "packages"
    result = CliRunner().invoke(app, ["package", str(model), str(out), "--no-wheel", "--performance", str(evaluation)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / PACKAGE_DIR / "meta.json").read_text())["performance"]["ents_f"] == 0.75
    (tmp_path / "notes.txt").write_text("not json")
    bad = CliRunner().invoke(app, ["package", str(model), str(out), "--no-wheel", "--performance",
                                   str(tmp_path / "notes.txt")])
    assert bad.exit_code == 1 and "cannot read it as JSON" in bad.output
