"""measurements.py: the record one benchmark worker prints, for pipelines and natasha alike."""
import pytest

from nerel_spacy.measurements import current_rss_mb, timed_result


def test_timed_result_derives_rates_and_latency_percentiles():
    result = timed_result("m", ["nerel_joint"], None, 1.5, 100.0, n_docs=4, n_tokens=200, seconds=2.0,
                          latencies=[10.0, 20.0, 30.0, 100.0], scores={"seqeval_f": 0.5})
    assert result["docs_per_second"] == 2.0 and result["tokens_per_second"] == 100.0
    assert result["ms_per_doc"] == 40.0
    assert result["ms_per_doc_p50"] == 25.0
    assert result["ms_per_doc_p95"] == pytest.approx(89.5)
    assert result["peak_rss_mb"] > 0 and result["scores"] == {"seqeval_f": 0.5}


def test_current_rss_grows_with_an_allocation():
    before = current_rss_mb()
    block = bytearray(64 * 2**20)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page
    assert current_rss_mb() - before > 50
