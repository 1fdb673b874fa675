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

__all__ = ["fit_squared_hinge_ovr", "squared_hinge_objective", "squared_hinge_value_and_grad"]


def squared_hinge_objective(X, Y, W, b, C):
    """Sum over classes of ``0.5 ||w_c||^2 + C sum_i max(0, 1 - Y_ic f_ic)^2``.

    ``X`` (n, d), ``Y`` (n, k) in {-1, +1}, ``W`` (d, k), ``b`` (k,).
    """
    margins = Y * (X @ W + b)
    return 0.5 * (W * W).sum() + C * torch.clamp(1 - margins, min=0).pow(2).sum()


def squared_hinge_value_and_grad(X, Y, W, b, C):
    """:func:`squared_hinge_objective` and its gradient, stacked as ``(d + 1, k)``.

    Written out rather than left to autograd so that the product with ``X`` in the
    gradient is ``(G^T X)^T``: with few classes, BLAS runs that layout faster than
    ``X^T G`` on the CPU (the row-major ``X`` is read in order), and the L-BFGS steps
    are little else.
    """
    return _value_grad_active(X, Y, W, b, C)[:2]


def _value_grad_active(X, Y, W, b, C):
    # Also returns the fraction of margins below 1: they alone carry curvature.
    with torch.no_grad():
        # r = max(0, 1 - Y f); d/df of C r^2 is -2 C Y r
        slack = torch.clamp_(torch.addmm(b, X, W).mul_(Y).neg_().add_(1), min=0)
        loss = 0.5 * (W * W).sum() + C * (slack * slack).sum()
        active = float((slack > 0).sum()) / slack.numel()
        dloss = slack.mul_(Y).mul_(-2.0 * C)
        grad = torch.empty(W.shape[0] + 1, W.shape[1], dtype=W.dtype, device=W.device)
        torch.add(torch.mm(dloss.T, X).T, W, out=grad[:-1])
        grad[-1] = dloss.sum(0)
    return loss, grad, active


def _hessian_factor(gram, n, C, active_fraction, fit_intercept):
    """Cholesky factor of ``(2 a / n) G + I_w / (C n)``, the Hessian of the scaled objective.

    ``G`` is the Gram matrix of ``[X, 1]`` (``X`` alone without intercept); ``a``
    is the fraction of (sample, class) pairs inside the margin, the only ones that
    contribute curvature. Any symmetric positive definite matrix is a valid
    preconditioner, so the factor is made to exist by growing a diagonal jitter.
    """
    d = gram.shape[0] - 1 if fit_intercept else gram.shape[0]
    H = gram * (2.0 * active_fraction / n)
    H.diagonal()[:d] += 1.0 / (C * n)
    jitter = 1e-6 * float(H.diagonal().mean())
    while True:
        L, info = torch.linalg.cholesky_ex(H)
        if int(info) == 0:
            return L
        H.diagonal().add_(jitter)
        jitter *= 10


def fit_squared_hinge_ovr(
    X, Y, C=1.0, *, fit_intercept=True, max_iter=500, tol=1e-3, n_hessian_samples=10_000
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
        Stop when ten iterations lower the objective by less than ``tol`` times its value.
    n_hessian_samples : int
        Rows, evenly spaced, that estimate the Gram matrix (at least ``d`` of them,
        at most ``n``).

    Returns
    -------
    W : torch.Tensor of shape (d, k)
    b : torch.Tensor of shape (k,)
    n_iter : int
        L-BFGS iterations run.
    """
    n, d = X.shape
    k = Y.shape[1]
    m = min(n, max(n_hessian_samples, d))
    rows = torch.arange(m, device=X.device) * n // m
    Xs = X[rows]
    d1 = d + 1 if fit_intercept else d
    gram = torch.empty(d1, d1, dtype=X.dtype, device=X.device)
    torch.mm(Xs.T, Xs, out=gram[:d, :d])
    if fit_intercept:
        gram[:d, d] = gram[d, :d] = Xs.sum(0)
        gram[d, d] = m
    gram *= n / m
    del Xs
    # The objective is divided by C * n so that its scale does not depend on the
    # number of samples.
    scale = 1.0 / (C * n)
    P = torch.zeros(d1, k, dtype=X.dtype, device=X.device)
    zero_b = torch.zeros(k, dtype=X.dtype, device=X.device)
    chunk = 10  # iterations between convergence checks
    n_iter, alpha, f_prev, active = 0, 1.0, None, [1.0]
    converged = False
    while not converged and n_iter < max_iter:
        # (Re)start L-BFGS in the variables of the current preconditioner.
        L = _hessian_factor(gram, n, C, alpha, fit_intercept)
        V = (L.T @ P).contiguous()

        def closure():
            P.copy_(torch.linalg.solve_triangular(L.T, V, upper=True))
            loss, grad, active[0] = _value_grad_active(X, Y, P[:d], P[d] if fit_intercept else zero_b, C)
            V.grad = torch.linalg.solve_triangular(L, grad[:d1] * scale, upper=False).contiguous()
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
            P.copy_(torch.linalg.solve_triangular(L.T, V, upper=True))
            if ran < wanted or (f_prev is not None and f_prev - f <= tol * abs(f)):
                converged = True
                break
            f_prev = f
            if not alpha / 3 <= active[0] <= 3 * alpha:
                alpha = max(active[0], 1e-3)
                break
    return P[:d].clone(), (P[d].clone() if fit_intercept else zero_b), int(n_iter)
