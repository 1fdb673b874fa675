"""Tests of sklearn_ckn._heap: glibc's malloc keeps freed memory while training."""

import os
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


_FAULTS_SCRIPT = """
import resource
import torch
from sklearn_ckn import _heap

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def churn():  # allocate and free 24 MiB, five times
    for _ in range(5):
        blocks = [torch.ones(2**21) for _ in range(3)]  # 3 x 8 MiB, written
        del blocks

def measure():
    churn()
    churn()
    before = faults()
    churn()
    return faults() - before

# glibc's default trimming: the heap's top is given back past 128 KiB of free memory.
_heap._LIBC.mallopt(_heap._M_TRIM_THRESHOLD, 128 * 2**10)
trimmed = measure()
with _heap.retained_heap():
    kept = measure()
print(trimmed, kept)
"""


@pytest.mark.skipif(_heap._LIBC is None, reason="glibc's malloc only")
def test_freed_pages_are_reused_instead_of_faulted_in_again():
    # In a fresh process: the heap of this one has holes left by other tests, where
    # blocks would be reused whatever the settings.
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SKLEARN_CKN_RETAIN_HEAP"}
    out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT], capture_output=True,
                         text=True, env=env, timeout=120, check=True).stdout
    trimmed, kept = map(int, out.split())
    pages = 5 * 3 * 8 * 2**20 // 4096
    assert trimmed > pages // 2  # the blocks are faulted in again and again
    assert kept < pages // 4  # the pages of the first churns serve the last one
