"""Where a number was measured: the machine, the library versions, and sizes on disk.

Every results JSON (evaluate, benchmark, the scripts in ``benchmarks/``) records
``describe_machine()``, so a speed can be traced to the CPU, the thread setting and
the load it was measured under.
"""
import importlib.metadata
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

# CPU features that decide which int8 and bf16 kernels torch can use.
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
VERSIONED_PACKAGES = ("spacy-transformers", "transformers", "onnxruntime", "nerel-spacy")


def describe_machine(threads: Optional[int] = None) -> Dict[str, Any]:
    """CPU, cores, library versions, thread setting, load and date.

    ``threads`` is the torch thread setting the numbers were measured with (default:
    torch's current one).
    """
    import spacy

    try:
        import torch
    except ImportError:  # a runtime-only install (ONNX Runtime, no torch)
        torch = None
    info: Dict[str, Any] = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_flags": cpu_flags(),
        "threads": threads if threads is not None else (torch.get_num_threads() if torch else os.cpu_count()),
        "load_average": load_average(),
        "python": platform.python_version(),
        "torch": torch.__version__ if torch else None,
        "spacy": spacy.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for package in VERSIONED_PACKAGES:
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    return info


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo``, else what ``platform`` knows, else "unknown"."""
    return _cpu_field("model name") or platform.processor() or "unknown"


def cpu_flags() -> List[str]:
    """Which of :data:`CPU_FLAGS` this CPU has (empty where ``/proc/cpuinfo`` is missing)."""
    flags = (_cpu_field("flags") or "").split()
    return [flag for flag in CPU_FLAGS if flag in flags]


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX tiles or AVX512-BF16), as torch sees it.

    It decides both ``train_precision = "auto"`` (``models.encoders``) and an int8
    pipeline's ``compute = "auto"`` (``quantize.kernels``). False without torch.
    """
    try:
        import torch
    except ImportError:  # a runtime-only install (ONNX Runtime, no torch)
        return False
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # pragma: no cover - older torch
        return False


def load_average() -> Optional[List[float]]:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def _cpu_field(name: str) -> Optional[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def directory_size(path: Union[str, Path]) -> int:
    """Bytes on disk of a file, or of all the files under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


__all__ = ["CPU_FLAGS", "cpu_flags", "cpu_name", "describe_machine", "directory_size", "load_average"]
