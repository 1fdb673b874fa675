"""Plain against preconditioned L-BFGS for TorchLinearSVC's objective, on saved CKN features.

All minimise the same squared-hinge objective (one-vs-rest, after a StandardScaler).
``plain`` is L-BFGS on the raw weights, as TorchLinearSVC did before it was
preconditioned; ``preconditioned`` is TorchLinearSVC's solver with its default choice
(a dense ``d x d`` Gram matrix up to 16,384 features, low rank above); ``low-rank``
forces the low-rank preconditioner from ``hessian_samples`` rows. Records objective,
iterations, time, peak memory of the process so far and test accuracy.

    python -m benchmarks run svm.solver --param features=/tmp/mnist_64_512.npz --param C=0.01

With ``select_C=GRID`` it instead compares two ways of choosing ``C`` by
``folds``-fold cross-validation (a single stratified 20% hold-out for 1), both
ending with the refit on all training rows: one ``TorchLinearSVC`` fit per fold and
value from zero (what ``ckn.linear`` with ``C_grid`` does), and ``TorchLinearSVCCV`` (warm-
started path, one shared preconditioner, folds by row masks).
"""

import os
import resource
import time

import numpy as np
import torch
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from sklearn_ckn.core.linear_svm import fit_squared_hinge_ovr, squared_hinge_value_and_grad
from sklearn_ckn.svm import TorchLinearSVC, TorchLinearSVCCV

from ..harness import Case, arg, register
from ..harness.data import validation_splits
from ..harness.util import standardize_inplace


def plain_lbfgs(X, Y, C, max_iter):
    """L-BFGS on ``[W; b]`` directly, the objective scaled by ``1 / (C n)``."""
    scale = 1.0 / (C * X.shape[0])
    params = torch.zeros(X.shape[1] + 1, Y.shape[1], dtype=X.dtype)

    def closure():
        loss, grad = squared_hinge_value_and_grad(X, Y, params[:-1], params[-1], C)
        params.grad = grad.mul_(scale)
        return float(loss) * scale

    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=max_iter, max_eval=2 * max_iter, tolerance_grad=0,
                            tolerance_change=0, history_size=20, line_search_fn="strong_wolfe")
    opt.step(closure)
    return params[:-1], params[-1], opt.state[params]["n_iter"]


def select_C(F_train, y_train, F_test, y_test, grid, folds, tol, seed=0):
    """Cold fits per fold and C, then the refit, against TorchLinearSVCCV on the same splits."""
    splits = validation_splits(y_train, folds, seed)
    runs = []
    t0 = time.perf_counter()
    scores, n_iter = np.empty((len(splits), len(grid))), 0
    for i, (tr, va) in enumerate(splits):
        X_tr = F_train[tr]  # a copy per fold, as bench_ckn's validation does
        for j, C in enumerate(grid):
            clf = TorchLinearSVC(C=C, tol=tol, device="cpu").fit(X_tr, y_train[tr])
            scores[i, j] = clf.score(F_train[va], y_train[va])
            n_iter += clf.n_iter_
        del X_tr
    best = grid[int(np.argmax(scores.mean(0)))]
    final = TorchLinearSVC(C=best, tol=tol, device="cpu").fit(F_train, y_train)
    runs.append({
        "method": "cold fit per fold and C", "seconds": time.perf_counter() - t0, "C": best,
        "mean_validation_scores": scores.mean(0).tolist(), "lbfgs_iterations_selection": int(n_iter),
        "lbfgs_iterations_refit": int(final.n_iter_), "test_accuracy": float(final.score(F_test, y_test)),
    })
    print(runs[-1], flush=True)
    t0 = time.perf_counter()
    cv = TorchLinearSVCCV(Cs=grid, cv=splits, tol=tol, device="cpu").fit(F_train, y_train)
    runs.append({
        "method": "TorchLinearSVCCV (warm-started path)", "seconds": time.perf_counter() - t0, "C": cv.C_,
        "mean_validation_scores": cv.mean_scores_.tolist(),
        "lbfgs_iterations_selection": int(cv.n_iter_path_.sum()),
        "lbfgs_iterations_refit": int(cv.n_iter_), "test_accuracy": float(cv.score(F_test, y_test)),
    })
    print(runs[-1], flush=True)
    return runs


def run(ctx):
    args = ctx.params
    if not args.features:
        raise ValueError("svm.solver needs --param features=PATH (a ckn.linear save_features file)")
    data = np.load(args.features)
    F_train = np.ascontiguousarray(data["F_train"], dtype=np.float32)
    F_test = np.ascontiguousarray(data["F_test"], dtype=np.float32)
    standardize_inplace(StandardScaler(), F_train, F_test)
    if args.select_C:
        grid = sorted(float(v) for v in args.select_C.split(","))
        runs = select_C(F_train, data["y_train"], F_test, data["y_test"], grid, args.folds, args.tol)
        return {"benchmark": "C_selection", "features": os.path.basename(args.features),
                "n_train": len(F_train), "n_features": int(F_train.shape[1]), "grid": grid,
                "folds": args.folds, "tol": args.tol, "runs": runs,
                "speedup": runs[0]["seconds"] / runs[1]["seconds"]}
    X, X_test = torch.from_numpy(F_train), torch.from_numpy(F_test)
    Y = torch.as_tensor(LabelBinarizer(neg_label=-1).fit_transform(data["y_train"]).astype(np.float32))
    runs = []
    for name in args.solvers:
        t0 = time.perf_counter()
        if name == "plain":
            W, b, n_iter = plain_lbfgs(X, Y, args.C, args.plain_iters)
        else:
            W, b, n_iter = fit_squared_hinge_ovr(
                X, Y, C=args.C, tol=args.tol, n_hessian_samples=args.hessian_samples,
                **({"max_dense_features": 0} if name == "low-rank" else {}),
            )
        seconds = time.perf_counter() - t0
        loss, _ = squared_hinge_value_and_grad(X, Y, W, b, args.C)
        acc = float(((X_test @ W + b).argmax(1).numpy() == data["y_test"]).mean())
        runs.append({"solver": name, "n_iter": int(n_iter), "seconds": seconds, "test_accuracy": acc,
                     "objective_over_C_n": float(loss) / (args.C * len(X)),
                     "peak_rss_gb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20})
        print(runs[-1], flush=True)
    return {"benchmark": "svm_solver", "features": os.path.basename(args.features),
            "n_train": int(X.shape[0]), "n_features": int(X.shape[1]), "C": args.C,
            "tol": args.tol, "hessian_samples": args.hessian_samples, "runs": runs}


PARAMS = (
    arg("--features", default=None, help=".npz with F_train, y_train, F_test, y_test (needed)"),
    arg("--C", type=float, default=0.01),
    arg("--plain-iters", type=int, default=400),
    arg("--tol", type=float, default=1e-3),
    arg("--solvers", nargs="+", choices=["plain", "preconditioned", "low-rank"],
        default=["plain", "preconditioned"]),
    arg("--hessian-samples", type=int, default=10_000, help="rows of the preconditioners"),
    arg("--select-C", default=None, help="comma-separated C values: compare ways of choosing C"),
    arg("--folds", type=int, default=3, help="with --select-C (1: a 20% hold-out)"),
)

register(Case(
    name='svm.solver',
    run=run,
    params=PARAMS,
    description='TorchLinearSVC: plain against preconditioned L-BFGS on saved CKN features (or ways of choosing C, select_C)',
    dataset='features (ckn.linear save_features)',
    model=None,
    metrics=('n_features', 'speedup'),
    stages=(),
    legacy_script='bench_svm_solver.py',
))
