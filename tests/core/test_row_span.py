import numpy as np
import pytest
import torch

from sklearn_ckn.core.linear_svm import (
    build_preconditioner,
    fit_squared_hinge_ovr,
    fit_squared_hinge_path,
    squared_hinge_objective,
)
from sklearn_ckn.core.row_chunks import RowChunks
from sklearn_ckn.core.row_span import RowSpan, spans_rows


def _wide(n=40, d=150, k=3, seed=0, rank=None):
    # Fewer rows than features; ``rank`` < n makes the rows linearly dependent.
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    if rank is not None:
        X = torch.randn(n, rank, generator=gen, dtype=torch.float64) @ X[:rank]
    labels = torch.argmax(X[:, :k] + 0.5 * torch.randn(n, k, generator=gen, dtype=torch.float64), 1)
    Y = torch.where(labels[:, None] == torch.arange(k), 1.0, -1.0).double()
    return X, Y


def test_only_problems_with_no_more_rows_than_features_or_samples_use_the_span():
    assert spans_rows(400, 8192, 10_000)
    assert spans_rows(8192, 8192, 10_000)
    assert not spans_rows(8193, 8192, 10_000)  # more rows than features
    assert not spans_rows(12_000, 73_728, 10_000)  # more rows than the preconditioner samples
    assert not spans_rows(0, 10, 10_000)


@pytest.mark.parametrize("rank", [None, 7])
def test_span_basis_is_orthonormal_and_keeps_every_margin(rank):
    X, _ = _wide(rank=rank)
    span = RowSpan(X)
    r = span.Z.shape[1]
    assert r == (40 if rank is None else 7)  # rounding-level eigenvalues are dropped
    torch.testing.assert_close(span.Z @ span.Z.T, X @ X.T)
    W = torch.randn(150, 3, dtype=torch.float64)
    z = span.coordinates(X, W)
    torch.testing.assert_close(span.Z @ z, X @ W)  # any W: X only sees its projection
    Q = span.weights(X, torch.eye(r, dtype=torch.float64))
    torch.testing.assert_close(Q.T @ Q, torch.eye(r, dtype=torch.float64))
    torch.testing.assert_close(span.coordinates(X, span.weights(X, z)), z)


def test_span_of_row_chunks_equals_the_in_memory_one():
    X, _ = _wide()
    ours, ref = RowSpan(RowChunks.from_tensor(X, 16)), RowSpan(X)
    torch.testing.assert_close(ours.Z @ ours.Z.T, ref.Z @ ref.Z.T)
    z = torch.randn(40, 2, dtype=torch.float64)
    chunks = RowChunks.from_tensor(X, 16)
    # The bases may differ by signs: compare the weights of the same margins.
    torch.testing.assert_close(ours.weights(chunks, ours.coordinates(chunks, X.T @ z)),
                               ref.weights(X, ref.coordinates(X, X.T @ z)))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_fit_in_the_span_reaches_the_optimum_on_x(fit_intercept):
    # The same problem solved on X itself (a preconditioner given: no span) must not
    # reach a lower objective, and both solutions are the same.
    X, Y = _wide()
    C = 0.05
    W, b, _ = fit_squared_hinge_ovr(X, Y, C, fit_intercept=fit_intercept, tol=1e-12, max_iter=2000)
    factor = build_preconditioner(X, fit_intercept=fit_intercept)
    W0, b0, _ = fit_squared_hinge_ovr(X, Y, C, fit_intercept=fit_intercept, tol=1e-12, max_iter=2000,
                                      preconditioner=factor)
    ours, ref = (float(squared_hinge_objective(X, Y, w, c, C)) for w, c in [(W, b), (W0, b0)])
    assert ours <= ref * (1 + 1e-9)
    torch.testing.assert_close(W, W0, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(b, b0, rtol=1e-4, atol=1e-6)


def test_wide_path_warm_start_and_mask_in_the_span():
    X, Y = _wide()
    Cs = [0.01, 0.1, 1.0]
    keep = (torch.arange(40) % 4 != 0).double()
    path = fit_squared_hinge_path(X, Y, Cs, tol=1e-12, max_iter=2000, sample_mask=keep)
    rows = keep.bool()
    for C, (W, b, _) in zip(Cs, path):
        # A fold's solution lies in its rows' span, part of all rows' span.
        W0, b0, _ = fit_squared_hinge_ovr(X[rows], Y[rows], C, tol=1e-12, max_iter=2000)
        torch.testing.assert_close(W, W0, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(b, b0, rtol=1e-4, atol=1e-6)
    # A start outside the span is projected onto it, and the fit still gets there.
    gen = torch.Generator().manual_seed(1)
    init = (torch.randn(150, 3, generator=gen, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    W1, b1, _ = fit_squared_hinge_ovr(X[rows], Y[rows], 1.0, tol=1e-12, max_iter=2000, init=init)
    ours, best = (float(squared_hinge_objective(X[rows], Y[rows], w, c, 1.0))
                  for w, c in [(W1, b1), path[-1][:2]])
    assert ours == pytest.approx(best, rel=1e-9)
    torch.testing.assert_close(W1, path[-1][0], rtol=1e-3, atol=1e-5)


def test_wide_fit_on_row_chunks_equals_the_in_memory_fit():
    X, Y = _wide()
    W, b, _ = fit_squared_hinge_ovr(X, Y, 0.1, tol=1e-12, max_iter=2000)
    Wc, bc, _ = fit_squared_hinge_ovr(RowChunks.from_tensor(X, 16), Y, 0.1, tol=1e-12, max_iter=2000)
    torch.testing.assert_close(Wc, W, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(bc, b, rtol=1e-5, atol=1e-7)


def test_all_zero_features_leave_an_empty_span_and_an_intercept_only_model():
    X = torch.zeros(6, 10, dtype=torch.float64)
    Y = torch.tensor([[1.0], [1.0], [-1.0], [-1.0], [-1.0], [-1.0]], dtype=torch.float64)
    assert RowSpan(X).Z.shape == (6, 0)
    W, b, _ = fit_squared_hinge_ovr(X, Y, 1.0, tol=1e-12)
    assert not W.any()
    # C (2 (1 - b)^2 + 4 (1 + b)^2) is minimised at b = -1/3.
    assert float(b) == pytest.approx(-1 / 3, abs=1e-6)


def test_float32_features_too_large_in_the_span_are_a_clear_error():
    X = torch.full((4, 10), 1e20)
    with pytest.raises(ValueError, match="not finite in torch.float32"):
        RowSpan(X)


def test_float32_span_keeps_margins_within_round_off():
    X = torch.as_tensor(np.random.RandomState(0).randn(8, 30).astype(np.float32))
    span = RowSpan(X, fit_intercept=False)
    assert span.Z.dtype == torch.float32 and span.factor.d1 == span.Z.shape[1]
    W = torch.randn(30, 2)
    torch.testing.assert_close(span.Z @ span.coordinates(X, W), X @ W, rtol=1e-4, atol=1e-4)
