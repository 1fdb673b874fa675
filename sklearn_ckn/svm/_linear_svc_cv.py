"""TorchLinearSVC with its ``C`` chosen by cross-validation along a warm-started path."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv

from .._compat import Interval
from ..core.linear_svm import (
    build_preconditioner,
    fit_squared_hinge_ovr,
    fit_squared_hinge_path,
)
from ..core.preconditioner import N_HESSIAN_SAMPLES
from ..core.row_span import RowSpan, spans_rows
from ._linear_svc import _SOLVER_CONSTRAINTS, TorchLinearSVC, _ThreadedLinearClassifier
from ._streaming import RowSubset

__all__ = ["TorchLinearSVCCV"]

# Neighbouring values of C (and folds) keep one Cholesky factor while its curvature and
# penalty terms are within this ratio of the ones it was computed for.
_REUSE_RATIO = 4.0


class TorchLinearSVCCV(_ThreadedLinearClassifier, BaseEstimator):
    """:class:`TorchLinearSVC` whose ``C`` is chosen by cross-validation.

    For every fold, the values of ``Cs`` are fitted in increasing order, each
    starting from the previous solution, and all fits (folds and the final refit)
    share one preconditioner estimated on ``X``: choosing among ``len(Cs)`` values
    costs less than ``len(Cs) * n_folds`` independent fits. Each fold's training rows
    are copied once (``(k - 1) / k`` of ``X``); with no more rows than features, the
    whole search runs on the rows' coordinates (``n`` of them, for the same solutions:
    :mod:`sklearn_ckn.core.row_span`). The ``C`` with the best mean
    validation score (the smallest among equals) is refitted on all the data,
    starting from the folds' mean solution for it. The model is that of
    ``LinearSVC(loss="squared_hinge")`` with an unpenalised intercept, one-vs-rest.

    Parameters
    ----------
    Cs : int or array-like of float, default=8
        Candidate values of ``C``; an int ``n`` means ``n`` values spaced
        logarithmically between ``1e-4`` and ``1e1`` (a range suited to standardised
        features, such as CKN features after a ``StandardScaler``).
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn: ``None`` is 5-fold, an int ``k`` is stratified ``k``-fold
        (:func:`sklearn.model_selection.check_cv` with a classifier).
    scoring : str or callable, default=None
        Validation score (:func:`sklearn.metrics.check_scoring`); ``None`` is accuracy.
    fit_intercept : bool, default=True
        Learn an (unpenalised) intercept per class.
    max_iter : int, default=500
        Maximum number of L-BFGS iterations of each fit.
    tol : float, default=1e-2
        Stopping tolerance of each fit, as in :class:`TorchLinearSVC`.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    n_jobs : int, default=None
        CPU threads (torch and BLAS) of ``fit`` and ``decision_function``, restored
        afterwards, as in :class:`TorchLinearSVC`.
    chunk_size : int, default=None
        Rows read at a time from features larger than memory (``X`` a ``np.memmap``,
        a zarr, h5py or dask array), as in :class:`TorchLinearSVC`. Such an ``X`` is
        never copied: the folds are row masks (every pass reads all rows) and the
        validation rows are read ``chunk_size`` at a time.

    Attributes
    ----------
    C_ : float
        The chosen ``C``.
    Cs_ : ndarray of shape (n_Cs,)
        The candidate values, increasing.
    scores_ : ndarray of shape (n_folds, n_Cs)
        Validation score of every fold and candidate.
    mean_scores_ : ndarray of shape (n_Cs,)
        Mean validation score per candidate.
    n_iter_path_ : ndarray of shape (n_folds, n_Cs)
        L-BFGS iterations of every warm-started fit of the path.
    n_iter_ : int
        L-BFGS iterations of the final refit.
    coef_, intercept_ : ndarray
        Weights and intercepts of the refitted model, shaped as :class:`TorchLinearSVC`'s.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit; ``feature_names_in_`` (ndarray of shape
        (`n_features_in_`,)) holds their names when ``X`` has string column names.

    See Also
    --------
    TorchLinearSVC : The same model with a given ``C``.
    sklearn.linear_model.LogisticRegressionCV : The same conventions for logistic regression.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ckn.svm import TorchLinearSVCCV
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = TorchLinearSVCCV(Cs=[0.001, 0.01, 0.1], cv=3, device="cpu").fit(X / 16, y)
    >>> clf.C_ in (0.001, 0.01, 0.1), clf.scores_.shape
    (True, (3, 3))
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    _parameter_constraints = {
        "Cs": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        **_SOLVER_CONSTRAINTS,
    }

    def __init__(
        self, Cs=8, *, cv=None, scoring=None, fit_intercept=True, max_iter=500, tol=1e-2,
        dtype="float32", device="auto", n_jobs=None, chunk_size=None,
    ):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self._set_solver_params(fit_intercept=fit_intercept, max_iter=max_iter, tol=tol, dtype=dtype,
                                device=device, n_jobs=n_jobs, chunk_size=chunk_size)

    def _candidates(self):
        if isinstance(self.Cs, numbers.Integral):
            return np.logspace(-4, 1, int(self.Cs))
        Cs = np.asarray(self.Cs, dtype=np.float64).ravel()
        if Cs.size == 0 or not np.all(np.isfinite(Cs)) or np.any(Cs <= 0):
            raise ValueError(f"Cs must be positive finite numbers or an int >= 1; got {self.Cs!r}.")
        return np.unique(Cs)  # sorted: the path runs from strong to weak regularisation

    fit = _ThreadedLinearClassifier.fit  # listed on this class's API page

    def _as_linear_svc(self, W, b, classes):
        """A fitted TorchLinearSVC holding ``(W, b)``, for scorers that want an estimator."""
        est = TorchLinearSVC(
            fit_intercept=self.fit_intercept, dtype=self.dtype, device="cpu", chunk_size=self.chunk_size
        )
        est.classes_ = classes
        est.n_features_in_ = W.shape[0]  # the rows' coordinates have fewer than X
        return est._set_solution(W, b)

    def _solve(self, data):
        """Cross-validate ``Cs``, then refit the best: ``(W, b)``; sets ``C_`` and the scores."""
        n, d = data.Xt.shape
        if spans_rows(n, d, N_HESSIAN_SAMPLES):
            # No more rows than features: the whole search runs on the rows' coordinates
            # (the same solutions, see core.row_span; a fold's rows are rows of Z, its
            # validation margins Z[test] z), and only the chosen model is mapped back.
            span = RowSpan(data.Xt, self.fit_intercept)
            span.factor.reuse_ratio = _REUSE_RATIO
            Z = span.Z
            W, b = self._search(data._replace(X=Z.cpu().numpy(), streamed=False, Xt=Z), span.factor)
            return span.weights(data.Xt, W), b
        # One Hessian estimate for every fit: it only preconditions, so the rows of
        # other folds in it change the number of iterations, never the solutions.
        factor = build_preconditioner(
            data.Xt, fit_intercept=self.fit_intercept, n_hessian_samples=N_HESSIAN_SAMPLES,
            reuse_ratio=_REUSE_RATIO,
        )
        return self._search(data, factor)

    def _search(self, data, factor):
        """:meth:`_solve` on the features ``data.Xt``, every fit preconditioned by ``factor``."""
        X, y, classes, Xt, Yt = data.X, data.y, data.classes, data.Xt, data.Yt
        streamed = data.streamed
        Cs = self._candidates()
        cv = check_cv(self.cv, y, classifier=True)
        # A streamed X only gives its number of rows to the splitter.
        splits = list(cv.split(np.zeros((len(y), 1)) if streamed else X, y))
        scorer = check_scoring(TorchLinearSVC(), scoring=self.scoring)
        device, dtype = Xt.device, Xt.dtype
        options = {"fit_intercept": self.fit_intercept, "max_iter": self.max_iter, "tol": self.tol}
        scores = np.empty((len(splits), len(Cs)))
        n_iter = np.empty((len(splits), len(Cs)), dtype=int)
        sums = [None] * len(Cs)
        first = None
        for i, (train, test) in enumerate(splits):
            # The first value starts from the previous fold's solution for it: the
            # folds share most of their rows, so it is close.
            if streamed:
                # A row mask: X is not copied, every L-BFGS step reads all its rows.
                mask = torch.zeros(len(y), dtype=dtype, device=device)
                mask[torch.as_tensor(train, device=device)] = 1
                path = fit_squared_hinge_path(
                    Xt, Yt, Cs, preconditioner=factor, init=first, sample_mask=mask, **options
                )
                X_test = RowSubset(X, test)
            else:
                rows = torch.as_tensor(train, device=device)
                # A copy of the fold's rows: every L-BFGS step then reads only them (a
                # sample_mask would avoid the copy but read all rows every step).
                path = fit_squared_hinge_path(
                    Xt[rows], Yt[rows], Cs, preconditioner=factor, init=first, **options
                )
                del rows
                X_test = X[test]
            first = path[0][:2]
            for j, (W, b, it) in enumerate(path):
                n_iter[i, j] = it
                scores[i, j] = scorer(self._as_linear_svc(W, b, classes), X_test, y[test])
                sums[j] = (W, b) if sums[j] is None else (sums[j][0] + W, sums[j][1] + b)
        mean_scores = scores.mean(axis=0)
        best = int(np.flatnonzero(mean_scores == mean_scores.max())[0])
        self.C_ = float(Cs[best])
        W0, b0 = (t / len(splits) for t in sums[best])
        W, b, self.n_iter_ = fit_squared_hinge_ovr(
            Xt, Yt, C=self.C_, init=(W0, b0), preconditioner=factor, **options
        )
        self.Cs_ = Cs
        self.scores_ = scores
        self.mean_scores_ = mean_scores
        self.n_iter_path_ = n_iter
        return W, b
