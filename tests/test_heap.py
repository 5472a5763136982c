"""heap: freed memory goes back to the OS every so many characters."""
import sys

import numpy
import pytest

from nerel_spacy import heap


def test_release_free_memory_runs_where_glibc_is():
    assert heap.release_free_memory() == (sys.platform.startswith("linux") and heap._glibc() is not None)


@pytest.mark.skipif(heap._glibc() is None, reason="needs glibc's malloc_trim")
def test_trimming_gives_freed_heap_memory_back():
    """Many mid-sized arrays freed leave the heap large until it is trimmed."""
    def rss_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    heap.release_free_memory()
    kept = []
    for i in range(2000):  # 2000 x 64 KB below the mmap threshold: on the heap
        block = numpy.ones(8192 + i % 7)
        if i % 50 == 0:
            kept.append(block)  # a few survivors pin the heap's top
    grown = rss_mb()
    kept = kept[-1:]
    heap.release_free_memory()
    assert rss_mb() < grown


def test_trimmer_releases_every_so_many_characters(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "release_free_memory", lambda: calls.append(1) or True)
    trimmer = heap.HeapTrimmer(every=100)
    for n in (40, 40, 30, 99, 1, 250):
        trimmer.add(n)
    assert trimmer.trims == len(calls) == 3
    with pytest.raises(ValueError):
        heap.HeapTrimmer(every=0)
