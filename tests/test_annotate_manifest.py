"""``annotate.manifest``: what made an output, and what a resume may and may not change."""
import json
from pathlib import Path

import pytest

from nerel_spacy import annotate as lib
from nerel_spacy.annotate.manifest import RunManifest, model_key, read_manifest

INFO = {"name": "ru_nerel_joint", "version": "0.3.0"}


def manifest(settings=(), **options) -> RunManifest:
    return RunManifest.for_run("ru_nerel_joint", INFO, settings, lib.AnnotateOptions(**options))


def test_manifest_path_sits_beside_a_file_and_inside_a_folder():
    assert lib.manifest_path(Path("out/news.jsonl")) == Path("out/news.run.json")
    assert lib.manifest_path(Path("out/news")) == Path("out/news.run.json")
    assert lib.manifest_path(Path("out/news-brat"), "brat") == Path("out/news-brat/annotate-run.json")


def test_only_what_shapes_the_records_is_kept():
    kept = manifest(batch_size=4, n_process=2, max_batch_chars=50_000, glob="*.md", threshold=0.3)
    assert kept == manifest(threshold=0.3)
    assert kept.to_json() == {
        "schema": 1, "model": "ru_nerel_joint", "name": "ru_nerel_joint", "version": "0.3.0",
        "settings": {}, "threshold": 0.3, "all_cats": False, "max_chars": 25_000,
        "long_texts": "split", "encoding": None,
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
