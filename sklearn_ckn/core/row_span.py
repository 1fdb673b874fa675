"""Wide linear problems solved in the span of their rows.

The weights of an L2-penalised linear model lie in the span of its training rows
(the representer theorem). With no more rows than features (2,678 Fruits-360 images
of 43,264 CKN features, or 400 digits of 8,192) the whole fit can therefore run on
at most ``n`` coordinates. With ``K = X X^T = U diag(s) U^T``, the columns of
``Q = X^T U diag(s)^(-1/2)`` are an orthonormal basis of that span, ``X Q = U
diag(s)^(1/2)`` and ``||Q z|| = ||z||``: the squared hinge problem on ``X`` is the
same problem on the features ``Z = U diag(s)^(1/2)`` (``n x r``, ``r <= n``).

Every L-BFGS step on ``X`` reads all of it (``n d`` numbers, from memory or disk,
twice per evaluation); on ``Z`` it reads ``n r`` numbers. One ``n^2 d`` product and an
``n x n`` eigendecomposition, the costliest steps of the low-rank preconditioner
already, buy iterations that no longer scan ``X``. The preconditioner of the reduced
problem is exact and cheap: ``Z^T Z = diag(s)``.
"""

import torch

from ._docstrings import fill_doc
from .linalg import eigh
from .preconditioner import _check_finite_gram, _DenseFactor, _largest
from .row_chunks import RowChunks

__all__ = ["RowSpan", "spans_rows"]

_SPAN_X = """\
X : torch.Tensor or RowChunks of shape (n, d)
    The features the span was built on.
"""


def spans_rows(n, d, n_hessian_samples):
    """Whether a fit of ``n x d`` features runs in the rows' span (:class:`RowSpan`).

    When there are no more rows than features, and no more than the rows that the
    preconditioner would sample (it would then hold all of them as well).

    Parameters
    ----------
    n, d : int
        Rows and features.
    n_hessian_samples : int
        The solver's ``n_hessian_samples``.

    Returns
    -------
    spans : bool
        True when the fit is solved on the rows' coordinates.

    Examples
    --------
    >>> from sklearn_ckn.core.row_span import spans_rows
    >>> spans_rows(2678, 43264, 10_000), spans_rows(50_000, 2304, 10_000)
    (True, False)
    """
    return 0 < n <= min(d, n_hessian_samples)


def _relative_floor(n, dtype):
    # Eigenvalues below this fraction of the largest are taken for rounding. n * eps
    # kept 332 of the 2,678 directions of Fruits-360's float32 features, and a fit at
    # tol=1e-4 then stopped 1.6% above the float64 optimum; sqrt(n) * eps gets within
    # 0.1% (hand traces, not records).
    return n**0.5 * torch.finfo(dtype).eps


class RowSpan:
    """An orthonormal basis of the span of ``X``'s rows, and ``X`` in it.

    Parameters
    ----------
    X : torch.Tensor or RowChunks of shape (n, d)
        Features (a :class:`RowChunks` is gathered into memory, as the low-rank
        preconditioner gathers its sampled rows).
    fit_intercept : bool, default=True
        Whether the fits in the span learn intercepts (the preconditioner's).

    Attributes
    ----------
    Z : torch.Tensor of shape (n, r)
        ``X`` in the basis: ``U diag(s)^(1/2)``, for the ``r`` eigenvalues above
        ``sqrt(n)`` times the dtype's resolution of the largest (the others are
        rounding).
    factor : object
        The preconditioner of fits on ``Z`` (its Hessian estimate is exact).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.row_span import RowSpan
    >>> X = torch.randn(5, 40, dtype=torch.float64)
    >>> span = RowSpan(X)
    >>> span.Z.shape
    torch.Size([5, 5])
    >>> W = torch.randn(40, 2, dtype=torch.float64)
    >>> torch.allclose(span.Z @ span.coordinates(X, W), X @ W)  # the margins are kept
    True
    """

    def __init__(self, X, fit_intercept=True):
        X = RowChunks.wrap(X)
        n, d = X.shape
        if len(X) == 1:
            rows = X.chunk(0)
        else:
            rows = torch.empty(n, d, dtype=X.dtype, device=X.device)
            for lo, hi, block in X.sampled(torch.arange(n, device=X.device)):
                rows[lo:hi] = block
        gram = rows @ rows.T
        _check_finite_gram(gram, _largest(rows, 0.0), X.dtype)
        del rows
        s, U = eigh(gram)
        del gram
        floor = float(s[-1]) * _relative_floor(n, X.dtype)
        keep = s > floor
        s, U = s[keep], U[:, keep]
        root = s.sqrt()
        self.Z = U * root
        self._back = U / root  # Q = X^T _back
        # [Z, 1]^T [Z, 1]: diag(s), with the intercept's row and column.
        r = len(s)
        d1 = r + 1 if fit_intercept else r
        gram = torch.zeros(d1, d1, dtype=X.dtype, device=X.device)
        gram.diagonal()[:r] = s
        if fit_intercept:
            gram[:r, r] = gram[r, :r] = self.Z.sum(0)
            gram[r, r] = n
        self.factor = _DenseFactor.from_gram(gram, n=n, d=r)

    @fill_doc(X=_SPAN_X)
    def coordinates(self, X, W):
        """``z = Q^T W``: the coordinates of ``W``'s projection on the span.

        Parameters
        ----------
        {X}
        W : torch.Tensor of shape (d, k)
            Weights.

        Returns
        -------
        z : torch.Tensor of shape (r, k)
            Coordinates in the basis (``Z z = X W``).
        """
        X = RowChunks.wrap(X)
        z = torch.zeros(self.Z.shape[1], W.shape[1], dtype=W.dtype, device=W.device)
        for lo, hi, rows in X:
            z.addmm_(self._back[lo:hi].T, rows @ W)
        return z

    @fill_doc(X=_SPAN_X)
    def weights(self, X, z):
        """``W = Q z``: the weights of coordinates ``z``.

        Parameters
        ----------
        {X}
        z : torch.Tensor of shape (r, k)
            Coordinates.

        Returns
        -------
        W : torch.Tensor of shape (d, k)
            Weights in the span of ``X``'s rows.
        """
        X = RowChunks.wrap(X)
        A = self._back @ z  # W = X^T A
        W = torch.zeros(X.shape[1], z.shape[1], dtype=z.dtype, device=z.device)
        for lo, hi, rows in X:
            W.addmm_(rows.T, A[lo:hi])
        return W
