"""The preconditioner of the linear SVM solver: a square root of the Hessian estimate.

The squared hinge objective of :mod:`.squared_hinge`, divided by ``C n``, has the
Hessian ``H = (2 a / n) G + I_w / (C n)`` where it is twice differentiable: ``G`` the
Gram matrix of ``[X, 1]``, ``a`` the fraction of (sample, class) pairs inside the
margin. :func:`build_preconditioner` estimates ``G`` from a subsample of rows, once
per ``X``; ``C`` and ``a`` only rescale it, so a path of ``C`` values or the folds
of a cross-validation share one. Up to ``max_dense_features`` features ``H`` is
factorised by Cholesky (:class:`_DenseFactor`); above, or when there are no more
rows than features, a low-rank square root from the rows' own Gram matrix
(:class:`_LowRankFactor`). Either maps the solver's
variables ``P = [W; b]`` to ``V = L^T P``, in which L-BFGS sees a well-conditioned
problem.
"""

import torch

from .row_chunks import RowChunks

__all__ = ["MAX_DENSE_FEATURES", "N_HESSIAN_SAMPLES", "build_preconditioner"]

#: Rows that estimate the Hessian by default (every solver's ``n_hessian_samples``).
N_HESSIAN_SAMPLES = 10_000

#: Most features whose Hessian estimate is a dense ``d x d`` factor by default (every
#: solver's ``max_dense_features``); a low-rank one above.
MAX_DENSE_FEATURES = 16_384


_MAX_JITTER_TRIES = 16


def _check_finite_gram(gram, largest, dtype):
    """Raise a clear error when the features' Gram matrix over- or underflows their dtype.

    From about 1e19 float32 features, their squared sums exceed float32's range; the
    preconditioner (and every margin) would then be ``inf`` or ``nan``. ``largest``:
    the largest ``|feature|`` of the rows in ``gram``.
    """
    if not bool(torch.isfinite(gram).all()):
        raise ValueError(
            f"The features' Gram matrix is not finite in {dtype} (largest |feature| "
            f"{largest:.3g}): the features are too large for this precision. Standardise "
            "them (e.g. with StandardScaler) or compute in float64."
        )


def _largest(Xs, largest):
    if Xs.numel() == 0:
        return largest
    low, high = torch.aminmax(Xs)  # no |Xs| temporary
    return max(largest, -float(low), float(high))


class _DenseFactor:
    """``L L^T = H`` by Cholesky of the ``(d + 1, d + 1)`` Gram matrix of ``m`` rows.

    ``H = (2 a / n) G + I_w / (C n)`` is the Hessian of the scaled objective: ``G`` the
    Gram matrix of ``[X, 1]`` (``X`` alone without intercept), ``a`` the fraction of
    (sample, class) pairs inside the margin, the only ones that contribute curvature.
    """

    def __init__(self, X, rows, fit_intercept):
        X = RowChunks.wrap(X)
        n, d = X.shape
        m = len(rows)
        self.d1 = d + 1 if fit_intercept else d
        self.gram = torch.zeros(self.d1, self.d1, dtype=X.dtype, device=X.device)
        sums = torch.zeros(d, dtype=X.dtype, device=X.device)
        largest, first = 0.0, True
        for _, _, Xs in X.sampled(rows):  # the Gram matrix of the rows, chunk by chunk
            if first:
                torch.mm(Xs.T, Xs, out=self.gram[:d, :d])
                first = False
            else:
                self.gram[:d, :d].addmm_(Xs.T, Xs)
            if fit_intercept:
                sums += Xs.sum(0)
            largest = _largest(Xs, largest)
        Xs = None  # the last block: not kept alive by the loop variable
        if fit_intercept:
            self.gram[:d, d] = self.gram[d, :d] = sums
            self.gram[d, d] = m
        self.gram *= n / m
        _check_finite_gram(self.gram, largest, X.dtype)
        self._init_state(n, d)

    @classmethod
    def from_gram(cls, gram, n, d):
        """The factor of a Gram matrix of ``[X, 1]`` (or ``X``) over all ``n`` rows, given."""
        factor = cls.__new__(cls)
        factor.gram, factor.d1 = gram, gram.shape[0]
        factor._init_state(n, d)
        return factor

    def _init_state(self, n, d):
        self.n, self.d = n, d
        # set() keeps the current factor while both terms of H are within this ratio
        # of the factorised ones (a path of C values sets it above 1; see
        # build_preconditioner): any such factor still preconditions well, and a
        # Cholesky factorisation is the costliest step of a warm-started fit.
        self.reuse_ratio = 1.0
        self._terms = None

    def set(self, C, active_fraction, n=None):
        # Any symmetric positive definite matrix is a valid preconditioner, so the
        # factor is made to exist by growing a diagonal jitter. ``n``: rows of the
        # problem solved (a fold may use fewer than the factor was estimated from).
        terms = (2.0 * active_fraction / self.n, 1.0 / (C * (self.n if n is None else n)))
        if self._terms is not None and all(
            max(a / b, b / a) <= self.reuse_ratio for a, b in zip(terms, self._terms)
        ):
            return
        # The old factor goes first: with it, the Gram matrix, H and the new factor,
        # four d x d matrices would be alive at once (three without it).
        self.L = None
        H = self.gram * terms[0]
        H.diagonal()[: self.d] += terms[1]
        jitter = 1e-6 * float(H.diagonal().mean())
        for _ in range(_MAX_JITTER_TRIES):
            L, info = torch.linalg.cholesky_ex(H)
            if int(info) == 0:
                self.L = L
                self._terms = terms
                return
            H.diagonal().add_(jitter)
            jitter *= 10
        # Not reached by a finite H (the jitter ends at 1e9 times its mean diagonal),
        # but a bounded loop cannot hang on what rounding may still produce.
        raise ValueError(
            f"Could not factorise the preconditioner after {_MAX_JITTER_TRIES} diagonal "
            f"shifts (C={C}); the features' scale is probably extreme for {H.dtype}: "
            "standardise them (e.g. StandardScaler) or use float64."
        )

    def to_v(self, P):  # V = L^T P
        return self.L.T @ P

    def to_p(self, V):  # P = L^-T V
        return torch.linalg.solve_triangular(self.L.T, V, upper=True)

    def grad_v(self, G):  # df/dV = L^-1 df/dP
        return torch.linalg.solve_triangular(self.L, G, upper=False)


class _LowRankFactor:
    """``H = lam I + (2 a / n) Q diag(s) Q^T`` from ``m < d`` rows, with ``L = H^(1/2)``.

    Used when ``d`` is too large for a ``d x d`` Gram matrix (32,768 features: 4.3 GB
    per copy, and a ``d^3`` factorisation). The rows' Gram matrix is ``m x m``: its
    eigendecomposition gives ``Q`` (``(d + 1, r)``, orthonormal) and ``s``, once, and
    every later ``a`` or ``C`` only rescales ``s``. ``lam`` is the curvature given to
    directions outside the sampled rows' span (see :meth:`set`).
    """

    def __init__(self, X, rows, fit_intercept):
        X = RowChunks.wrap(X)
        n, d = X.shape
        m = len(rows)
        # The sampled rows (m x d: the size of Q below), gathered chunk by chunk.
        B = torch.ones(m, d + 1 if fit_intercept else d, dtype=X.dtype, device=X.device)
        largest = 0.0
        for lo, hi, Xs in X.sampled(rows):
            B[lo:hi, :d] = Xs
            largest = _largest(Xs, largest)
        Xs = None
        B *= (n / m) ** 0.5
        gram = B @ B.T
        _check_finite_gram(gram, largest, X.dtype)
        s, U = torch.linalg.eigh(gram)
        del gram
        keep = s > float(s[-1]) * 1e-6
        s, U = s[keep], U[:, keep]
        # Q = B^T U diag(s)^(-1/2), stored as its transpose over B's first r rows, one
        # block of columns at a time (each block is read whole before it is
        # overwritten): no second m x d matrix (at 73,728 features and 10,000 rows,
        # 2.9 GB in float32).
        r, d1 = len(s), B.shape[1]
        Ut = (U.T / s.sqrt()[:, None]).contiguous()
        step = max(1, 2**24 // max(m, 1))  # columns per block: a 64 MiB float32 temporary
        for j in range(0, d1, step):
            B[:r, j:j + step] = Ut @ B[:, j:j + step]
        self.Q = B[:r].T
        self.s = s
        self.n, self.d1 = n, d1

    def set(self, C, active_fraction, n=None):
        c = 2.0 * active_fraction / self.n
        penalty = 1.0 / (C * (self.n if n is None else n))
        # Outside the rows' span the curvature is unknown but at least the penalty's;
        # the smallest sampled eigenvalue is the estimate of randomized Nystrom
        # preconditioning (Frangella, Tropp and Udell, 2023).
        self.lam = penalty + c * (float(self.s[0]) if len(self.s) else 0.0)
        ev = self.s * c + penalty
        self.up = ev.sqrt() - self.lam**0.5
        self.down = ev.rsqrt() - self.lam**-0.5

    def _apply(self, x, scale, diag):  # scale x + Q diag Q^T x
        return torch.addmm(x * scale, self.Q, (self.Q.T @ x).mul_(diag[:, None]))

    def to_v(self, P):
        return self._apply(P, self.lam**0.5, self.up)

    def to_p(self, V):
        return self._apply(V, self.lam**-0.5, self.down)

    grad_v = to_p  # L is symmetric


def build_preconditioner(
    X, *, fit_intercept=True, n_hessian_samples=N_HESSIAN_SAMPLES,
    max_dense_features=MAX_DENSE_FEATURES, reuse_ratio=1.0,
):
    """The Hessian estimate of :func:`fit_squared_hinge_ovr`, to share between fits.

    It depends on ``X`` only (``C`` and the active fraction rescale it), so a path of
    ``C`` values or the folds of a cross-validation can reuse one: building it is the
    costliest step of a fit with many features (a ``(d, m) x (m, d)`` product and,
    later, a Cholesky factorisation).

    Parameters
    ----------
    X : torch.Tensor or RowChunks of shape (n, d)
        Features (a :class:`RowChunks` is read chunk by chunk).
    fit_intercept : bool, default=True
        Whether the fits learn intercepts.
    n_hessian_samples : int, default=10_000
        Rows that estimate the Gram matrix (see :func:`fit_squared_hinge_ovr`).
    max_dense_features : int, default=16_384
        Largest ``d`` for the dense preconditioner (which also needs more rows than
        features).
    reuse_ratio : float, default=1.0
        Above 1, the dense factor keeps its Cholesky factor while the curvature and
        penalty terms stay within this ratio of the factorised ones.

    Returns
    -------
    preconditioner : object
        To pass as ``preconditioner=`` to :func:`fit_squared_hinge_ovr` or
        :func:`fit_squared_hinge_path` on the same ``X``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import fit_squared_hinge_ovr
    >>> from sklearn_ckn.core.preconditioner import build_preconditioner
    >>> X = torch.randn(100, 5)
    >>> Y = torch.where(X[:, :1] > 0, 1.0, -1.0)
    >>> P = build_preconditioner(X)
    >>> W, b, n_iter = fit_squared_hinge_ovr(X, Y, C=1.0, preconditioner=P)
    >>> W.shape
    torch.Size([5, 1])
    """
    X = RowChunks.wrap(X)
    n, d = X.shape
    if d <= max_dense_features and n > d:
        m = min(n, max(n_hessian_samples, d))
        factor_type = _DenseFactor
    else:
        # Above max_dense_features, or with no more rows than features: then the
        # rows' own m x m Gram matrix gives the whole Hessian estimate (rank <= n + 1)
        # at n^2 d instead of n d^2 + d^3 (400 digits of 8,192 features: a 400 x 400
        # eigendecomposition in place of Cholesky factorisations of 8,193 x 8,193).
        m = min(n, n_hessian_samples)
        factor_type = _LowRankFactor
    factor = factor_type(X, torch.arange(m, device=X.device) * n // m, fit_intercept)
    factor.reuse_ratio = float(reuse_ratio)
    return factor
