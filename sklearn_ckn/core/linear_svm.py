"""One-vs-rest linear SVMs with the squared hinge loss, solved by full-batch L-BFGS in torch.

For each class ``c`` with targets ``y_ic`` in {-1, +1} the objective is LinearSVC's
(``loss="squared_hinge"``, ``penalty="l2"``) with an unpenalised intercept::

    0.5 * ||w_c||^2 + C * sum_i max(0, 1 - y_ic (<w_c, x_i> + b_c))^2

The per-class problems are independent, so their sum is minimised at once: every
L-BFGS step costs two dense products ``X @ W`` and ``X.T @ G``, which run at the
machine's matmul speed on the CPU or the GPU. The loss is smooth (once
differentiable), which is what L-BFGS needs.

Every function here reads ``X`` through :class:`RowChunks`: a tensor in memory is one
chunk, and features that do not fit in memory (a ``np.memmap``, a zarr or dask array:
see :mod:`sklearn_ckn.svm._streaming`) are a sequence of row chunks loaded one at a
time. The objective, its gradient and the preconditioner's Gram matrix are sums over
rows, so they are accumulated chunk by chunk: memory holds the model, the
preconditioner and one chunk, never the ``n x d`` matrix.
"""

import itertools

import torch

__all__ = [
    "RowChunks",
    "build_preconditioner",
    "fit_squared_hinge_ovr",
    "fit_squared_hinge_path",
    "squared_hinge_objective",
    "squared_hinge_value_and_grad",
]


class RowChunks:
    """The rows of an ``(n, d)`` matrix, read one chunk of consecutive rows at a time.

    The solvers of this module take a ``RowChunks`` wherever they take ``X``: each pass
    over the data (an objective and gradient, the preconditioner's Gram matrix) loads
    chunk ``0``, uses it, then chunk ``1``, and so on, so that only one chunk of rows is
    in memory at a time. A tensor is one chunk (:meth:`from_tensor`). The solvers only
    read chunks, never write into them: a chunk may map a read-only file.

    Parameters
    ----------
    load : callable
        ``load(i)`` returns the rows ``bounds[i]:bounds[i + 1]`` as a tensor or a NumPy
        array of shape ``(bounds[i + 1] - bounds[i], n_features)``; it is converted to
        ``dtype`` on ``device``.
    bounds : sequence of int
        Increasing row offsets, from ``0`` to ``n``.
    n_features : int
        Number of columns ``d``.
    dtype : torch.dtype
        Dtype of the computation.
    device : torch.device or str, default="cpu"
        Where the chunks are moved to.

    Attributes
    ----------
    shape : tuple of int
        ``(n, n_features)``.
    bounds : list of int
        The row offsets.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import RowChunks, fit_squared_hinge_ovr
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> Y = torch.as_tensor(np.where(X[:, :1] > 0, 1.0, -1.0))
    >>> chunks = RowChunks(lambda i: X[30 * i:30 * (i + 1)], [0, 30, 60, 90, 100], 5,
    ...                    dtype=torch.float64)
    >>> len(chunks), chunks.shape
    (4, (100, 5))
    >>> W, b, n_iter = fit_squared_hinge_ovr(chunks, Y, C=1.0)
    >>> W.shape
    torch.Size([5, 1])
    """

    def __init__(self, load, bounds, n_features, *, dtype, device="cpu"):
        bounds = [int(v) for v in bounds]
        if len(bounds) < 2 or bounds[0] != 0 or any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValueError(f"bounds must increase strictly from 0 to n, got {bounds[:5]}...")
        self._load = load
        self.bounds = bounds
        self.shape = (bounds[-1], int(n_features))
        self.dtype = dtype
        self.device = torch.device(device)

    @classmethod
    def from_tensor(cls, X, chunk_size=None):
        """Views of ``chunk_size`` rows of the tensor ``X`` (all of it, by default).

        Parameters
        ----------
        X : torch.Tensor of shape (n, d)
            Features.
        chunk_size : int, default=None
            Rows per chunk; None: one chunk.

        Returns
        -------
        chunks : RowChunks
            Its chunks are views of ``X``, not copies.
        """
        n, d = X.shape
        step = n if chunk_size is None else max(int(chunk_size), 1)
        bounds = list(range(0, n, max(step, 1))) + [n]
        return cls(lambda i: X[bounds[i]:bounds[i + 1]], bounds, d, dtype=X.dtype, device=X.device)

    def __len__(self):
        return len(self.bounds) - 1

    def chunk(self, i):
        """Load the rows ``bounds[i]:bounds[i + 1]`` as a tensor of ``dtype`` on ``device``.

        Parameters
        ----------
        i : int
            Chunk index.

        Returns
        -------
        rows : torch.Tensor of shape (bounds[i + 1] - bounds[i], n_features)
            The chunk.
        """
        rows = torch.as_tensor(self._load(i)).to(device=self.device, dtype=self.dtype)
        expected = (self.bounds[i + 1] - self.bounds[i], self.shape[1])
        if tuple(rows.shape) != expected:
            raise ValueError(f"Chunk {i} has shape {tuple(rows.shape)}, expected {expected}.")
        return rows

    def __iter__(self):
        """Yield ``(start, stop, rows)`` for every chunk, loading one at a time."""
        for i in range(len(self)):
            yield self.bounds[i], self.bounds[i + 1], self.chunk(i)


def _row_chunks(X):
    return X if isinstance(X, RowChunks) else RowChunks.from_tensor(X)


def _sampled_rows(X, rows, block_bytes=64 * 2**20):
    """Yield ``(lo, hi, Xs)``: the rows ``rows[lo:hi]`` of ``X`` (sorted indices), chunk by chunk.

    Within a chunk, rows are gathered ``block_bytes`` at a time, so that no copy of all
    the sampled rows of a large in-memory ``X`` (one chunk) is ever made; rows taken
    whole are views.
    """
    rows_cpu = rows.cpu()
    block = max(1, block_bytes // max(X.shape[1] * torch.empty(0, dtype=X.dtype).element_size(), 1))
    for i in range(len(X)):
        start, stop = X.bounds[i], X.bounds[i + 1]
        lo = int(torch.searchsorted(rows_cpu, start))
        hi = int(torch.searchsorted(rows_cpu, stop))
        if hi == lo:  # no sampled row: the chunk is not read
            continue
        Xc = X.chunk(i)
        every = hi - lo == stop - start  # every row of the chunk: views, no copy
        for a in range(lo, hi, block):
            b = min(a + block, hi)
            yield a, b, (Xc[a - lo:b - lo] if every else Xc[rows[a:b].to(Xc.device) - start])


def squared_hinge_objective(X, Y, W, b, C):
    """Return the sum over classes of ``0.5 ||w_c||^2 + C sum_i max(0, 1 - Y_ic f_ic)^2``.

    Parameters
    ----------
    X : torch.Tensor or RowChunks of shape (n, d)
        Features.
    Y : torch.Tensor of shape (n, k)
        Targets in {-1, +1}, one column per one-vs-rest problem.
    W : torch.Tensor of shape (d, k)
        Weights.
    b : torch.Tensor of shape (k,)
        Intercepts (not penalised).
    C : float
        Weight of the loss against the L2 penalty.

    Returns
    -------
    objective : torch.Tensor of shape ()
        The objective, with ``f = X W + b``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import squared_hinge_objective
    >>> X, Y = torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [-1.0]])
    >>> squared_hinge_objective(X, Y, torch.zeros(1, 1), torch.zeros(1), C=1.0)
    tensor(2.)
    """
    if isinstance(X, RowChunks):
        hinge = sum(
            torch.clamp(1 - Y[start:stop] * (Xc @ W + b), min=0).pow(2).sum() for start, stop, Xc in X
        )
        return 0.5 * (W * W).sum() + C * hinge
    margins = Y * (X @ W + b)
    return 0.5 * (W * W).sum() + C * torch.clamp(1 - margins, min=0).pow(2).sum()


def squared_hinge_value_and_grad(X, Y, W, b, C):
    """:func:`squared_hinge_objective` and its gradient, stacked as ``(d + 1, k)``.

    Written out rather than left to autograd so that the product with ``X`` in the
    gradient is ``(G^T X)^T``: with few classes, BLAS runs that layout faster than
    ``X^T G`` on the CPU (the row-major ``X`` is read in order), and the L-BFGS steps
    are little else.

    Parameters
    ----------
    X : torch.Tensor or RowChunks of shape (n, d)
        Features.
    Y : torch.Tensor of shape (n, k)
        Targets in {-1, +1}.
    W : torch.Tensor of shape (d, k)
        Weights.
    b : torch.Tensor of shape (k,)
        Intercepts.
    C : float
        Weight of the loss against the L2 penalty.

    Returns
    -------
    objective : torch.Tensor of shape ()
        The objective.
    grad : torch.Tensor of shape (d + 1, k)
        Its gradient with respect to ``W`` (first ``d`` rows) and ``b`` (last row).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import squared_hinge_value_and_grad
    >>> X, Y = torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [-1.0]])
    >>> value, grad = squared_hinge_value_and_grad(X, Y, torch.zeros(1, 1), torch.zeros(1), 1.0)
    >>> value, grad.ravel()
    (tensor(2.), tensor([-4.,  0.]))
    """
    return _value_grad_active(X, Y, W, b, C)[:2]


def _value_grad_active(X, Y, W, b, C, weights=None):
    # Also returns the fraction of margins below 1: they alone carry curvature.
    # ``weights`` (n,) of 0/1 leaves rows out (cross-validation folds without copies).
    # One pass over X's chunks; a tensor is one chunk.
    X = _row_chunks(X)
    hinge, n_active, GT = 0.0, 0, None
    db = torch.zeros(W.shape[1], dtype=W.dtype, device=W.device)
    with torch.no_grad():
        for start, stop, Xc in X:
            # r = max(0, 1 - Y f); d/df of C r^2 is -2 C Y r
            Yc = Y[start:stop]
            slack = torch.clamp_(torch.addmm(b, Xc, W).mul_(Yc).neg_().add_(1), min=0)
            if weights is not None:
                slack.mul_(weights[start:stop, None])
            hinge = hinge + (slack * slack).sum()
            n_active += int((slack > 0).sum())
            dloss = slack.mul_(Yc).mul_(-2.0 * C)
            # (G^T X)^T rather than X^T G: see squared_hinge_value_and_grad
            GT = torch.mm(dloss.T, Xc) if GT is None else GT.addmm_(dloss.T, Xc)
            db += dloss.sum(0)
        loss = 0.5 * (W * W).sum() + C * hinge
        n, k = X.shape[0], W.shape[1]
        n_rows = n if weights is None else max(float(weights.sum()), 1.0)
        active = n_active / (n_rows * k)
        grad = torch.empty(W.shape[0] + 1, k, dtype=W.dtype, device=W.device)
        torch.add(GT.T, W, out=grad[:-1])
        grad[-1] = db
    return loss, grad, active


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
        X = _row_chunks(X)
        n, d = X.shape
        m = len(rows)
        self.d1 = d + 1 if fit_intercept else d
        self.gram = torch.zeros(self.d1, self.d1, dtype=X.dtype, device=X.device)
        sums = torch.zeros(d, dtype=X.dtype, device=X.device)
        largest, first = 0.0, True
        for _, _, Xs in _sampled_rows(X, rows):  # the Gram matrix of the rows, chunk by chunk
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
        X = _row_chunks(X)
        n, d = X.shape
        m = len(rows)
        # The sampled rows (m x d: the size of Q below), gathered chunk by chunk.
        B = torch.ones(m, d + 1 if fit_intercept else d, dtype=X.dtype, device=X.device)
        largest = 0.0
        for lo, hi, Xs in _sampled_rows(X, rows):
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
    X, *, fit_intercept=True, n_hessian_samples=10_000, max_dense_features=16_384, reuse_ratio=1.0
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
        Largest ``d`` for the dense preconditioner.
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
    >>> from sklearn_ckn.core.linear_svm import build_preconditioner, fit_squared_hinge_ovr
    >>> X = torch.randn(100, 5)
    >>> Y = torch.where(X[:, :1] > 0, 1.0, -1.0)
    >>> P = build_preconditioner(X)
    >>> W, b, n_iter = fit_squared_hinge_ovr(X, Y, C=1.0, preconditioner=P)
    >>> W.shape
    torch.Size([5, 1])
    """
    X = _row_chunks(X)
    n, d = X.shape
    if d <= max_dense_features:
        m = min(n, max(n_hessian_samples, d))
        factor_type = _DenseFactor
    else:
        m = min(n, n_hessian_samples)
        factor_type = _LowRankFactor
    factor = factor_type(X, torch.arange(m, device=X.device) * n // m, fit_intercept)
    factor.reuse_ratio = float(reuse_ratio)
    return factor


def fit_squared_hinge_ovr(
    X, Y, C=1.0, *, fit_intercept=True, max_iter=500, tol=1e-3, n_hessian_samples=10_000,
    max_dense_features=16_384, init=None, preconditioner=None, sample_mask=None,
):
    """Minimise :func:`squared_hinge_objective` over ``W`` and ``b`` by preconditioned L-BFGS.

    Plain L-BFGS needs hundreds of iterations on CKN features: thousands of strongly
    correlated dimensions make the problem badly conditioned. So it runs in the
    variables ``V = L^T P`` (``P = [W; b]``), where ``L L^T`` approximates the
    objective's Hessian by the Gram matrix of a subsample of rows, weighted by the
    fraction of margins still active (re-estimated as the fit proceeds). One
    ``(d, m) x (m, d)`` product and a Cholesky factorisation buy far fewer iterations,
    each of which costs two passes over ``X`` (on MNIST CKN features, 140 reach a lower
    objective than 400 plain ones: ``benchmarks/results/svm_solver_mnist_64_512.json``).
    Above ``max_dense_features`` features the ``d x d`` matrices would not fit in
    memory; the Hessian is then approximated by ``n_hessian_samples`` rows' own
    ``m x m`` Gram matrix, whose eigendecomposition gives a low-rank square root.

    Parameters
    ----------
    X : torch.Tensor or RowChunks of shape (n, d)
        Features (float32 or float64; the result has the same dtype and device). A
        :class:`RowChunks` is read one chunk at a time, once per objective evaluation.
    Y : torch.Tensor of shape (n, k)
        Targets in {-1, +1}, one column per one-vs-rest problem.
    C : float
        Weight of the loss against the L2 penalty (LinearSVC's ``C``).
    fit_intercept : bool
        Learn an unpenalised intercept per class.
    max_iter : int
        Maximum number of L-BFGS iterations.
    tol : float
        Stop when ten iterations lower the objective by less than ``tol`` times its value.
    n_hessian_samples : int
        Rows, evenly spaced, that estimate the Gram matrix (at most ``n``; with
        ``d <= max_dense_features``, at least ``d`` of them).
    max_dense_features : int
        Largest ``d`` for the dense ``d x d`` Gram matrix and Cholesky factor; above
        it, the low-rank preconditioner from ``n_hessian_samples`` rows.
    init : tuple (W, b), optional
        Starting point (warm start), e.g. the solution for a nearby ``C``.
    preconditioner : object, optional
        From :func:`build_preconditioner` on the same ``X`` and ``fit_intercept``
        (then ``n_hessian_samples`` and ``max_dense_features`` are unused).
    sample_mask : torch.Tensor of shape (n,), optional
        1 for the rows to fit on, 0 for rows left out (a cross-validation fold
        without copying ``X``).

    Returns
    -------
    W : torch.Tensor of shape (d, k)
        Weights.
    b : torch.Tensor of shape (k,)
        Intercepts (zeros without ``fit_intercept``).
    n_iter : int
        L-BFGS iterations run.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import fit_squared_hinge_ovr
    >>> X = torch.tensor([[2.0], [1.0], [-1.0], [-2.0]])
    >>> Y = torch.tensor([[1.0], [1.0], [-1.0], [-1.0]])
    >>> W, b, n_iter = fit_squared_hinge_ovr(X, Y, C=10.0)
    >>> bool(((X @ W + b) * Y > 0).all())
    True
    """
    X = _row_chunks(X)
    W, b, n_iter, _ = _fit(
        X, Y, C, fit_intercept=fit_intercept, max_iter=max_iter, tol=tol, init=init,
        factor=preconditioner if preconditioner is not None else build_preconditioner(
            X, fit_intercept=fit_intercept, n_hessian_samples=n_hessian_samples,
            max_dense_features=max_dense_features,
        ),
        weights=sample_mask,
    )
    return W, b, n_iter


def fit_squared_hinge_path(X, Y, Cs, *, init=None, preconditioner=None, sample_mask=None, **kwargs):
    """:func:`fit_squared_hinge_ovr` for every ``C`` of ``Cs`` in turn, each fit warm-started.

    Each fit starts from the previous one's solution (and active fraction) and all
    share one preconditioner, so a path of nearby values (e.g. increasing ``C`` by
    factors of 2-3) costs far less than as many fits from zero. ``kwargs``:
    ``fit_intercept``, ``max_iter``, ``tol``, ``n_hessian_samples``,
    ``max_dense_features`` as in :func:`fit_squared_hinge_ovr`.

    Parameters
    ----------
    X : torch.Tensor or RowChunks of shape (n, d)
        Features.
    Y : torch.Tensor of shape (n, k)
        Targets in {-1, +1}.
    Cs : sequence of float
        The values of ``C``, in the order they are fitted.
    init : tuple (W, b), optional
        Starting point of the first fit.
    preconditioner : object, optional
        From :func:`build_preconditioner`; built here if None.
    sample_mask : torch.Tensor of shape (n,), optional
        1 for the rows to fit on, 0 for rows left out.
    **kwargs : dict
        Further options of :func:`fit_squared_hinge_ovr` (listed above).

    Returns
    -------
    list of (W, b, n_iter)
        One solution per value of ``Cs``, in the same order.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import fit_squared_hinge_path
    >>> X = torch.randn(100, 5)
    >>> Y = torch.where(X[:, :1] > 0, 1.0, -1.0)
    >>> path = fit_squared_hinge_path(X, Y, [0.01, 0.1, 1.0])
    >>> [W.shape for W, b, n_iter in path]
    [torch.Size([5, 1]), torch.Size([5, 1]), torch.Size([5, 1])]
    """
    X = _row_chunks(X)
    fit_intercept = kwargs.pop("fit_intercept", True)
    n_hessian_samples = kwargs.pop("n_hessian_samples", 10_000)
    max_dense_features = kwargs.pop("max_dense_features", 16_384)
    if preconditioner is None:
        preconditioner = build_preconditioner(
            X, fit_intercept=fit_intercept, n_hessian_samples=n_hessian_samples,
            max_dense_features=max_dense_features,
        )
    out, alpha = [], 1.0
    for C in Cs:
        W, b, n_iter, alpha = _fit(
            X, Y, float(C), fit_intercept=fit_intercept, init=init, factor=preconditioner,
            weights=sample_mask, alpha=alpha, **kwargs,
        )
        out.append((W, b, n_iter))
        init = (W, b)
    return out


def _fit(X, Y, C, *, fit_intercept, factor, max_iter=500, tol=1e-3, init=None, weights=None, alpha=1.0):
    # Returns (W, b, n_iter, last active fraction); see fit_squared_hinge_ovr.
    X = _row_chunks(X)
    n, d = X.shape
    k = Y.shape[1]
    d1 = factor.d1
    if weights is not None:
        weights = weights.to(dtype=X.dtype, device=X.device)
        n_fit = float(weights.sum())
        if n_fit <= 0:
            raise ValueError("sample_mask leaves no row to fit on.")
    else:
        n_fit = n
    # The objective is divided by C * n so that its scale does not depend on the
    # number of samples.
    scale = 1.0 / (C * n_fit)
    P = torch.zeros(d1, k, dtype=X.dtype, device=X.device)
    if init is not None:
        P[:d] = init[0]
        if fit_intercept:
            P[d] = init[1]
    zero_b = torch.zeros(k, dtype=X.dtype, device=X.device)
    # Iterations between convergence checks; a warm start checks twice as often, with
    # half the tolerance (the same rate of decrease), since it is often nearly done.
    chunk = 10 if init is None else 5
    tol = tol * chunk / 10
    n_iter, f_prev, active = 0, None, [alpha]
    converged = False
    while not converged and n_iter < max_iter:
        # (Re)start L-BFGS in the variables of the current preconditioner.
        factor.set(C, alpha, n_fit)
        V = factor.to_v(P).contiguous()

        def closure():
            P.copy_(factor.to_p(V))
            loss, grad, active[0] = _value_grad_active(
                X, Y, P[:d], P[d] if fit_intercept else zero_b, C, weights
            )
            V.grad = factor.grad_v(grad[:d1] * scale).contiguous()
            return float(loss) * scale

        optimizer = torch.optim.LBFGS(
            [V], lr=1.0, max_iter=chunk, max_eval=2 * chunk, tolerance_grad=1e-12,
            tolerance_change=1e-14, history_size=20, line_search_fn="strong_wolfe",
        )
        done = 0  # iterations of this optimizer
        while n_iter < max_iter:
            wanted = min(chunk, max_iter - n_iter)
            optimizer.param_groups[0]["max_iter"] = wanted
            f = optimizer.step(closure)  # the objective where this chunk starts
            ran = optimizer.state[V]["n_iter"] - done
            done += ran
            n_iter += ran
            P.copy_(factor.to_p(V))
            if ran < wanted or (f_prev is not None and f_prev - f <= tol * abs(f)):
                converged = True
                break
            f_prev = f
            if not alpha / 3 <= active[0] <= 3 * alpha:
                alpha = max(active[0], 1e-3)
                break
    return P[:d].clone(), (P[d].clone() if fit_intercept else zero_b), int(n_iter), alpha
