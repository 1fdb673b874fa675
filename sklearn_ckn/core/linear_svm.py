"""One-vs-rest linear SVMs with the squared hinge loss, solved by full-batch L-BFGS in torch.

For each class ``c`` with targets ``y_ic`` in {-1, +1} the objective is LinearSVC's
(``loss="squared_hinge"``, ``penalty="l2"``) with an unpenalised intercept::

    0.5 * ||w_c||^2 + C * sum_i max(0, 1 - y_ic (<w_c, x_i> + b_c))^2

The per-class problems are independent, so their sum is minimised at once: every
L-BFGS step costs two dense products ``X @ W`` and ``X.T @ G``, which run at the
machine's matmul speed on the CPU or the GPU. The loss is smooth (once
differentiable), which is what L-BFGS needs.

This module is the L-BFGS driver (:func:`fit_squared_hinge_ovr`) and the
warm-started path over ``C`` (:func:`fit_squared_hinge_path`). Its pieces live
beside it, and their public names are importable from here too:

* :mod:`.row_chunks`: :class:`RowChunks`, how every function reads ``X``: a tensor in
  memory is one chunk, and features that do not fit in memory (a ``np.memmap``, a
  zarr or dask array: see :mod:`sklearn_ckn.svm._streaming`) are a sequence of row
  chunks loaded one at a time, so memory holds the model, the preconditioner and one
  chunk, never the ``n x d`` matrix;
* :mod:`.squared_hinge`: the objective and its gradient, accumulated chunk by chunk;
* :mod:`.preconditioner`: :func:`build_preconditioner`, the Hessian estimate whose
  square root preconditions L-BFGS;
* :mod:`.row_span`: :class:`RowSpan`, the coordinates in which a problem with no more
  rows than features is solved.
"""

import torch

from .preconditioner import MAX_DENSE_FEATURES, N_HESSIAN_SAMPLES, build_preconditioner
from .row_chunks import RowChunks
from .row_span import RowSpan, spans_rows
from .squared_hinge import squared_hinge_objective, squared_hinge_value_and_grad

__all__ = [
    "RowChunks",
    "build_preconditioner",
    "fit_squared_hinge_ovr",
    "fit_squared_hinge_path",
    "squared_hinge_objective",
    "squared_hinge_value_and_grad",
]


def fit_squared_hinge_ovr(
    X, Y, C=1.0, *, fit_intercept=True, max_iter=500, tol=1e-3, n_hessian_samples=N_HESSIAN_SAMPLES,
    max_dense_features=MAX_DENSE_FEATURES, init=None, preconditioner=None, sample_mask=None,
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
    With no more rows than features (and than ``n_hessian_samples``), the fit runs on
    the rows' own coordinates instead (:class:`~sklearn_ckn.core.row_span.RowSpan`:
    an ``n x n`` Gram matrix and its eigendecomposition, then L-BFGS steps that read
    ``n x r`` numbers, not ``X``), which gives the same solution. Otherwise, above
    ``max_dense_features`` features the ``d x d`` matrices would not fit in memory;
    the Hessian is then approximated by ``n_hessian_samples`` rows' own ``m x m``
    Gram matrix, whose eigendecomposition gives a low-rank square root.

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
        it, or with no more rows than features, the low-rank preconditioner from
        ``n_hessian_samples`` rows.
    init : tuple (W, b), optional
        Starting point (warm start), e.g. the solution for a nearby ``C``.
    preconditioner : object, optional
        From :func:`build_preconditioner` on the same ``X`` and ``fit_intercept``
        (then ``n_hessian_samples`` and ``max_dense_features`` are unused, and the
        fit runs on ``X`` even when it has no more rows than features).
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
    ((W, b, n_iter),) = fit_squared_hinge_path(
        X, Y, [C], fit_intercept=fit_intercept, max_iter=max_iter, tol=tol,
        n_hessian_samples=n_hessian_samples, max_dense_features=max_dense_features, init=init,
        preconditioner=preconditioner, sample_mask=sample_mask,
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
    X, Y : torch.Tensor or RowChunks, torch.Tensor
        Features ``(n, d)`` and targets ``(n, k)``, as in :func:`fit_squared_hinge_ovr`.
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
    X = RowChunks.wrap(X)
    fit_intercept = kwargs.pop("fit_intercept", True)
    n_hessian_samples = kwargs.pop("n_hessian_samples", N_HESSIAN_SAMPLES)
    max_dense_features = kwargs.pop("max_dense_features", MAX_DENSE_FEATURES)
    span = None
    if preconditioner is None and spans_rows(*X.shape, n_hessian_samples):
        # Every fit runs on the rows' coordinates (see row_span), mapped back at the end.
        span = RowSpan(X, fit_intercept)
        features, preconditioner = span.Z, span.factor
        if init is not None:
            init = (span.coordinates(X, init[0]), init[1])
    else:
        features = X
        if preconditioner is None:
            preconditioner = build_preconditioner(
                X, fit_intercept=fit_intercept, n_hessian_samples=n_hessian_samples,
                max_dense_features=max_dense_features,
            )
    out, alpha = [], 1.0
    for C in Cs:
        W, b, n_iter, alpha = _fit(
            features, Y, float(C), fit_intercept=fit_intercept, init=init, factor=preconditioner,
            weights=sample_mask, alpha=alpha, **kwargs,
        )
        out.append((W, b, n_iter))
        init = (W, b)
    if span is not None:
        # Every solution mapped back in one pass over X (a streamed X is read once).
        k = Y.shape[1]
        weights = span.weights(X, torch.cat([W for W, _, _ in out], dim=1))
        out = [(weights[:, i * k:(i + 1) * k].contiguous(), b, n_iter)
               for i, (_, b, n_iter) in enumerate(out)]
    return out


def _fit(X, Y, C, *, fit_intercept, factor, max_iter=500, tol=1e-3, init=None, weights=None, alpha=1.0):
    # Returns (W, b, n_iter, last active fraction); see fit_squared_hinge_ovr.
    X = RowChunks.wrap(X)
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
            loss, grad, active[0] = squared_hinge_value_and_grad(
                X, Y, P[:d], P[d] if fit_intercept else zero_b, C, sample_mask=weights,
                return_active=True,
            )
            V.grad = factor.grad_v(grad[:d1] * scale).contiguous()
            return float(loss) * scale

        max_eval = 2 * chunk
        optimizer = torch.optim.LBFGS(
            [V], lr=1.0, max_iter=chunk, max_eval=max_eval, tolerance_grad=1e-12,
            tolerance_change=1e-14, history_size=20, line_search_fn="strong_wolfe",
        )
        done, evaluated = 0, 0  # iterations and evaluations of this optimizer
        while n_iter < max_iter:
            wanted = min(chunk, max_iter - n_iter)
            optimizer.param_groups[0]["max_iter"] = wanted
            f = optimizer.step(closure)  # the objective where this chunk starts
            state = optimizer.state[V]
            ran, evals = state["n_iter"] - done, state["func_evals"] - evaluated
            done, evaluated = state["n_iter"], state["func_evals"]
            n_iter += ran
            P.copy_(factor.to_p(V))
            # Fewer iterations than asked means L-BFGS met its own tolerances, unless
            # the line searches spent the chunk's evaluations (far from the optimum,
            # e.g. a poor warm start): that chunk is not convergence. Every chunk runs
            # at least one iteration, so max_iter still bounds the loop.
            stalled = ran < wanted and evals < max_eval
            if stalled or (f_prev is not None and f_prev - f <= tol * abs(f)):
                converged = True
                break
            f_prev = f
            if not alpha / 3 <= active[0] <= 3 * alpha:
                alpha = max(active[0], 1e-3)
                break
    return P[:d].clone(), (P[d].clone() if fit_intercept else zero_b), int(n_iter), alpha
