"""Tests of sklearn_ckn._heap: glibc's malloc keeps freed memory while training."""

import threading

import numpy as np
import pytest

from sklearn_ckn import _heap
from sklearn_ckn._heap import retained_heap


class _FakeLibc:
    """Records mallopt / malloc_trim calls instead of making them."""

    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def fake_libc(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(_heap, "_LIBC", libc)
    monkeypatch.delenv("SKLEARN_CKN_RETAIN_HEAP", raising=False)
    return libc


ENTER = [("mallopt", _heap._M_MMAP_THRESHOLD, _heap.MMAP_THRESHOLD),
         ("mallopt", _heap._M_TRIM_THRESHOLD, _heap.TRIM_THRESHOLD_TRAINING)]
EXIT = [("mallopt", _heap._M_TRIM_THRESHOLD, _heap.TRIM_THRESHOLD_AFTER), ("malloc_trim", 0)]


def test_settings_are_set_on_entry_and_undone_on_exit(fake_libc):
    with retained_heap() as active:
        assert active
        assert fake_libc.calls == ENTER
    assert fake_libc.calls == ENTER + EXIT


def test_nested_calls_undo_the_settings_when_the_outermost_ends(fake_libc):
    with retained_heap():
        with retained_heap():
            pass
        assert fake_libc.calls == ENTER  # the inner call's end keeps them
    assert fake_libc.calls == ENTER + EXIT
    assert _heap._active == 0


def test_settings_are_undone_after_an_exception(fake_libc):
    with pytest.raises(RuntimeError, match="boom"):
        with retained_heap():
            raise RuntimeError("boom")
    assert fake_libc.calls == ENTER + EXIT
    assert _heap._active == 0


def test_threads_share_one_setting(fake_libc):
    inside, release = threading.Barrier(3), threading.Event()

    def worker():
        with retained_heap():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()  # both threads are in their blocks
    assert fake_libc.calls == ENTER
    release.set()
    for t in threads:
        t.join()
    assert fake_libc.calls == ENTER + EXIT


@pytest.mark.parametrize("cause", ["environment", "not glibc"])
def test_nothing_is_set_when_turned_off_or_not_glibc(fake_libc, monkeypatch, cause):
    if cause == "environment":
        monkeypatch.setenv("SKLEARN_CKN_RETAIN_HEAP", "0")
    else:
        monkeypatch.setattr(_heap, "_LIBC", None)
    with retained_heap() as active:
        assert not active
    assert fake_libc.calls == []


def test_the_classifiers_train_inside_it(fake_libc):
    from sklearn_ckn import CNNClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((16, 8, 8)).astype(np.float32), np.arange(16) % 2
    CNNClassifier(epochs=1, batch_size=8, device="cpu", random_state=0).fit(X, y)
    assert fake_libc.calls == ENTER + EXIT


def _minor_faults():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _churn(torch):
    """Allocate and free 24 MiB at the heap's top, five times."""
    for _ in range(5):
        blocks = [torch.ones(2**21) for _ in range(3)]  # 3 x 8 MiB, written
        del blocks


@pytest.mark.skipif(_heap._LIBC is None, reason="glibc's malloc only")
def test_freed_pages_are_reused_instead_of_faulted_in_again(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.delenv("SKLEARN_CKN_RETAIN_HEAP", raising=False)
    # glibc's default: the heap's top is trimmed past 128 KiB of free memory.
    _heap._LIBC.mallopt(_heap._M_TRIM_THRESHOLD, 128 * 2**10)
    try:
        _churn(torch)
        before = _minor_faults()
        _churn(torch)
        trimmed = _minor_faults() - before
        with retained_heap():
            _churn(torch)
            before = _minor_faults()
            _churn(torch)
            kept = _minor_faults() - before
    finally:
        _heap._LIBC.mallopt(_heap._M_TRIM_THRESHOLD, _heap.TRIM_THRESHOLD_AFTER)
    pages = 5 * 3 * 8 * 2**20 // 4096
    assert trimmed > pages // 2  # every block faulted in again
    assert kept < pages // 20
