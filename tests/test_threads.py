"""``threads.limit_threads``: torch, OpenMP and numpy's BLAS, here and in forked workers."""
import multiprocessing

import numpy  # noqa: F401  (loads the BLAS whose pool is limited)
import pytest
import torch
from threadpoolctl import threadpool_limits

from nerel_spacy.threads import limit_threads, thread_pools


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    with threadpool_limits(limits=None):  # restores every pool's limit on exit
        yield
    torch.set_num_threads(before)


def _pools_in_child(queue):
    queue.put(({pool["internal_api"]: pool["num_threads"] for pool in thread_pools()}, torch.get_num_threads()))


def test_limit_threads_reaches_torch_and_blas_here_and_in_forked_workers(restore_threads):
    pools = limit_threads(1)
    assert pools["torch"] == 1 and "openblas" in pools and set(pools.values()) == {1}
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_pools_in_child, args=(queue,))
    child.start()
    child_pools, child_torch = queue.get(timeout=60)
    child.join()
    assert child_torch == 1 and set(child_pools.values()) == {1}


def test_limit_threads_refuses_zero():
    with pytest.raises(ValueError, match="at least 1"):
        limit_threads(0)
