"""The one-vs-rest squared hinge objective of a linear SVM and its gradient.

For each class ``c`` with targets ``y_ic`` in {-1, +1} the objective is LinearSVC's
(``loss="squared_hinge"``, ``penalty="l2"``) with an unpenalised intercept::

    0.5 * ||w_c||^2 + C * sum_i max(0, 1 - y_ic (<w_c, x_i> + b_c))^2

summed over the classes. ``X`` may be a tensor or :class:`~.row_chunks.RowChunks`:
both are sums over rows, accumulated one chunk at a time.
"""

import torch

from .row_chunks import RowChunks

__all__ = ["squared_hinge_objective", "squared_hinge_value_and_grad"]


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
    >>> from sklearn_ckn.core.squared_hinge import squared_hinge_objective
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


def squared_hinge_value_and_grad(X, Y, W, b, C, *, sample_mask=None, return_active=False):
    """:func:`squared_hinge_objective` and its gradient, stacked as ``(d + 1, k)``.

    Written out rather than left to autograd so that the product with ``X`` in the
    gradient is ``(G^T X)^T``: with few classes, BLAS runs that layout faster than
    ``X^T G`` on the CPU (the row-major ``X`` is read in order), and the L-BFGS steps
    are little else. One pass over ``X``'s chunks, without autograd.

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
    sample_mask : torch.Tensor of shape (n,), default=None
        1 for the rows in the loss, 0 for rows left out (a cross-validation fold
        without copying ``X``).
    return_active : bool, default=False
        Also return the fraction of (row, class) pairs inside the margin, the only
        ones that carry curvature (the preconditioner's weight).

    Returns
    -------
    objective : torch.Tensor of shape ()
        The objective.
    grad : torch.Tensor of shape (d + 1, k)
        Its gradient with respect to ``W`` (first ``d`` rows) and ``b`` (last row).
    active : float
        Only with ``return_active``: the fraction of margins below 1.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.squared_hinge import squared_hinge_value_and_grad
    >>> X, Y = torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [-1.0]])
    >>> value, grad = squared_hinge_value_and_grad(X, Y, torch.zeros(1, 1), torch.zeros(1), 1.0)
    >>> value, grad.ravel()
    (tensor(2.), tensor([-4.,  0.]))
    """
    X = RowChunks.wrap(X)
    hinge, n_active, GT = 0.0, 0, None
    db = torch.zeros(W.shape[1], dtype=W.dtype, device=W.device)
    with torch.no_grad():
        for start, stop, Xc in X:
            # r = max(0, 1 - Y f); d/df of C r^2 is -2 C Y r
            Yc = Y[start:stop]
            slack = torch.clamp_(torch.addmm(b, Xc, W).mul_(Yc).neg_().add_(1), min=0)
            if sample_mask is not None:
                slack.mul_(sample_mask[start:stop, None])
            hinge = hinge + (slack * slack).sum()
            n_active += int((slack > 0).sum())
            dloss = slack.mul_(Yc).mul_(-2.0 * C)
            # (G^T X)^T rather than X^T G: see above
            GT = torch.mm(dloss.T, Xc) if GT is None else GT.addmm_(dloss.T, Xc)
            db += dloss.sum(0)
        loss = 0.5 * (W * W).sum() + C * hinge
        n, k = X.shape[0], W.shape[1]
        n_rows = n if sample_mask is None else max(float(sample_mask.sum()), 1.0)
        grad = torch.empty(W.shape[0] + 1, k, dtype=W.dtype, device=W.device)
        torch.add(GT.T, W, out=grad[:-1])
        grad[-1] = db
    if return_active:
        return loss, grad, n_active / (n_rows * k)
    return loss, grad
