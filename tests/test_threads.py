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
