"""Which scikit-learn linear classifier to put after a CKNTransformer?

Fits each classifier of :func:`sklearn_ckn.svm.make_linear_classifier` (with a few values of C) on saved
CKN features (``bench_ckn.py --save-features``) and records fit time and accuracy.

    python benchmarks/bench_linear.py --features /tmp/mnist.npz \
        --out benchmarks/results/linear_mnist.json
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import write_result  # noqa: E402

from sklearn_ckn.svm import make_linear_classifier  # noqa: E402


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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True, help=".npz with F_train, y_train, F_test, y_test")
    p.add_argument(
        "--runs",
        nargs="+",
        default=["ridge:1.0", "logistic:1.0", "logistic:0.1", "sgd:1.0",
                 "linearsvc-primal:0.01", "linearsvc-dual:0.01"],
        help="classifier:C pairs",
    )
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed per run")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    with np.load(args.features) as data:
        shapes = {k: data[k].shape for k in ("F_train", "F_test")}
    print(f"features: train {shapes['F_train']}, test {shapes['F_test']}", flush=True)
    runs = []
    ctx = mp.get_context("fork")
    for run in args.runs:
        name, C = run.split(":")
        # Each run in its own process, so that a solver past the time limit is stopped.
        queue = ctx.Queue()
        proc = ctx.Process(target=_fit_one, args=(args.features, name, float(C), queue))
        t0 = time.perf_counter()
        proc.start()
        try:
            record = queue.get(timeout=args.timeout)
        except Exception:
            proc.terminate()
            record = {"timed_out_after_seconds": round(time.perf_counter() - t0, 1)}
        proc.join()
        record = {"classifier": name, "C": float(C), **record}
        runs.append(record)
        print(json.dumps(record), flush=True)
    write_result(args.out, {
        "benchmark": "linear",
        "features": os.path.basename(args.features),
        "n_train": int(shapes["F_train"][0]),
        "n_test": int(shapes["F_test"][0]),
        "n_features": int(shapes["F_train"][1]),
        "timeout_seconds": args.timeout,
        "runs": runs,
    })


if __name__ == "__main__":
    main()
