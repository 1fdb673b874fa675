"""Which scikit-learn linear classifier to put after a CKNTransformer?

Fits each classifier of :func:`sklearn_ckn.svm.make_linear_classifier` (with a few values of C) on saved
CKN features (``ckn.linear`` with ``save_features``) and records fit time and accuracy,
each run in its own process with a time limit::

    python -m benchmarks run ckn.linear --preset mnist_64_512_svc --param save_features=/tmp/mnist.npz
    python -m benchmarks run linear.features --param features=/tmp/mnist.npz
"""

import json
import os
import time

import numpy as np

from sklearn_ckn.svm import make_linear_classifier

from ..harness import Case, arg, register
from ..harness.util import run_with_timeout


def _fit_one(path, name, C, queue):
    data = np.load(path)
    clf = make_linear_classifier(name, C=C, random_state=0)
    t0 = time.perf_counter()
    clf.fit(data["F_train"], data["y_train"])
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float((clf.predict(data["F_test"]) == data["y_test"]).mean())
    queue.put({"test_accuracy": acc, "fit_seconds": t_fit,
               "predict_seconds": time.perf_counter() - t0})


def run(ctx):
    args = ctx.params
    if not args.features:
        raise ValueError("linear.features needs --param features=PATH (a ckn.linear save_features file)")
    with np.load(args.features) as data:
        shapes = {k: data[k].shape for k in ("F_train", "F_test")}
    print(f"features: train {shapes['F_train']}, test {shapes['F_test']}", flush=True)
    runs = []
    for spec in args.runs:
        name, C = spec.split(":")
        # Each run in its own process, so that a solver past the time limit is stopped.
        record = run_with_timeout(_fit_one, (args.features, name, float(C)), args.timeout,
                                  context="fork")
        record = {"classifier": name, "C": float(C), **record}
        runs.append(record)
        print(json.dumps(record), flush=True)
    return {
        "benchmark": "linear",
        "features": os.path.basename(args.features),
        "n_train": int(shapes["F_train"][0]),
        "n_test": int(shapes["F_test"][0]),
        "n_features": int(shapes["F_train"][1]),
        "timeout_seconds": args.timeout,
        "runs": runs,
    }


PARAMS = (
    arg("--features", default=None, help=".npz with F_train, y_train, F_test, y_test (needed)"),
    arg("--runs", nargs="+", default=["ridge:1.0", "logistic:1.0", "logistic:0.1", "sgd:1.0",
                                      "linearsvc-primal:0.01", "linearsvc-dual:0.01"],
        help="classifier:C pairs"),
    arg("--timeout", type=float, default=600, help="seconds allowed per run"),
)

register(Case(
    name='linear.features',
    run=run,
    params=PARAMS,
    description='scikit-learn linear classifiers on saved CKN features, each in its own process with a time limit',
    dataset='features (ckn.linear save_features)',
    model=None,
    metrics=('n_features',),
    stages=(),
    legacy_script='bench_linear.py',
))
