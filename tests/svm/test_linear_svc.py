import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.svm import LinearSVC

from sklearn_ckn.core.linear_svm import (
    fit_squared_hinge_ovr,
    squared_hinge_objective,
    squared_hinge_value_and_grad,
)
from sklearn_ckn.svm._linear_svc import TorchLinearSVC


def _objective(clf, X, y):
    Y = np.where(y[:, None] == clf.classes_[None, :], 1.0, -1.0)
    if len(clf.classes_) == 2:
        Y = Y[:, 1:]
    return float(squared_hinge_objective(
        torch.as_tensor(X), torch.as_tensor(Y), torch.as_tensor(clf.coef_.T), torch.as_tensor(clf.intercept_), clf.C
    ))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_reaches_liblinear_optimum_of_the_same_objective(n_classes):
    # Without an intercept both solve exactly the same problem: the optimum is unique.
    X, y = make_classification(300, 20, n_informative=8, n_classes=n_classes, random_state=0)
    ours = TorchLinearSVC(C=0.1, fit_intercept=False, dtype="float64", tol=1e-9, device="cpu").fit(X, y)
    ref = LinearSVC(C=0.1, fit_intercept=False, dual=False, tol=1e-10, max_iter=10000).fit(X, y)
    assert _objective(ours, X, y) == pytest.approx(_objective(ref, X, y), rel=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-3, atol=1e-4)
    assert (ours.predict(X) == ref.predict(X)).mean() > 0.99


def test_unpenalised_intercept_never_does_worse_than_liblinear():
    # liblinear penalises its intercept, so our optimum of the unpenalised problem is at
    # most its objective value.
    X, y = make_classification(300, 10, n_informative=5, n_classes=3, shift=3.0, random_state=1)
    ours = TorchLinearSVC(C=1.0, dtype="float64", tol=1e-9, device="cpu").fit(X, y)
    ref = LinearSVC(C=1.0, dual=False, tol=1e-10, max_iter=10000).fit(X, y)
    assert _objective(ours, X, y) <= _objective(ref, X, y) * (1 + 1e-6)


def test_labels_of_any_type_round_trip_and_binary_shapes():
    X, y = make_classification(200, 8, random_state=0)
    labels = np.array(["cat", "dog"])[y]
    clf = TorchLinearSVC(device="cpu").fit(X, labels)
    assert clf.coef_.shape == (1, 8) and clf.intercept_.shape == (1,)
    assert clf.decision_function(X).shape == (200,)
    assert set(clf.predict(X)) <= {"cat", "dog"}
    assert clf.score(X, labels) > 0.9


def test_one_class_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        TorchLinearSVC(device="cpu").fit(np.ones((5, 3)), np.zeros(5))


def test_pickle_round_trip_gives_identical_predictions():
    X, y = make_classification(200, 8, n_classes=3, n_informative=4, random_state=0)
    clf = TorchLinearSVC(device="cpu").fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.decision_function(X), clf.decision_function(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("n, d", [(300, 20), (60, 300)])  # the second: in the rows' span
def test_cuda_and_cpu_agree(n, d):
    X, y = make_classification(n, d, n_classes=3, n_informative=6, random_state=0)
    cpu = TorchLinearSVC(dtype="float64", tol=1e-9, device="cpu").fit(X, y)
    gpu = TorchLinearSVC(dtype="float64", tol=1e-9, device="cuda").fit(X, y)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu.intercept_, cpu.intercept_, rtol=1e-4, atol=1e-5)


def test_written_out_gradient_matches_autograd():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 7, generator=gen, dtype=torch.float64)
    Y = torch.where(torch.rand(50, 3, generator=gen) > 0.5, 1.0, -1.0).double()
    W = (0.3 * torch.randn(7, 3, generator=gen, dtype=torch.float64)).requires_grad_(True)
    b = torch.randn(3, generator=gen, dtype=torch.float64).requires_grad_(True)
    loss, grad = squared_hinge_value_and_grad(X, Y, W.detach(), b.detach(), 0.7)
    ref = squared_hinge_objective(X, Y, W, b, 0.7)
    ref.backward()
    assert float(loss) == pytest.approx(float(ref.detach()), rel=1e-12)
    torch.testing.assert_close(grad, torch.cat([W.grad, b.grad[None]]))


@pytest.mark.parametrize(
    "n_hessian_samples, max_dense_features",
    [(10_000, 16_384), (60, 16_384), (30, 10)],  # the last: low rank, 30 rows for 40 features
)
def test_preconditioned_lbfgs_solves_an_ill_conditioned_problem_in_few_iterations(
    n_hessian_samples, max_dense_features
):
    # Strongly correlated, badly scaled features (as CKN features are): the
    # preconditioner, even estimated on a subsample of rows, makes it easy.
    rng = np.random.RandomState(0)
    X, y = make_classification(2000, 40, n_informative=10, n_classes=3, random_state=0)
    X = X @ (rng.randn(40, 40) * np.logspace(-2, 1, 40))
    Xt, Y = torch.as_tensor(X), torch.as_tensor(np.where(y[:, None] == np.arange(3), 1.0, -1.0))
    W, b, n_iter = fit_squared_hinge_ovr(
        Xt, Y, C=1.0, max_iter=80, tol=1e-10, n_hessian_samples=n_hessian_samples,
        max_dense_features=max_dense_features,
    )
    ref = LinearSVC(C=1.0, fit_intercept=False, dual=False, tol=1e-10, max_iter=100_000).fit(X, y)
    ours = float(squared_hinge_objective(Xt, Y, W, b, 1.0))
    theirs = float(squared_hinge_objective(Xt, Y, torch.as_tensor(ref.coef_.T), torch.zeros(3, dtype=torch.float64), 1.0))
    # liblinear without intercept solves a constrained version: ours can only be lower.
    assert n_iter <= 80
    assert ours <= theirs * (1 + 1e-6)


def test_wide_problems_get_the_exact_low_rank_preconditioner_and_the_optimum():
    # No more rows than features (400 digits of 8,192 CKN features): the rows' own
    # Gram matrix holds the whole Hessian estimate, so no d x d matrix is built; the
    # fit (which runs in the rows' span, core/row_span.py) reaches liblinear's optimum.
    from sklearn_ckn.core.preconditioner import _DenseFactor, _LowRankFactor, build_preconditioner

    rng = np.random.RandomState(0)
    X = rng.randn(60, 200) * np.logspace(-1, 1, 200)
    y = (X[:, :3].sum(1) > 0).astype(int) + (X[:, 3] > 0)
    Xt, Y = torch.as_tensor(X), torch.as_tensor(np.where(y[:, None] == np.arange(3), 1.0, -1.0))
    assert isinstance(build_preconditioner(Xt), _LowRankFactor)
    assert isinstance(build_preconditioner(Xt[:, :50]), _DenseFactor)  # 60 rows > 50 features
    W, b, _ = fit_squared_hinge_ovr(Xt, Y, C=0.05, fit_intercept=False, tol=1e-10, max_iter=300)
    ref = LinearSVC(C=0.05, fit_intercept=False, dual=True, tol=1e-12, max_iter=100_000).fit(X, y)
    zero = torch.zeros(3, dtype=torch.float64)
    ours = float(squared_hinge_objective(Xt, Y, W, zero, 0.05))
    theirs = float(squared_hinge_objective(Xt, Y, torch.as_tensor(ref.coef_.T), zero, 0.05))
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_low_rank_preconditioner_is_a_square_root_of_the_approximate_hessian():
    # L = H^(1/2), where H is the Hessian estimate lam I + c B^T B (B: the sampled rows,
    # scaled, with an intercept column) on the rows' span, and a constant at least lam
    # on its orthogonal complement; to_p must invert to_v.
    from sklearn_ckn.core.preconditioner import _LowRankFactor

    X = torch.as_tensor(np.random.RandomState(0).randn(50, 12))
    rows = torch.arange(8) * 50 // 8
    factor = _LowRankFactor(X, rows, fit_intercept=True)
    n, C, a = 50, 0.3, 0.4
    factor.set(C=C, active_fraction=a)
    B = torch.cat([X[rows], torch.ones(8, 1, dtype=X.dtype)], dim=1) * (n / 8) ** 0.5
    H_est = (2 * a / n) * B.T @ B + torch.eye(13, dtype=X.dtype) / (C * n)
    L = factor.to_v(torch.eye(13, dtype=X.dtype))
    H = L @ L.T
    torch.testing.assert_close(L, L.T)
    in_span = B.T  # (13, 8): the rows themselves
    torch.testing.assert_close(H @ in_span, H_est @ in_span)
    basis, _ = torch.linalg.qr(torch.cat([in_span, torch.eye(13, dtype=X.dtype)], dim=1))
    outside = basis[:, 8:]  # an orthonormal basis of the complement
    curvature = torch.diagonal(outside.T @ H @ outside)
    torch.testing.assert_close(outside.T @ H @ outside, torch.diag(curvature))
    assert torch.allclose(curvature, curvature[0]) and float(curvature[0]) >= 1 / (C * n)
    P = torch.as_tensor(np.random.RandomState(1).randn(13, 3))
    torch.testing.assert_close(factor.to_p(factor.to_v(P)), P)


@pytest.mark.parametrize("scale", [1e19, 1e30])
def test_features_too_large_for_float32_are_a_clear_error_not_a_hang(scale):
    # The float32 Gram matrix overflows: the Cholesky retry loop used to spin forever.
    X, y = make_classification(100, 6, random_state=0)
    with pytest.raises(ValueError, match="not finite in torch.float32.*Standardise"):
        TorchLinearSVC(device="cpu").fit(X * scale, y)
    # float64 holds them: the same problem, rescaled, gives the same predictions.
    big = TorchLinearSVC(dtype="float64", device="cpu").fit(X * 1e30, y)
    assert np.isfinite(big.coef_).all() and big.score(X * 1e30, y) > 0.85


def test_preconditioner_factorisation_gives_up_after_bounded_retries():
    # A matrix no diagonal shift makes positive definite (NaN) must not loop forever.
    from sklearn_ckn.core.preconditioner import _DenseFactor

    factor = _DenseFactor(torch.eye(4, dtype=torch.float64), torch.arange(4), fit_intercept=False)
    factor.gram[0, 1] = factor.gram[1, 0] = float("nan")
    with pytest.raises(ValueError, match="Could not factorise the preconditioner"):
        factor.set(C=1.0, active_fraction=1.0)


# -- labels: TorchLinearSVC and the torch classifiers agree -------------------------------
def _classes_or_error(estimator, X, y):
    try:
        return estimator.fit(X, y).classes_.tolist()
    except ValueError as exc:
        assert "mixes labels" in str(exc), exc
        return "mixes labels"


def _agree_on_labels(y):
    from sklearn_ckn.cnn import CNNClassifier

    images = np.random.default_rng(0).random((len(y), 4, 4), dtype=np.float32)
    svc = _classes_or_error(TorchLinearSVC(max_iter=2, device="cpu"), images.reshape(len(y), -1), y)
    cnn = _classes_or_error(CNNClassifier(epochs=1, batch_size=len(y), device="cpu"), images, y)
    assert svc == cnn, f"labels {y!r}: TorchLinearSVC {svc!r}, CNNClassifier {cnn!r}"


@pytest.mark.parametrize("y", [[0, 1] * 3, ["b", "a"] * 3, ["1", "a"] * 3])
def test_single_type_labels_give_the_same_classes_as_the_torch_classifiers(y):
    _agree_on_labels(y)


# The torch classifiers' _validate_y (sklearn_ckn/_torch_estimator.py) checks the labels
# before column_or_1d, which would turn [1, "a"] into the strings ["1", "a"].


def test_mixed_labels_are_refused_by_the_torch_classifiers_too():
    _agree_on_labels([1, "a"] * 3)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2), st.sampled_from(["a", "b"])), min_size=4, max_size=8)
       .filter(lambda y: len(set(map(str, y))) > 1))
def test_property_labels_give_the_same_classes_or_the_same_error(y):
    _agree_on_labels(y)
