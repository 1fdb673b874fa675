"""Plain against preconditioned L-BFGS for TorchLinearSVC's objective, on saved CKN features.

Both minimise the same squared-hinge objective (one-vs-rest, after a StandardScaler);
the plain run is L-BFGS on the raw weights, as TorchLinearSVC did before it was
preconditioned. Records objective, iterations, time and test accuracy.

    python benchmarks/bench_svm_solver.py --features /tmp/mnist_64_512.npz --C 0.01 \\
        --out benchmarks/results/svm_solver_mnist_64_512.json
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from sklearn.preprocessing import LabelBinarizer, StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import write_result  # noqa: E402

from sklearn_ckn.core.linear_svm import fit_squared_hinge_ovr, squared_hinge_value_and_grad  # noqa: E402


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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True, help=".npz with F_train, y_train, F_test, y_test")
    p.add_argument("--C", type=float, default=0.01)
    p.add_argument("--plain-iters", type=int, default=400)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    data = np.load(args.features)
    scaler = StandardScaler().fit(data["F_train"])
    X = torch.as_tensor(scaler.transform(data["F_train"]).astype(np.float32))
    X_test = torch.as_tensor(scaler.transform(data["F_test"]).astype(np.float32))
    Y = torch.as_tensor(LabelBinarizer(neg_label=-1).fit_transform(data["y_train"]).astype(np.float32))
    runs = []
    for name in ("plain", "preconditioned"):
        t0 = time.perf_counter()
        if name == "plain":
            W, b, n_iter = plain_lbfgs(X, Y, args.C, args.plain_iters)
        else:
            W, b, n_iter = fit_squared_hinge_ovr(X, Y, C=args.C, tol=args.tol)
        seconds = time.perf_counter() - t0
        loss, _ = squared_hinge_value_and_grad(X, Y, W, b, args.C)
        acc = float(((X_test @ W + b).argmax(1).numpy() == data["y_test"]).mean())
        runs.append({"solver": name, "n_iter": int(n_iter), "seconds": seconds, "test_accuracy": acc,
                     "objective_over_C_n": float(loss) / (args.C * len(X))})
        print(runs[-1], flush=True)
    write_result(args.out, {"benchmark": "svm_solver", "features": os.path.basename(args.features),
                            "n_train": int(X.shape[0]), "n_features": int(X.shape[1]), "C": args.C,
                            "tol": args.tol, "runs": runs})


if __name__ == "__main__":
    main()
