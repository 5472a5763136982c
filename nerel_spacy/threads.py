"""One setting for every thread pool a pipeline computes in.

A pipeline's maths runs in three pools: torch's intra-op threads (the transformer), the
OpenMP runtime torch and spaCy's extensions share, and the BLAS library numpy calls
(OpenBLAS; the CNN and the heads multiply there under ``nerel.numpy_blas_ops.v2``).
``torch.set_num_threads`` sets only the first, so with ``--n-process 2 --threads 1`` each
worker still ran OpenBLAS with a thread per core: two processes on 2 cores fought over
4 threads (measured: 16.6 s against 12.4 s with ``OMP_NUM_THREADS=1``). ``limit_threads``
sets all three through threadpoolctl, in this process, and forked workers (``nlp.pipe``'s
``n_process``) inherit the limits.
"""
from typing import Dict, List, Optional

_limit: Optional[int] = None  # the last limit_threads() in this process; ONNX Runtime reads it


def limit_threads(threads: int) -> Dict[str, int]:
    """Limit torch, OpenMP and BLAS to ``threads`` threads each; ``{pool: threads}`` as set.

    ONNX Runtime sessions made afterwards (``nerel_onnx_encoder`` makes its own at its first
    doc) take the same limit: see ``thread_limit``.
    """
    global _limit
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    _limit = threads
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # the BLAS libraries and OpenMP runtimes loaded so far
    pools = {pool["internal_api"]: pool["num_threads"] for pool in thread_pools()}
    try:
        import torch
    except ImportError:  # a CNN-only install: nothing more to limit
        return pools
    torch.set_num_threads(threads)
    pools["torch"] = torch.get_num_threads()
    return pools


def thread_limit() -> Optional[int]:
    """The limit the last ``limit_threads`` set in this process, or None."""
    return _limit


def thread_pools() -> List[Dict[str, object]]:
    """threadpoolctl's description of the thread pools loaded in this process."""
    from threadpoolctl import threadpool_info

    return threadpool_info()


__all__ = ["limit_threads", "thread_limit", "thread_pools"]
