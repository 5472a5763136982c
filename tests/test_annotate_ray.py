"""``nerel-batch annotate --engine ray``: the same records as the local engine, exactly once.

A real local Ray (``ray.init(num_cpus=2)``, shut down at the end even on failure) runs a
tiny trained ``nerel_joint`` pipeline over ~200 documents with every bad-input kind; a
driver killed mid-run is resumed, and a worker that dies mid-batch is retried by Ray. The
rule-based pipeline of ``annotate_helpers`` fails on one text: by an exception, listed as
locally, or by killing its worker every time, listed after bounded retries.
"""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import spacy
from typer.testing import CliRunner

import annotate_helpers
from conftest import REPO_ROOT, TINY_DOCS, make_examples
from pipeline_helpers import cnn_nlp, train
from nerel_spacy.annotate import AnnotateOptions, Annotated, InputError, Resumed, SettingsRefused, read_done_ids
from nerel_spacy.annotate.engines import RAY_INSTALL, make_engine
from nerel_spacy.annotate.engines.local import LocalEngine
from nerel_spacy.cli import app

# A component for the pipeline under test, imported with --code wherever it loads. It kills
# its process once, the first time it meets CRASH_MARK after the test created the ARM file
# (removing a file succeeds for one process only), and sleeps per doc while SLOW exists.
CODE = '''
import os, time
from spacy.language import Language

class CrashOnce:
    def __init__(self, folder):
        self.folder = folder

    def __call__(self, doc):
        if os.path.exists(os.path.join(self.folder, "SLOW")):
            time.sleep(0.05)
        if "{mark}" in doc.text:
            try:
                os.remove(os.path.join(self.folder, "ARM"))
            except FileNotFoundError:
                return doc
            os._exit(1)
        return doc

@Language.factory("ray_test_crash_once", default_config={{"folder": ""}})
def make_crash_once(nlp, name, folder):
    return CrashOnce(folder)
'''
CRASH_MARK = "КРАШ"
HELPERS = Path(annotate_helpers.__file__).resolve()
MAX_CHARS = 400
SENTENCES = [text for text, _, _ in TINY_DOCS] + ["Иван Петров работает в Москве .", "Здесь нет сущностей ."]

# Imported by the tests that need it: Ray Data takes a second to import, which the quick
# suite (whose tests here run without Ray) should not pay.
RAY_INSTALLED = importlib.util.find_spec("ray") is not None
# The CLI tests at the end run without Ray; the rest need it.
needs_ray = pytest.mark.skipif(not RAY_INSTALLED, reason=f"Ray Data is not installed ({RAY_INSTALL})")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray with 2 CPUs; its workers import this checkout's nerel_spacy."""
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), previous]))
    import ray

    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Tuple[Path, Path, Path]:
    """A nerel_joint trained for a few steps, plus the crash/slow component: (model, code, control folder)."""
    root = tmp_path_factory.mktemp("ray_pipeline")
    control = root / "control"
    control.mkdir()
    code = root / "crash_once.py"
    code.write_text(CODE.format(mark=CRASH_MARK), encoding="utf-8")
    spacy.util.import_file("ray_test_code", code)
    spacy.util.fix_random_seed(0)
    nlp = cnn_nlp()
    train(nlp, make_examples(nlp), n_steps=20)
    nlp.add_pipe("ray_test_crash_once", config={"folder": str(control)})
    nlp.to_disk(root / "model")
    return root / "model", code, control


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """~200 inputs under docs/ (one long, one with CRASH_MARK, every bad kind) and 5 under more/."""
    root = tmp_path_factory.mktemp("ray_corpus")
    docs = root / "docs"
    for i in range(190):
        path = docs / f"d{i // 50}" / f"{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"{SENTENCES[i % 5]} Номер {i} . {SENTENCES[i * 7 % 5]}"
        path.write_text(text, encoding="utf-8")
    (docs / "long.txt").write_text("\n\n".join(SENTENCES * 6), encoding="utf-8")
    (docs / "crash.txt").write_text(f"{CRASH_MARK} {SENTENCES[0]}", encoding="utf-8")
    (docs / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary")
    (docs / "cp1251.txt").write_bytes("Москва".encode("cp1251"))
    (docs / "empty.txt").write_bytes(b"")
    (docs / "blank.txt").write_text(" \n\t\n", encoding="utf-8")
    (docs / "broken.txt").symlink_to(root / "nowhere.txt")
    (docs / "loop.txt").symlink_to(docs / "loop.txt")
    more = root / "more"
    more.mkdir()
    for i in range(4):
        (more / f"m{i}.txt").write_text(SENTENCES[i], encoding="utf-8")
    (more / "m.bin.txt").write_bytes(b"\x00\x01")
    return root


BAD = {
    "binary.txt": "binary", "cp1251.txt": "not-utf8", "empty.txt": "empty", "blank.txt": "empty",
    "broken.txt": "broken-symlink", "loop.txt": "broken-symlink", "m.bin.txt": "binary",
}
OPTIONS = AnnotateOptions(batch_size=8, max_chars=MAX_CHARS)


def split_events(events: List[Any]) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, Dict[str, Any]]]:
    """(records by id, error records by id), asserting each id comes once."""
    records: Dict[str, Dict[str, Any]] = {}
    errors: Dict[str, Dict[str, Any]] = {}
    for event in events:
        assert not isinstance(event, Resumed)
        target = records if isinstance(event, Annotated) else errors
        key = event.record["id"] if isinstance(event, Annotated) else event.id
        assert key not in records and key not in errors, f"{key} came twice"
        target[key] = event.record if isinstance(event, Annotated) else event.to_record()
    return records, errors


@pytest.fixture(scope="module")
def local_run(pipeline, corpus):
    """The local engine's records and errors over docs/ and more/, the reference."""
    model, code, _ = pipeline
    events = list(LocalEngine(str(model), code).annotate([str(corpus / "docs"), str(corpus / "more")], OPTIONS))
    return split_events(events)


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.slow
@needs_ray
def test_ray_records_equal_local(cluster, pipeline, corpus, local_run, tmp_path):
    model, code, _ = pipeline
    local_records, local_errors = local_run
    assert len(local_records) == 190 + 2 + 4 and set(local_errors) == set(BAD)
    assert len(local_records["long.txt"]["parts"]) > 1
    engine = make_engine("ray", str(model), code, workers=2)
    try:
        # more/ is read through pyarrow's filesystem (a file:// URI), as s3:// would be.
        events = list(engine.annotate([str(corpus / "docs"), f"file://{corpus / 'more'}"], OPTIONS))
    finally:
        engine.close()
    records, errors = split_events(events)
    assert records == local_records  # per id, key order aside
    assert {id: error["reason"] for id, error in errors.items()} == BAD
    for id, error in errors.items():
        if id.startswith("m."):
            assert error["path"] == f"file://{corpus / 'more' / id}"
        else:
            assert error == local_errors[id]
    assert engine.duplicates_dropped == 0
    import ray

    assert ray.is_initialized(), "the engine must leave a Ray it did not start running"


@pytest.mark.slow
@needs_ray
def test_settings_reach_the_actors_and_a_bad_one_is_refused_before_any_work(cluster, pipeline, corpus):
    model, code, _ = pipeline
    settings = ["nerel_joint.threshold=0.0"]  # every relation type's score in "cats"
    inputs = [str(corpus / "more")]
    local, _ = split_events(LocalEngine(str(model), code, settings).annotate(inputs, OPTIONS))
    plain, _ = split_events(LocalEngine(str(model), code).annotate(inputs, OPTIONS))
    assert local != plain and all(len(r["cats"]) > len(plain[i]["cats"]) for i, r in local.items())
    engine = make_engine("ray", str(model), code, settings=settings, workers=1)
    try:
        records, _ = split_events(engine.annotate(inputs, OPTIONS))
    finally:
        engine.close()
    assert records == local
    with pytest.raises(SettingsRefused, match="nerel_joint has no 'treshold'"):
        make_engine("ray", str(model), code, settings=["nerel_joint.treshold=0.0"], workers=1)


@pytest.mark.slow
@needs_ray
def test_worker_crash_is_retried_exactly_once(cluster, pipeline, corpus, local_run):
    model, code, control = pipeline
    local_records, local_errors = local_run
    (control / "ARM").touch()
    engine = make_engine("ray", str(model), code, workers=2)
    try:
        events = list(engine.annotate([str(corpus / "docs")], OPTIONS))
    finally:
        engine.close()
        armed = (control / "ARM").exists()
        (control / "ARM").unlink(missing_ok=True)
    assert not armed, "no actor met the crash document"
    records, errors = split_events(events)
    assert records == {id: r for id, r in local_records.items() if not id.startswith("m")}
    assert errors == {id: e for id, e in local_errors.items() if not id.startswith("m.")}


@pytest.mark.slow
@needs_ray
def test_killed_driver_then_resume_gives_every_id_once(cluster, pipeline, corpus, local_run, tmp_path):
    model, code, control = pipeline
    local_records, _ = local_run
    out = tmp_path / "out.jsonl"
    args = [str(corpus / "docs"), "-m", str(model), "--code", str(code), "-o", str(out),
            "--engine", "ray", "--address", cluster, "--batch-size", "4", "--max-chars", str(MAX_CHARS)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    (control / "SLOW").touch()  # ~0.05 s a doc, so the kill lands mid-run
    try:
        stderr = open(tmp_path / "driver.stderr", "wb")
        driver = subprocess.Popen([sys.executable, "-m", "nerel_spacy", "annotate", *args, "--workers", "1",
                                   "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300  # a loaded machine starts Ray workers slowly
        while time.monotonic() < deadline and driver.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.05)
        assert driver.poll() is None, (tmp_path / "driver.stderr").read_text()
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        (control / "SLOW").unlink(missing_ok=True)
        stderr.close()
    before = read_done_ids(out, truncate_partial=False)
    assert 20 <= len(before) < len(local_records) - 4
    result = CliRunner().invoke(app, ["annotate", *args, "--resume"], catch_exceptions=False)
    assert result.exit_code == 1, result.stderr  # the bad inputs failed again
    written = read_jsonl(out)
    ids = [record["id"] for record in written]
    assert len(ids) == len(set(ids)), "an id was written twice"
    assert {record["id"]: record for record in written} == {
        id: r for id, r in local_records.items() if not id.startswith("m")
    }
    assert f"skipped (already in output, --resume) │ {len(before)}" in " ".join(result.stderr.split())


FAIL_MARK = "ПЛОХО"


def failing_run(root: Path, how: str) -> Tuple[Path, Path, List[str]]:
    """A rule-based pipeline that fails (``how``: raise or exit) on FAIL_MARK, and 12 texts
    under root/docs, 05.txt holding it: (model, docs, ids)."""
    model = annotate_helpers.build_pipeline(root / "model", fail_marker=FAIL_MARK, fail_how=how)
    docs = root / "docs"
    docs.mkdir()
    for i in range(12):
        text = f"{SENTENCES[i % 5]} Номер {i} ." + (f" {FAIL_MARK} ." if i == 5 else "")
        (docs / f"{i:02d}.txt").write_text(text, encoding="utf-8")
    return model, docs, [f"{i:02d}.txt" for i in range(12)]


@pytest.mark.slow
@needs_ray
def test_a_document_the_pipeline_raises_on_fails_alone_as_locally(cluster, tmp_path):
    model, docs, ids = failing_run(tmp_path, "raise")
    options = AnnotateOptions(batch_size=4)
    local = split_events(LocalEngine(str(model), HELPERS).annotate([str(docs)], options))
    engine = make_engine("ray", str(model), HELPERS, workers=1)
    try:
        records, errors = split_events(engine.annotate([str(docs)], options))
    finally:
        engine.close()
    assert (records, errors) == local
    assert set(records) == set(ids) - {"05.txt"}
    assert errors["05.txt"]["reason"] == "pipeline-error" and "ValueError" in errors["05.txt"]["message"]


@pytest.mark.slow
@needs_ray
def test_a_document_that_kills_its_worker_fails_alone_and_the_run_ends(cluster, tmp_path):
    """Ray retries a batch whose worker died a bounded number of times, then its texts one
    by one: only the one that kills its worker every time is listed (``worker-died``)."""
    model, docs, ids = failing_run(tmp_path, "exit")
    errors = tmp_path / "errors.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    # Without bounded retries Ray retries the batch forever: the timeout fails the test.
    result = subprocess.run(
        [sys.executable, "-m", "nerel_spacy", "annotate", str(docs), "-m", str(model), "--code", str(HELPERS),
         "-o", "-", "--errors", str(errors), "--engine", "ray", "--address", cluster, "--workers", "2",
         "--batch-size", "4"],
        env=env, capture_output=True, text=True, timeout=420,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "worker died" in result.stderr  # Ray's notes of the deaths: on stderr, not among the records
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(record["id"] for record in records) == [id for id in ids if id != "05.txt"]
    (error,) = read_jsonl(errors)
    assert error["id"] == "05.txt" and error["reason"] == "worker-died"
    assert error["path"] == str(docs / "05.txt") and error["message"].startswith("05.txt: ")
    assert "failed: worker-died │ 1" in " ".join(result.stderr.split())


def test_engine_ray_without_ray_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = CliRunner().invoke(app, ["annotate", str(tmp_path), "-m", str(tmp_path / "model"),
                                      "-o", str(tmp_path / "out.jsonl"), "--engine", "ray"])
    assert result.exit_code == 2
    assert RAY_INSTALL in " ".join(result.stderr.split())
    assert not (tmp_path / "out.jsonl").exists()


def test_ray_options_need_the_ray_engine(tmp_path):
    result = CliRunner().invoke(app, ["annotate", str(tmp_path), "-m", str(tmp_path / "model"),
                                      "-o", str(tmp_path / "out.jsonl"), "--workers", "2"])
    assert result.exit_code == 2 and "need --engine ray" in " ".join(result.stderr.split())


@needs_ray
def test_a_second_input_with_a_done_id_is_a_duplicate_not_a_resume(tmp_path):
    """The driver's bookkeeping alone: every input is done or a duplicate, so no actor runs."""
    from nerel_spacy.annotate.engines.ray_engine import RayEngine

    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.txt").write_text("Москва", encoding="utf-8")
    engine = RayEngine.__new__(RayEngine)  # not connected: nothing here may reach Ray
    engine.chunk_rows = 8
    events = list(engine.annotate([str(tmp_path / "one"), str(tmp_path / "two")], OPTIONS, done_ids={"same.txt"}))
    assert [type(event) for event in events] == [Resumed, InputError]
    assert events[1].reason == "duplicate-id" and events[1].path == str(tmp_path / "two" / "same.txt")
