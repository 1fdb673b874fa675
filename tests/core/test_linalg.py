"""Tests of the small eigendecompositions (:mod:`sklearn_ckn.core.linalg`)."""

import pytest
import torch

from sklearn_ckn.core import linalg
from sklearn_ckn.core.linalg import eigh


def test_batched_eigh_matches_torch_and_rebuilds_the_matrices():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 6, 20, generator=g, dtype=torch.float64)
    s = a @ a.transpose(1, 2)
    threads = torch.get_num_threads()
    with torch.no_grad():
        evals, evecs = eigh(s)
    assert torch.get_num_threads() == threads  # restored
    ref_vals, _ = torch.linalg.eigh(s)
    assert evals.dtype == evecs.dtype == torch.float64
    torch.testing.assert_close(evals, ref_vals)
    torch.testing.assert_close((evecs * evals.unsqueeze(1)) @ evecs.transpose(1, 2), s)


@pytest.mark.parametrize("size, single", [(64, True), (linalg.SINGLE_THREAD_MAX_SIZE + 1, False)])
def test_small_matrices_run_on_one_thread(monkeypatch, size, single):
    seen = []
    original = torch.linalg.eigh

    def spy(a):
        seen.append(torch.get_num_threads())
        return original(a)

    monkeypatch.setattr(torch.linalg, "eigh", spy)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        eigh(torch.eye(size, dtype=torch.float64))
        assert seen == [1 if single else 2]
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(previous)
