"""The ``supervised.heap_memory`` case: one process's epochs and the medians it keeps."""

import os
import queue

import numpy as np
import pytest

from benchmarks.cases import heap_memory


def test_train_records_every_epochs_memory(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("SKLEARN_CKN_RETAIN_HEAP", "unset")  # restored after the test
    rng = np.random.default_rng(0)
    X, y = rng.random((24, 16, 16, 3), dtype=np.float32), np.arange(24) % 2
    out = queue.Queue()
    heap_memory._train("cnn", None, X, y, 2, "0", out)
    assert os.environ["SKLEARN_CKN_RETAIN_HEAP"] == "0"
    record = out.get_nowait()
    assert len(record["epochs"]) == 2
    for epoch in record["epochs"]:
        assert epoch["seconds"] > 0 and epoch["minor_page_faults"] >= 0
        assert 0 < epoch["rss_anon_after_bytes"] <= record["vmhwm_bytes"]
        assert 0 < epoch["peak_rss_anon_bytes"] <= record["vmhwm_bytes"]


def test_summary_takes_medians_over_every_processs_epochs():
    def epoch(v):
        return {"seconds": v, "minor_page_faults": 10 * v, "peak_rss_anon_bytes": 100 * v,
                "rss_anon_after_bytes": 1000 * v}

    runs = [{"epochs": [epoch(1), epoch(2)]}, {"epochs": [epoch(6)]}, {"timed_out_after_seconds": 5.0}]
    assert heap_memory._summary(runs) == {"seconds": 2.0, "minor_page_faults": 20.0,
                                          "peak_rss_anon_bytes": 200.0, "rss_anon_after_bytes": 2000.0}
    assert heap_memory._summary([{"timed_out_after_seconds": 5.0}]) is None
