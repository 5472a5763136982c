"""benchmarks/throughput.sh: which pipelines reach `nerel-batch benchmark`, with a stub for nerel-batch."""
import os
import shlex
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_script(tmp_path, **env_vars):
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir()
    calls = tmp_path / "calls.txt"
    stub = stub_bin / "nerel-batch"
    stub.write_text(f'#!/usr/bin/env bash\nprintf "%q " "$@" >> {shlex.quote(str(calls))}\necho >> {calls}\n')
    stub.chmod(0o755)
    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("#!/bin/sh\n")
    venv_python.chmod(0o755)
    folders = {"RUN": ["model-best", "model-trimmed", "model-int8-untrimmed", "model-int8"],
               "STUDENT": ["model-best", "model-int8", "model-onnx"], "CNN": ["model-best", "model-compact"]}
    env = dict(os.environ, PATH=f"{stub_bin}{os.pathsep}{os.environ['PATH']}", RUNTIME_VENV=str(venv_python.parents[1]),
               OUTPUT=str(tmp_path / "out.json"))
    for name, subfolders in folders.items():
        for sub in subfolders:
            (tmp_path / name.lower() / sub).mkdir(parents=True)
        env[name] = str(tmp_path / name.lower())
    env.update(env_vars)
    result = subprocess.run(["bash", str(REPO_ROOT / "benchmarks" / "throughput.sh")], env=env,
                            capture_output=True, text=True, timeout=60)
    return result, [shlex.split(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def test_every_pipeline_is_timed_once_in_one_benchmark_run(tmp_path):
    result, calls = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    (benchmark,) = calls  # every copy exists already: nothing is quantized or exported
    assert benchmark[:2] == ["benchmark", "corpus/dev.spacy"]
    labels = [benchmark[i + 1].split("=")[0] for i, word in enumerate(benchmark) if word == "--model"]
    assert labels == ["trimmed-int8", "student-int8", "student-onnx-no-torch", "cnn-fast", "cnn-fast-compact",
                      "natasha"]


def test_more_students_are_copied_and_timed_beside_the_shipped_one(tmp_path):
    extra = tmp_path / "student3"
    (extra / "model-best").mkdir(parents=True)
    result, calls = run_script(tmp_path, MORE_STUDENTS=str(extra))
    assert result.returncode == 0, result.stderr
    assert calls[0][:3] == ["quantize", str(extra / "model-best"), str(extra / "model-int8")]
    assert calls[1][:3] == ["export-onnx", str(extra / "model-best"), str(extra / "model-onnx")]
    benchmark = calls[-1]
    models = [benchmark[i + 1] for i, word in enumerate(benchmark) if word == "--model"]
    assert models[-2:] == [f"student3-int8={extra}/model-int8", f"student3-onnx-no-torch={extra}/model-onnx"]
    pythons = [benchmark[i + 1] for i, word in enumerate(benchmark) if word == "--python"]
    assert f"student3-onnx-no-torch={tmp_path / 'venv'}/bin/python" in pythons
    assert f"MORE_STUDENTS={extra}" in benchmark[benchmark.index("--note") + 1]


def test_a_missing_extra_student_is_named(tmp_path):
    result, calls = run_script(tmp_path, MORE_STUDENTS=str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert f"{tmp_path / 'nowhere'}/model-best is missing" in result.stderr
    assert calls == []
