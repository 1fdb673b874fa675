"""One-vs-rest linear SVMs with the squared hinge loss, solved by full-batch L-BFGS in torch.

For each class ``c`` with targets ``y_ic`` in {-1, +1} the objective is LinearSVC's
(``loss="squared_hinge"``, ``penalty="l2"``) with an unpenalised intercept::

    0.5 * ||w_c||^2 + C * sum_i max(0, 1 - y_ic (<w_c, x_i> + b_c))^2

The per-class problems are independent, so their sum is minimised at once: every
L-BFGS step costs two dense products ``X @ W`` and ``X.T @ G``, which run at the
machine's matmul speed on the CPU or the GPU. The loss is smooth (once
differentiable), which is what L-BFGS needs.
"""

import torch

__all__ = ["fit_squared_hinge_ovr", "squared_hinge_objective"]


def squared_hinge_objective(X, Y, W, b, C):
    """Sum over classes of ``0.5 ||w_c||^2 + C sum_i max(0, 1 - Y_ic f_ic)^2``.

    ``X`` (n, d), ``Y`` (n, k) in {-1, +1}, ``W`` (d, k), ``b`` (k,).
    """
    margins = Y * (X @ W + b)
    return 0.5 * (W * W).sum() + C * torch.clamp(1 - margins, min=0).pow(2).sum()


def fit_squared_hinge_ovr(X, Y, C=1.0, *, fit_intercept=True, max_iter=500, tol=1e-5):
    """Minimise :func:`squared_hinge_objective` over ``W`` and ``b``.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
        Features (float32 or float64; the result has the same dtype and device).
    Y : torch.Tensor of shape (n, k)
        Targets in {-1, +1}, one column per one-vs-rest problem.
    C : float
        Weight of the loss against the L2 penalty (LinearSVC's ``C``).
    fit_intercept : bool
        Learn an unpenalised intercept per class.
    max_iter : int
        Maximum number of L-BFGS iterations.
    tol : float
        Stop when the largest gradient entry of the objective divided by ``C * n``
        (the scale of the loss) falls below ``tol``.

    Returns
    -------
    W : torch.Tensor of shape (d, k)
    b : torch.Tensor of shape (k,)
    n_iter : int
        L-BFGS iterations run.
    """
    n, d = X.shape
    k = Y.shape[1]
    params = torch.zeros(d + 1, k, dtype=X.dtype, device=X.device, requires_grad=True)
    # The objective is divided by C * n so that its scale, and so the meaning of
    # ``tol``, does not depend on the number of samples.
    scale = 1.0 / (C * n)

    def closure():
        optimizer.zero_grad()
        W = params[:-1]
        b = params[-1] if fit_intercept else params[-1].detach() * 0
        loss = squared_hinge_objective(X, Y, W, b, C) * scale
        loss.backward()
        return loss

    optimizer = torch.optim.LBFGS(
        [params],
        lr=1.0,
        max_iter=max_iter,
        max_eval=2 * max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    with torch.enable_grad():
        optimizer.step(closure)
    n_iter = optimizer.state[params].get("n_iter", 0)
    params = params.detach()
    b = params[-1] if fit_intercept else torch.zeros_like(params[-1])
    return params[:-1].clone(), b.clone(), int(n_iter)
