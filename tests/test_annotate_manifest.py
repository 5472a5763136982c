"""``annotate.manifest``: what made an output, and what a resume may and may not change."""
import json
import os
from pathlib import Path

import pytest

from nerel_spacy import annotate as lib
from nerel_spacy.annotate.manifest import RunManifest, model_key, pipeline_fingerprint, read_manifest

INFO = {"name": "ru_nerel_joint", "version": "0.3.0"}
MODEL = "ru_nerel_not_installed"  # a package name this environment lacks: no files to read


def manifest(settings=(), model=MODEL, **options) -> RunManifest:
    return RunManifest.for_run(model, INFO, settings, lib.AnnotateOptions(**options))


def test_manifest_path_sits_beside_a_file_and_inside_a_folder():
    assert lib.manifest_path(Path("out/news.jsonl")) == Path("out/news.run.json")
    assert lib.manifest_path(Path("out/news")) == Path("out/news.run.json")
    assert lib.manifest_path(Path("out/news-brat"), "brat") == Path("out/news-brat/annotate-run.json")


def test_only_what_shapes_the_records_is_kept():
    kept = manifest(batch_size=4, n_process=2, max_batch_chars=50_000, glob="*.md", threshold=0.3)
    assert kept == manifest(threshold=0.3)
    assert kept.to_json() == {
        "schema": 1, "model": MODEL, "name": "ru_nerel_joint", "version": "0.3.0",
        "settings": {}, "threshold": 0.3, "all_cats": False, "max_chars": 25_000,
        "long_texts": "split", "encoding": None, "files": None,
    }


def test_settings_are_compared_as_values_and_the_last_of_a_repeat_counts():
    a = manifest(["nerel_joint.span_threshold=0.40", "nerel_joint.nested_arguments=best"])
    b = manifest(["nerel_joint.nested_arguments=\"best\"", "nerel_joint.span_threshold=0.3",
                  "nerel_joint.span_threshold=0.4"])
    assert a == b
    assert a.settings == {"nerel_joint.nested_arguments": "best", "nerel_joint.span_threshold": 0.4}


def test_a_pipeline_folder_is_kept_as_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    assert model_key("model") == model_key("./model") == str(tmp_path / "model")
    assert model_key("ru_nerel_joint") == "ru_nerel_joint"


def test_differences_name_each_option_as_typed():
    earlier = manifest(["nerel_joint.span_threshold=0.4"])
    now = manifest(threshold=0.3, all_cats=True)
    assert now.differences(earlier) == [
        'the settings (--set): nerel_joint.span_threshold=0.4 then, none now',
        "--threshold: none then, 0.3 now",
        "--all-cats: false then, true now",
    ]
    assert earlier.differences(earlier) == []


def test_the_manifest_round_trips_through_its_file(tmp_path):
    path = tmp_path / "out.run.json"
    written = manifest(["nerel_joint.nested_arguments=best"], encoding="cp1251", long_texts="skip")
    lib.write_manifest(path, written)
    assert read_manifest(path) == written
    assert json.loads(path.read_text(encoding="utf-8"))["schema"] == 1
    assert not list(tmp_path.glob(".*.tmp"))
    assert read_manifest(tmp_path / "none.run.json") is None


def test_check_resumable_refuses_another_run_and_names_the_difference(tmp_path):
    path = tmp_path / "out.run.json"
    assert not lib.check_resumable(path, manifest())  # no manifest: an output from before them resumes
    lib.write_manifest(path, manifest(["nerel_joint.span_threshold=0.4"]))
    assert lib.check_resumable(path, manifest(["nerel_joint.span_threshold=0.4"], batch_size=8))
    with pytest.raises(lib.OutputError) as refused:
        lib.check_resumable(path, manifest(max_chars=1000))
    message = str(refused.value)
    assert str(path) in message and "--overwrite" in message
    assert "the settings (--set): nerel_joint.span_threshold=0.4 then, none now" in message
    assert "--max-chars: 25000 then, 1000 now" in message


def test_an_unreadable_manifest_says_how_to_go_on(tmp_path):
    path = tmp_path / "out.run.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(lib.OutputError, match="Delete it to resume without that check"):
        lib.check_resumable(path, manifest())


def _pipeline_folder(tmp_path):
    folder = tmp_path / "model-int8"
    (folder / "nerel_joint").mkdir(parents=True)
    (folder / "meta.json").write_text("{}", encoding="utf8")
    (folder / "nerel_joint" / "model").write_bytes(b"weights")
    return folder


def test_the_fingerprint_follows_each_files_size_and_time_and_nothing_else(tmp_path):
    folder = _pipeline_folder(tmp_path)
    first = pipeline_fingerprint(str(folder))
    assert first == pipeline_fingerprint(str(folder)) and len(first) == 16
    weights = folder / "nerel_joint" / "model"
    stat = weights.stat()
    weights.write_bytes(b"WEIGHTS")  # the same size ...
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and time: not seen (stat alone, as make)
    assert pipeline_fingerprint(str(folder)) == first
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = pipeline_fingerprint(str(folder))
    assert changed != first
    (folder / "nerel_joint" / "extra").write_bytes(b"")
    assert pipeline_fingerprint(str(folder)) not in (first, changed)
    assert pipeline_fingerprint(MODEL) is None


def test_a_pipeline_rebuilt_in_the_same_folder_is_refused_with_a_way_on(tmp_path):
    folder = _pipeline_folder(tmp_path)
    path = tmp_path / "out.run.json"
    lib.write_manifest(path, manifest(model=str(folder)))
    assert lib.check_resumable(path, manifest(model=str(folder)))
    weights = folder / "nerel_joint" / "model"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    with pytest.raises(lib.OutputError) as refused:
        lib.check_resumable(path, manifest(model=str(folder)))
    message = str(refused.value)
    assert "the pipeline's files: changed since" in message and "delete the manifest" in message
    assert "then," not in message  # no digests shown


def test_a_manifest_from_before_the_fingerprint_resumes_and_is_then_rewritten(tmp_path):
    folder = _pipeline_folder(tmp_path)
    path = tmp_path / "out.run.json"
    older = manifest(model=str(folder)).to_json()
    del older["files"]
    path.write_text(json.dumps(older), encoding="utf8")
    assert lib.check_resumable(path, manifest(model=str(folder))) is False  # not refused; the caller writes the new one
