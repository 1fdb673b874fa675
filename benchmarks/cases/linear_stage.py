"""The comparisons' linear stage against liblinear and cyanure, on the same CKN features.

``make_model("ckn")`` ends with a ``StandardScaler`` and ``TorchLinearSVC(C=0.01)``
(the squared-hinge linear SVM, one-vs-rest, solved in torch). This case builds the
comparison's CKN for ``dataset`` (``sklearn-ckn compare``'s parameters, or
``make_model("ckn")``'s defaults with ``ckn_params=defaults``), saves its
standardised features once (stage ``features``, resumable), then fits, each in a
fresh process with a time limit and the same threads:

* ``ours``: ``TorchLinearSVC(C=C)``, as the comparisons run it;
* ``ours_streamed`` (not in the default ``solvers``): the same on an ``np.memmap`` of
  the training features (a ``.npy`` written once, untimed), read by row chunks as
  features larger than memory are (neither liblinear nor cyanure streams);
* ``liblinear``: scikit-learn's ``LinearSVC(C=C)`` (its defaults: squared hinge,
  the dual solver where there are fewer rows than features);
* ``cyanure``: cyanure's ``Classifier(loss="sqhinge", lambda_1=1 / (C n))``, the
  same objective divided by ``C n`` (the CKN authors' solver; optional, ``pip
  install cyanure``, not a dependency of the package).

A process's first fit pays one-time costs (ours: about 1 s to import
``torch._dynamo``, which torch does on the first ``torch.optim`` optimizer), once per
process however many fits follow (folds, a grid search). They are kept apart: each
process first fits a few rows of every class (``warmup_fit_seconds``), then the
timed fit (``fit_seconds``). It records each fit's seconds, test accuracy and
squared-hinge objective (float64,
intercepts unpenalised; liblinear penalises its intercept, so its value is not
strictly comparable), and ``ours`` over the faster of the other two::

    python -m benchmarks run linear.stage --param dataset=digits --param n_train=400

``--param ckn_params=large`` takes the features of a finished ``ckn.large`` run
instead (the reference's 512/8192 CKN on CIFAR-10: 73,728 features, written to disk
in float16 and not standardised; run with that case's default parameters, under the
same work root): ``ours_streamed`` reads the file by row chunks, the others get all
of it in memory in float32 (14.7 GB on all 50,000 images; the load is not timed).
A solver whose float64 copy of the features would not fit in memory (liblinear
converts to float64) is skipped and the record says why::

    python -m benchmarks run linear.stage --param ckn_params=large --param C=0.01 \
        --param solvers=ours_streamed,ours,cyanure --param timeout=3600
"""

import os
import time

import numpy as np

from ..harness import Case, arg, register
from ..harness.data import load_train_test
from ..harness.util import run_with_timeout
from .ckn_large import NpyRows

SOLVERS = ("ours", "liblinear", "cyanure")
#: Also offered, not run by default (the default's records keep their parameter hash).
EXTRA_SOLVERS = ("ours_streamed",)


def _features(args, data_home, path):
    """Fit the CKN, write its standardised features to ``path`` (.npz); return the
    scalars the record keeps."""
    from sklearn.preprocessing import StandardScaler

    from sklearn_ckn import make_model
    from sklearn_ckn.compare import DATASET_PARAMS

    X_train, y_train, X_test, y_test = load_train_test(args.dataset, data_home, args.n_train, args.n_test)
    ckn_params = {} if args.ckn_params == "defaults" else {
        k: v for k, v in DATASET_PARAMS.get(args.dataset, {}).get("ckn", {}).items()
        if k.startswith("ckn__")
    }
    ckn = make_model("ckn", random_state=0, **ckn_params).named_steps["ckn"]
    t0 = time.perf_counter()
    F_train = ckn.fit_transform(X_train)
    F_test = ckn.transform(X_test)
    seconds = time.perf_counter() - t0
    scaler = StandardScaler().fit(F_train)
    np.savez(path, F_train=scaler.transform(F_train).astype(np.float32),
             F_test=scaler.transform(F_test).astype(np.float32), y_train=y_train, y_test=y_test)
    return {"ckn_seconds": seconds, "ckn_params": {k: str(v) for k, v in ckn_params.items()},
            "n_train": int(F_train.shape[0]), "n_test": int(F_test.shape[0]),
            "n_features": int(F_train.shape[1])}


#: Bytes of the float64 rows that the objective converts at a time.
CHUNK_BYTES = 256 * 2**20


def _chunk_rows(d, itemsize=8):
    return max(1, CHUNK_BYTES // (itemsize * d))


def _objective(F, y, W, b, C, chunk=None):
    """``0.5 ||W||^2 + C sum of squared hinge losses`` (one-vs-rest), in float64.

    Summed over chunks of rows (never a float64 copy of ``F``: at 73,728 features
    that would not fit in memory beside ``F``); ``F`` is anything that slices by rows
    (an array, a memmap, :class:`NpyRows`).
    """
    classes = np.unique(y)
    chunk = chunk or _chunk_rows(W.shape[0])
    loss = 0.0
    for start in range(0, len(y), chunk):
        rows = slice(start, start + chunk)
        Y = np.where(y[rows, None] == classes[None, :], 1.0, -1.0)
        margins = np.maximum(0.0, 1.0 - Y * (np.asarray(F[rows], dtype=np.float64) @ W + b))
        loss += float((margins**2).sum())
    return float(0.5 * (W**2).sum() + C * loss)


def _large_run(work_root):
    """The ``ckn.large`` run's work folder (default parameters) and parameters; an
    error if its features are not all written."""
    from ..harness.case import param_hash, registry
    from .ckn_large import Stages

    case = registry()["ckn.large"]
    params, _ = case.resolve()
    folder = os.path.join(work_root, case.name, param_hash(params))
    state = Stages(folder).state
    missing = [s for s in ("transform_train", "transform_test") if not state.get(s, {}).get("complete")]
    if missing or not os.path.exists(os.path.join(folder, "labels.npz")):
        raise RuntimeError(f"{folder}: no finished ckn.large run (stages not complete: {missing}, "
                           "or no labels.npz); run python -m benchmarks run ckn.large first")
    return folder, params


def _large_features(work_root, path):
    """``--param ckn_params=large``: the ``ckn.large`` run's labels to ``path`` (.npz)
    beside the paths of its feature files; the scalars the record keeps."""
    folder, params = _large_run(work_root)
    labels = np.load(os.path.join(folder, "labels.npz"))  # in the order of the rows on disk
    y_train, y_test = labels["y_train"], labels["y_test"]
    train, test = (os.path.join(folder, f"features_{s}.npy") for s in ("train", "test"))
    np.savez(path, y_train=y_train, y_test=y_test, train=train, test=test)
    return {"dataset": params["dataset"], "ckn_seconds": None,
            "ckn_params": {"ckn.large": {k: str(v) for k, v in params.items()}},
            "features_dtype_on_disk": params["feature_dtype"],
            "n_train": int(len(y_train)), "n_test": int(len(y_test)),
            "n_features": int(NpyRows(train).shape[1])}


def _in_memory(rows):
    """All of ``rows`` (an :class:`NpyRows`) as one float32 array, read chunk by chunk."""
    out = np.empty(rows.shape, dtype=np.float32)
    chunk = _chunk_rows(rows.shape[1])
    for start in range(0, len(rows), chunk):
        out[start:start + chunk] = rows[start:start + chunk]
    return out


def _load(path, solver):
    """``(F_train, y_train, F_test, y_test)`` as ``solver`` reads them."""
    data = np.load(path)
    y_train, y_test = data["y_train"], data["y_test"]
    if "train" in data:  # ckn.large's files: float16 on disk
        train, test = NpyRows(str(data["train"])), NpyRows(str(data["test"]))
        if solver == "ours_streamed":
            return train, y_train, test, y_test
        return _in_memory(train), y_train, _in_memory(test), y_test
    F_train = data["F_train"]
    if solver == "ours_streamed":
        npy = os.path.splitext(path)[0] + "_train.npy"
        if not os.path.exists(npy):
            np.save(npy, F_train)
        F_train = np.load(npy, mmap_mode="r")  # an np.memmap: fitted by row chunks
    return F_train, y_train, data["F_test"], y_test


def _fit_one(path, solver, C, threads, queue):
    import torch
    from sklearn.base import clone

    torch.set_num_threads(threads)
    F_train, y_train, F_test, y_test = _load(path, solver)
    n = len(F_train)
    if solver in ("ours", "ours_streamed"):
        from sklearn_ckn.svm import TorchLinearSVC

        clf = TorchLinearSVC(C=C, device="cpu")
    elif solver == "liblinear":
        from sklearn.svm import LinearSVC

        clf = LinearSVC(C=C)
    else:
        from cyanure.estimators import Classifier

        clf = Classifier(loss="sqhinge", penalty="l2", lambda_1=1.0 / (C * n), multi_class="ovr",
                         n_threads=threads, verbose=False)
    # One-time costs of a process's first fit (see the module docstring), apart.
    t0 = time.perf_counter()
    few = np.concatenate([np.flatnonzero(y_train == c)[:5] for c in np.unique(y_train)])
    clone(clf).fit(np.asarray(F_train[few]), y_train[few])
    warmup = time.perf_counter() - t0
    t0 = time.perf_counter()
    clf.fit(F_train, y_train)
    seconds = time.perf_counter() - t0
    W = np.asarray(clf.coef_, dtype=np.float64)
    W = W if solver == "cyanure" else W.T  # cyanure's coef_ is (d, n_classes)
    b = np.asarray(clf.intercept_, dtype=np.float64).ravel()
    queue.put({
        "fit_seconds": seconds,
        "warmup_fit_seconds": warmup,
        "test_accuracy": float((clf.predict(F_test) == y_test).mean()),
        "n_iter": int(np.max(getattr(clf, "n_iter_", -1))),
        "objective": _objective(F_train, y_train, W, b, C),
    })


def _memory_bytes():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def run(ctx):
    args = ctx.params
    path = os.path.join(ctx.work_dir, "features.npz")
    if args.ckn_params == "large":
        work_root = os.path.dirname(os.path.dirname(ctx.work_dir))
        info = ctx.stage("features", lambda: _large_features(work_root, path))
    else:
        # The stage writes the features beside its pickle and keeps only their scalars.
        info = ctx.stage("features", lambda: _features(args, ctx.data_home, path))
    dataset = info.get("dataset", args.dataset)
    print(f"{dataset}: {info['n_train']} training, {info['n_test']} test images, "
          f"{info['n_features']} features", flush=True)
    runs = []
    float64_bytes, memory_bytes = 8 * info["n_train"] * info["n_features"], _memory_bytes()
    for solver in args.solvers:
        if solver == "cyanure":
            try:
                import cyanure  # noqa: F401
            except ImportError:
                print("cyanure is not installed: skipped", flush=True)
                continue
        if solver == "liblinear" and float64_bytes > memory_bytes:
            runs.append({"solver": solver, "skipped": f"its float64 copy of the features "
                         f"({float64_bytes / 2**30:.1f} GiB) exceeds memory "
                         f"({memory_bytes / 2**30:.1f} GiB)"})
            print(runs[-1], flush=True)
            continue
        record = run_with_timeout(_fit_one, (path, solver, args.C, args.threads), args.timeout)
        runs.append({"solver": solver, **record})
        print(runs[-1], flush=True)
    times = {r["solver"]: r["fit_seconds"] for r in runs if "fit_seconds" in r}
    others = [times[s] for s in ("liblinear", "cyanure") if s in times]
    ratios = {f"{s}_over_fastest_other": times[s] / min(others)
              for s in ("ours", "ours_streamed") if s in times and others}
    return {
        "benchmark": "linear_stage", "dataset": dataset, "C": args.C, "threads": args.threads,
        **info, "runs": runs, "ours_over_fastest_other": None, **ratios,
    }


PARAMS = (
    arg("--dataset", default="digits", help="a data set of the comparisons (its CKN parameters)"),
    arg("--n-train", type=int, default=None, help="first n training images (default: all)"),
    arg("--n-test", type=int, default=None, help="first n test images (default: all)"),
    arg("--ckn-params", choices=["compare", "defaults", "large"], default="compare",
        help="the CKN of sklearn-ckn compare for this data set, make_model('ckn')'s defaults, "
             "or the features of a finished ckn.large run (then --dataset, --n-train and "
             "--n-test are unused)"),
    arg("--C", type=float, default=0.01, help="the linear SVM's C (make_model('ckn'): 0.01)"),
    arg("--solvers", nargs="+", choices=SOLVERS + EXTRA_SOLVERS, default=list(SOLVERS)),
    arg("--threads", type=int, default=2, help="torch threads of ours, cyanure's n_threads"),
    arg("--timeout", type=float, default=600, hashed=False, help="seconds allowed per fit"),
)

register(Case(
    name="linear.stage",
    run=run,
    params=PARAMS,
    description="The comparisons' linear stage (TorchLinearSVC) against liblinear and cyanure on the same CKN features",
    dataset="param:dataset",
    model="ckn",
    metrics=("n_train", "n_features", "ours_over_fastest_other"),
    stages=("features",),
))
