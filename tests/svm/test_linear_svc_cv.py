import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold

from sklearn_ckn.core.linear_svm import (
    build_preconditioner,
    fit_squared_hinge_ovr,
    fit_squared_hinge_path,
    squared_hinge_objective,
)
from sklearn_ckn.svm import TorchLinearSVC, TorchLinearSVCCV

from ..conftest import estimator_checks


def _problem(n=300, d=20, k=3, seed=0):
    X, y = make_classification(n, d, n_informative=8, n_classes=k, random_state=seed)
    Y = torch.as_tensor(np.where(y[:, None] == np.arange(k), 1.0, -1.0))
    return torch.as_tensor(X), Y, y


def test_masked_fit_equals_fit_on_the_kept_rows():
    X, Y, _ = _problem()
    keep = torch.arange(len(X)) % 3 != 0
    W, b, _ = fit_squared_hinge_ovr(X, Y, C=0.1, tol=1e-10, sample_mask=keep.double())
    W_ref, b_ref, _ = fit_squared_hinge_ovr(X[keep], Y[keep], C=0.1, tol=1e-10)
    ours = float(squared_hinge_objective(X[keep], Y[keep], W, b, 0.1))
    ref = float(squared_hinge_objective(X[keep], Y[keep], W_ref, b_ref, 0.1))
    assert ours == pytest.approx(ref, rel=1e-7)
    torch.testing.assert_close(W, W_ref, rtol=1e-3, atol=1e-4)


def test_warm_started_path_reaches_the_cold_optima_in_fewer_iterations():
    X, Y, _ = _problem(d=30)
    Cs = [0.01, 0.03, 0.1, 0.3, 1.0]
    factor = build_preconditioner(X)
    path = fit_squared_hinge_path(X, Y, Cs, preconditioner=factor, tol=1e-8)
    cold = [fit_squared_hinge_ovr(X, Y, C=C, tol=1e-8) for C in Cs]
    for C, (W, b, _), (W0, b0, _) in zip(Cs, path, cold):
        ours, ref = (float(squared_hinge_objective(X, Y, w, c, C)) for w, c in [(W, b), (W0, b0)])
        assert ours <= ref * (1 + 1e-6)
    assert sum(p[2] for p in path[1:]) < sum(c[2] for c in cold[1:])


def test_cv_picks_the_best_mean_validation_score_and_refits_on_everything():
    X, _, y = _problem(n=240)
    Cs = [1e-4, 1e-2, 1.0]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    clf = TorchLinearSVCCV(Cs=Cs, cv=cv, dtype="float64", tol=1e-8, device="cpu").fit(X.numpy(), y)
    # Scores by hand: one TorchLinearSVC per fold and C.
    expected = np.array([
        [TorchLinearSVC(C=C, dtype="float64", tol=1e-8, device="cpu").fit(X[tr].numpy(), y[tr]).score(X[te].numpy(), y[te])
         for C in Cs]
        for tr, te in cv.split(X.numpy(), y)
    ])
    np.testing.assert_allclose(clf.scores_, expected, atol=1.5 / 80)  # at most one sample differs
    assert clf.C_ == Cs[int(np.argmax(clf.mean_scores_))]
    ref = TorchLinearSVC(C=clf.C_, dtype="float64", tol=1e-8, device="cpu").fit(X.numpy(), y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-3, atol=1e-4)
    assert clf.n_iter_path_.shape == (3, 3) and clf.Cs_.tolist() == Cs


def test_integer_Cs_and_invalid_Cs():
    X, _, y = _problem(n=120)
    clf = TorchLinearSVCCV(Cs=4, cv=2, device="cpu").fit(X.numpy(), y)
    np.testing.assert_allclose(clf.Cs_, np.logspace(-4, 1, 4))
    with pytest.raises(ValueError, match="Cs must be positive"):
        TorchLinearSVCCV(Cs=[0.1, -1.0], device="cpu").fit(X.numpy(), y)


@estimator_checks([TorchLinearSVCCV(Cs=3, cv=3, device="cpu")])
def test_scikit_learn_conventions(estimator, check):
    check(estimator)


def test_shared_factor_is_refactorised_only_when_C_moves_beyond_the_reuse_ratio():
    X, _, _ = _problem()
    factor = build_preconditioner(X, reuse_ratio=4.0)
    factor.set(C=1.0, active_fraction=0.5)
    first = factor.L
    factor.set(C=3.0, active_fraction=0.5)
    assert factor.L is first  # within 4x: kept
    factor.set(C=5.0, active_fraction=0.5)
    assert factor.L is not first  # 5x from the factorised C
    exact = build_preconditioner(X)  # default: every change refactorises
    exact.set(C=1.0, active_fraction=0.5)
    kept = exact.L
    exact.set(C=1.5, active_fraction=0.5)
    assert exact.L is not kept


def test_n_jobs_and_mixed_labels():
    import torch

    rng = np.random.RandomState(0)
    X = rng.randn(60, 5)
    y = (X[:, 0] > 0).astype(int)
    before = torch.get_num_threads()
    clf = TorchLinearSVCCV(Cs=[0.1, 1.0], cv=2, device="cpu", n_jobs=1).fit(X, y)
    assert torch.get_num_threads() == before
    assert clf.decision_function(X).shape == (60,)
    with pytest.raises(ValueError, match="mix"):
        TorchLinearSVCCV(Cs=[1.0], cv=2, device="cpu").fit(X, np.array([1, "a"] * 30, dtype=object))


def test_wide_search_in_the_rows_span_equals_the_search_on_x(monkeypatch):
    # No more rows than features: folds, validation scores and the refit run on the
    # rows' coordinates; they must give what the search on X itself gives.
    import sklearn_ckn.svm._linear_svc_cv as cv_module

    X, y = make_classification(60, 200, n_informative=10, n_classes=3, random_state=0)
    params = {"Cs": [0.001, 0.01, 0.1], "cv": 3, "tol": 1e-10, "max_iter": 2000,
              "dtype": "float64", "device": "cpu"}
    span = TorchLinearSVCCV(**params).fit(X, y)
    monkeypatch.setattr(cv_module, "spans_rows", lambda *args: False)
    on_x = TorchLinearSVCCV(**params).fit(X, y)
    assert span.C_ == on_x.C_
    np.testing.assert_allclose(span.scores_, on_x.scores_)
    np.testing.assert_allclose(span.coef_, on_x.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(span.intercept_, on_x.intercept_, rtol=1e-4, atol=1e-6)
    assert span.coef_.shape == (3, 200) and span.n_features_in_ == 200


def test_a_poor_warm_start_is_not_mistaken_for_convergence():
    # Far from the optimum, the line searches spend a chunk's evaluations in fewer
    # iterations than asked; the fit used to stop there, at 43 times the optimum's
    # objective.
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(30, 150, generator=gen, dtype=torch.float64)
    Y = torch.where(torch.argmax(X[:, :3], 1)[:, None] == torch.arange(3), 1.0, -1.0).double()
    factor = build_preconditioner(X)
    W0, b0, _ = fit_squared_hinge_ovr(X, Y, C=1.0, tol=1e-12, max_iter=2000, preconditioner=factor)
    init = (torch.randn(150, 3, generator=gen, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    W, b, n_iter = fit_squared_hinge_ovr(X, Y, C=1.0, tol=1e-12, max_iter=2000, init=init,
                                         preconditioner=factor)
    best = float(squared_hinge_objective(X, Y, W0, b0, 1.0))
    assert float(squared_hinge_objective(X, Y, W, b, 1.0)) == pytest.approx(best, rel=1e-8)
