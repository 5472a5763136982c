"""The machine description every results JSON records, and sizes on disk."""
import json
import os
import sys

from nerel_spacy.machine import CPU_FLAGS, cpu_flags, cpu_has_fast_bf16, cpu_name, describe_machine, directory_size


def test_describe_machine_names_cpu_threads_versions_and_date():
    info = describe_machine(threads=3)
    for key in ("cpu", "cores", "cores_available", "cpu_flags", "load_average", "python",
                "torch", "spacy", "spacy-transformers", "transformers", "nerel-spacy", "date"):
        assert key in info
    assert info["threads"] == 3 and info["cpu"] == cpu_name() != ""
    assert set(info["cpu_flags"]) <= set(CPU_FLAGS) and info["cpu_flags"] == cpu_flags()
    json.dumps(info)  # JSON-safe


def test_describe_machine_defaults_to_torchs_thread_setting():
    import torch

    assert describe_machine()["threads"] == torch.get_num_threads()


def test_directory_size_of_a_folder_and_of_a_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub" / "b.bin").write_bytes(b"y" * 5)
    assert directory_size(tmp_path) == 15
    assert directory_size(tmp_path / "a.bin") == 10
    assert directory_size(tmp_path / "missing") == 0


def test_a_runtime_only_install_is_described_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails, as where it is not installed
    info = describe_machine()
    assert info["torch"] is None and info["threads"] == os.cpu_count() and "onnxruntime" in info


def test_fast_bf16_agrees_with_the_cpu_flags_and_is_false_without_torch(monkeypatch):
    flags = set(cpu_flags())
    if os.path.exists("/proc/cpuinfo"):  # torch and the kernel read the same CPUID bits
        assert cpu_has_fast_bf16() == bool(flags & {"amx_bf16", "avx512_bf16"})
    monkeypatch.setitem(sys.modules, "torch", None)
    assert cpu_has_fast_bf16() is False
