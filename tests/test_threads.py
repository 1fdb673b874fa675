"""The n_jobs thread policy shared by the torch estimators (sklearn_ckn._threads)."""

import pytest
import torch
from joblib import Parallel, cpu_count, delayed

from sklearn_ckn._threads import in_joblib_worker, resolve_n_threads, torch_threads


def _inside():
    return in_joblib_worker(), resolve_n_threads(None)


def _threads_in_call(n_jobs):
    with torch_threads(n_jobs):
        return torch.get_num_threads()


def test_joblib_workers_are_recognised():
    assert in_joblib_worker() is False
    assert resolve_n_threads(None) is None  # the caller's settings are left alone
    assert Parallel(n_jobs=2, backend="threading")(delayed(_inside)() for _ in range(2)) == [
        (True, 1),
        (True, 1),
    ]
    # a sequential Parallel runs in the caller: no reason to limit it
    assert Parallel(n_jobs=1)(delayed(_inside)() for _ in range(1)) == [(False, None)]


def test_loky_worker_gets_one_thread_by_default():
    (inside, n), = Parallel(n_jobs=2, backend="loky")(delayed(_inside)() for _ in range(1))
    assert inside and n == 1


def test_counts_follow_joblib_and_bad_values_are_refused():
    assert resolve_n_threads(3) == 3
    assert resolve_n_threads(-1) == cpu_count()
    assert resolve_n_threads(-(cpu_count() + 5)) == 1
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs must be None, a positive integer"):
            resolve_n_threads(bad)


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert _threads_in_call(1) == 1
        assert torch.get_num_threads() == 2
        assert _threads_in_call(None) == 2
        with pytest.raises(RuntimeError):
            with torch_threads(1):
                raise RuntimeError("restored even on errors")
        assert torch.get_num_threads() == 2
        # inside a worker, None means one thread
        assert Parallel(n_jobs=2, backend="threading")(
            delayed(_threads_in_call)(None) for _ in range(2)
        ) == [1, 1]
    finally:
        torch.set_num_threads(before)


def test_torch_linear_svc_runs_with_its_n_jobs(monkeypatch):
    import numpy as np

    from sklearn_ckn.svm import _linear_svc

    seen = []
    original = _linear_svc.fit_squared_hinge_ovr

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(_linear_svc, "fit_squared_hinge_ovr", spy)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), np.arange(40) % 2
    before = torch.get_num_threads()
    clf = _linear_svc.TorchLinearSVC(device="cpu", n_jobs=1).fit(X, y)
    assert seen == [1] and torch.get_num_threads() == before
    assert clf.decision_function(X).shape == (40,)
    with pytest.raises(ValueError, match="n_jobs"):
        _linear_svc.TorchLinearSVC(device="cpu", n_jobs=0).fit(X, y)


# -- issue 28: concurrent calls, forked children -----------------------------------------


def _blas_threads():
    from threadpoolctl import threadpool_info

    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")


def test_overlapping_calls_in_threads_restore_the_process_settings():
    import threading

    before, torch_before = _blas_threads(), torch.get_num_threads()
    if all(n == 1 for _, n in before):
        pytest.skip("BLAS already runs one thread: nothing to restore")
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with torch_threads(1):
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with torch_threads(1):  # enters while the first call holds the limit...
            second_in.set()
            first_out.wait(10)  # ...and leaves after it

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _blas_threads() == before  # was left at 1 thread
    assert torch.get_num_threads() == torch_before


def test_nested_calls_get_the_enclosing_limit_back():
    outer = torch.get_num_threads()
    with torch_threads(1):
        with torch_threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == outer


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_uses_one_thread_and_does_not_hang():
    import os
    import time

    import numpy as np

    from sklearn_ckn import CKNTransformer

    X = np.random.default_rng(0).random((12, 8, 8)).astype(np.float32)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ckn = CKNTransformer(n_filters=(4,), n_patches=200, device="cpu", random_state=0).fit(X)
        expected = ckn.transform(X)  # the parent's OpenMP pool is now running
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: answer through the pipe, never return into pytest
            code = 1
            try:
                from sklearn_ckn._threads import in_forked_child

                ok = (in_forked_child() and resolve_n_threads(4) == 1
                      and np.allclose(ckn.set_params(n_jobs=2).transform(X), expected, atol=1e-5))
                code = 0 if ok else 2
            finally:
                os.write(write, bytes([code]))
                os._exit(code)
        os.close(write)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("transform hung in a forked child")
        assert os.read(read, 1) == bytes([0])
        os.close(read)
    finally:
        torch.set_num_threads(previous)


def test_absurd_thread_counts_are_capped():
    # torch.set_num_threads(10**12) made GNU OpenMP abort the process (out of memory).
    from joblib import cpu_count

    from sklearn_ckn._threads import MAX_THREADS_PER_CORE

    assert resolve_n_threads(10**12) == MAX_THREADS_PER_CORE * cpu_count()
    assert _threads_in_call(10**12) == MAX_THREADS_PER_CORE * cpu_count()


@pytest.mark.parametrize("free, expected", [(1, 1), (2, None), (3, None)])
def test_default_threads_follow_the_free_cores(monkeypatch, free, expected):
    # n_jobs=None outside a worker: the cores other work leaves free, at most torch's
    # setting (None: the setting is left alone), measured at most every FREE_CORES_TTL.
    from sklearn_ckn import _cpu_load, _threads

    calls = []
    monkeypatch.setenv("SKLEARN_CKN_ADAPTIVE_THREADS", "1")
    monkeypatch.setattr(_cpu_load, "free_cores", lambda: calls.append(1) or free)
    monkeypatch.setattr(_threads, "_free_measured", (float("-inf"), None))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert resolve_n_threads(None) == expected
        assert resolve_n_threads(None) == expected
        assert len(calls) == 1  # reused within the TTL
        assert _threads_in_call(None) == (expected or 2)
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("SKLEARN_CKN_ADAPTIVE_THREADS", "0")
        assert resolve_n_threads(None) is None
    finally:
        torch.set_num_threads(before)
