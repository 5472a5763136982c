"""One worker's measurements: the record ``nerel-batch benchmark`` keeps for each pipeline.

Shared by the spaCy pipeline worker (``benchmark.measure_model``) and natasha's
(``natasha_baseline.measure_natasha``), so both report the same keys.
"""
import os
import resource
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy


def timed_result(model: str, pipeline: List[str], quantization: Any, load_seconds: float,
                 rss_after_load: Optional[float], n_docs: int, n_tokens: int, seconds: float,
                 latencies: Sequence[float], scores: Dict[str, Any]) -> Dict[str, Any]:
    """One worker's measurements as the JSON it prints (pipelines and natasha alike)."""
    return {
        "model": model,
        "pipeline": pipeline,
        "quantization": quantization,
        "load_seconds": load_seconds,
        "rss_after_load_mb": rss_after_load,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "n_docs": n_docs,
        "n_tokens": n_tokens,
        "docs_per_second": n_docs / seconds,
        "tokens_per_second": n_tokens / seconds,
        "ms_per_doc": statistics.fmean(latencies),
        "ms_per_doc_p50": float(numpy.percentile(latencies, 50)),
        "ms_per_doc_p95": float(numpy.percentile(latencies, 95)),
        "scores": scores,
    }


def current_rss_mb() -> Optional[float]:
    """This process's resident memory now, in MiB (None where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None
