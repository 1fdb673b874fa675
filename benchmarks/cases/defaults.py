"""Out-of-the-box accuracy: ``Pipeline([CKNTransformer(), LinearSVC()])`` with every default.

Replaces ``benchmarks/bench_defaults.py`` (results in ``results/defaults/``, indexed).
No scaler, no tuned C: the CKN's own defaults (``subsamplings="auto"``,
``normalize="l2-standard"``) and scikit-learn's classifiers at their defaults. Only
``random_state=0`` is set, for repeatability. Cases:

* ``defaults.digits``: scikit-learn's 8x8 digits, 3-fold ``cross_val_score`` of the CKN
  with ``LinearSVC()`` and with ``LogisticRegression()``, beside ``SVC()`` on the pixels;
* ``defaults.holdout``: a data set with official train and test sets (``dataset``), the
  first ``n`` (10,000) images of each, CKN + ``LinearSVC()`` beside
  ``make_model("kernel_svm")`` (unless ``no_baseline``);
* ``defaults.kernel_svm``: that baseline alone;
* ``defaults.variants``: the same holdout with one ``CKNTransformer`` parameter changed
  at a time from its default (pooling, patch sizes, whitening, filters, depth,
  bandwidth, normalisation, power), and ``LinearSVC(C)`` around its default on the
  default features: is any single change worth a new default? Each variant is a stage
  (resumable); ``variants`` (not hashed) runs a subset;
* ``defaults.threads``: the same CKN transform with 1 and 2 torch threads, with and
  without ``OMP_WAIT_POLICY=PASSIVE`` (each in a fresh process), as ratios to the
  1-thread time measured in that process.

``ckn_param=NAME=VALUE`` (repeatable; ``digits`` and ``holdout``) changes one
``CKNTransformer`` parameter, routed to the pipeline's ``ckn`` step
(``set_params(ckn__NAME=VALUE)``). Run from the project root (one case at a time)::

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run defaults.digits
    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run defaults.holdout --param dataset=mnist \\
        --data-home ../shared/datasets
    python -m benchmarks run defaults.digits --param ckn_param=power=0.5
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import warnings

from sklearn_ckn.datasets import DATASETS

from ..harness import Case, arg, register
from ..harness.data import load_train_test

OFFICIAL = [name for name, info in DATASETS.items() if info.subsets]


def _counting_warnings():
    rec = warnings.catch_warnings(record=True)
    caught = rec.__enter__()
    warnings.simplefilter("always")
    return rec, caught


def _warning_summary(caught):
    names = [type(w.message).__name__ if isinstance(w.message, Warning) else str(w.category)
             for w in caught]
    return {n: names.count(n) for n in sorted(set(names))}


def _ckn_pipeline(final, ckn_params=()):
    """``Pipeline([("ckn", CKNTransformer(random_state=0)), ("clf", final)])`` with the
    ``ckn_params`` pairs routed to the CKN step (``set_params(ckn__<name>=value)``)."""
    from sklearn.pipeline import Pipeline

    from sklearn_ckn import CKNTransformer

    model = Pipeline([("ckn", CKNTransformer(random_state=0)), ("clf", final)])
    return model.set_params(**{f"ckn__{name}": value for name, value in ckn_params})


def _parse_ckn_param(text):
    """``NAME=VALUE`` (VALUE a Python literal) -> (name, value), for ``--ckn-param``."""
    import ast

    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python literal") from None


def run_digits(ctx):
    args = ctx.params
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC, LinearSVC

    X, y = load_digits(return_X_y=True)
    result = {"protocol": "load_digits(return_X_y=True) (1797 8x8 images, values 0-16), "
                          "cross_val_score(model, X, y, cv=3)"}
    models = {
        "ckn_linearsvc": _ckn_pipeline(LinearSVC(), args.ckn_params),
        "ckn_logistic_regression": _ckn_pipeline(LogisticRegression(), args.ckn_params),
        "svc_pixels": SVC(),
    }
    for name, model in models.items():
        rec, caught = _counting_warnings()
        t = time.perf_counter()
        scores = cross_val_score(model, X, y, cv=3)
        seconds = time.perf_counter() - t
        rec.__exit__(None, None, None)
        result[name] = {"model": repr(model), "cv_scores": scores.tolist(),
                        "cv_mean": float(scores.mean()), "seconds": seconds,
                        "warnings": _warning_summary(caught)}
        print(f"digits {name}: {scores.mean():.4f} {scores.round(4).tolist()} ({seconds:.0f} s)",
              flush=True)
    return result


def _kernel_svm(Xtr, ytr, Xte, yte):
    """make_model("kernel_svm") fitted and scored."""
    from sklearn_ckn import make_model

    svm = make_model("kernel_svm", random_state=0)
    t = time.perf_counter()
    svm.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    acc = svm.score(Xte, yte)
    pred_s = time.perf_counter() - t
    out = {"model": repr(svm), "accuracy": float(acc), "fit_seconds": fit_s,
           "predict_seconds": pred_s, "n_train": int(len(ytr)), "n_test": int(len(yte))}
    print(f"  make_model('kernel_svm'): {acc:.4f} (fit {fit_s:.0f} s, predict {pred_s:.0f} s)",
          flush=True)
    return out


def _official_holdout(ctx, name, n):
    """The first ``n`` images of the official train and test sets of ``name`` (all of
    them when there are fewer), at the files' size, and the protocol's description."""
    Xtr, ytr, Xte, yte = load_train_test(name, ctx.data_home)
    n_train, n_test = len(ytr), len(yte)
    Xtr, ytr, Xte, yte = Xtr[:n], ytr[:n], Xte[:n], yte[:n]
    print(f"{name} {len(ytr)}/{len(yte)} at {Xtr.shape[1:]}", flush=True)
    protocol = (f"first {len(ytr)} of {n_train} training / first {len(yte)} of "
                f"{n_test} test images, {Xtr.shape[1:]} (uint8)")
    return (Xtr, ytr, Xte, yte), protocol


def run_holdout(ctx):
    """The default CKN + ``LinearSVC()`` on a holdout, beside ``make_model("kernel_svm")``
    (unless ``no_baseline``: then the baseline is case ``defaults.kernel_svm``)."""
    from sklearn.svm import LinearSVC

    args = ctx.params
    (Xtr, ytr, Xte, yte), protocol = _official_holdout(ctx, args.dataset, args.n)
    out = {"protocol": protocol, "n_train": int(len(ytr)), "n_test": int(len(yte)),
           "image_shape": list(Xtr.shape[1:])}
    if not args.no_baseline:
        out["kernel_svm"] = ctx.stage("kernel_svm", lambda: _kernel_svm(Xtr, ytr, Xte, yte))
    else:
        out["kernel_svm_result_case"] = "defaults.kernel_svm"
    model = _ckn_pipeline(LinearSVC(), args.ckn_params)
    rec, caught = _counting_warnings()
    t = time.perf_counter()
    model.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    acc = model.score(Xte, yte)
    pred_s = time.perf_counter() - t
    rec.__exit__(None, None, None)
    ckn = model.named_steps["ckn"]
    out["ckn_linearsvc"] = {
        "model": repr(model), "accuracy": float(acc), "fit_seconds": fit_s,
        "predict_seconds": pred_s, "ckn_fit_seconds": ckn.fit_time_,
        "subsamplings_": list(ckn.subsamplings_), "output_shape_": list(ckn.output_shape_),
        "n_features_out_": ckn.n_features_out_, "warnings": _warning_summary(caught),
    }
    print(f"  ckn + LinearSVC(): {acc:.4f} (fit {fit_s:.0f} s, predict {pred_s:.0f} s, "
          f"features {ckn.output_shape_})", flush=True)
    return out


def run_kernel_svm(ctx):
    """``make_model("kernel_svm")`` alone on the same holdout."""
    (Xtr, ytr, Xte, yte), _ = _official_holdout(ctx, ctx.params.dataset, ctx.params.n)
    return _kernel_svm(Xtr, ytr, Xte, yte)


#: ``<data set>_variants``: name -> (CKNTransformer parameters changed from the
#: defaults, C values of LinearSVC tried on those features).
VARIANTS = {
    "defaults": ({}, (0.3, 1.0, 3.0)),
    "subsamplings=(2, 3)": ({"subsamplings": (2, 3)}, (1.0,)),
    "patch_sizes=(5, 3)": ({"patch_sizes": (5, 3)}, (1.0,)),
    "whitening=True": ({"whitening": True}, (1.0,)),
    "n_filters=(128, 512)": ({"n_filters": (128, 512)}, (1.0,)),
    "n_filters=(64, 256, 256)": ({"n_filters": (64, 256, 256)}, (1.0,)),
    "sigmas=0.5": ({"sigmas": 0.5}, (1.0,)),
    "sigmas=0.75": ({"sigmas": 0.75}, (1.0,)),
    "normalize='standard'": ({"normalize": "standard"}, (1.0,)),
    "power=0.5": ({"power": 0.5}, (1.0,)),
    "power=0.3": ({"power": 0.3}, (1.0,)),
}


def run_variants(ctx):
    """One CKN parameter changed at a time, LinearSVC(C) on the features; resumable:
    each variant is a stage of the run (saved when done, read back by a later run)."""
    args = ctx.params
    data, protocol = _official_holdout(ctx, args.dataset, args.n)
    Xtr, ytr, Xte, yte = data
    result = {"protocol": protocol + "; CKNTransformer(random_state=0, **changes), then "
                                     "LinearSVC(C) on its features (C=1 is the default)",
              "variants": {}}
    for label, (changes, Cs) in VARIANTS.items():
        if args.variants and label not in args.variants:
            continue
        result["variants"][label] = ctx.stage(
            "variant_" + re.sub(r"[^\w.=]+", "-", label),
            lambda changes=changes, Cs=Cs, label=label: _variant(Xtr, ytr, Xte, yte, changes, Cs, label))
        ctx.checkpoint(result)  # after every variant
    return result


def _variant(Xtr, ytr, Xte, yte, changes, Cs, label):
    from sklearn.svm import LinearSVC

    from sklearn_ckn import CKNTransformer

    ckn = CKNTransformer(random_state=0, **changes)
    t = time.perf_counter()
    Ftr = ckn.fit_transform(Xtr)
    Fte = ckn.transform(Xte)
    ckn_s = time.perf_counter() - t
    scores = {}
    for C in Cs:
        rec, caught = _counting_warnings()
        t = time.perf_counter()
        clf = LinearSVC(C=C).fit(Ftr, ytr)
        acc = clf.score(Fte, yte)
        rec.__exit__(None, None, None)
        scores[f"C={C:g}"] = {"accuracy": float(acc), "seconds": time.perf_counter() - t,
                              "warnings": _warning_summary(caught)}
        print(f"  {label} LinearSVC(C={C:g}): {acc:.4f}", flush=True)
    return {
        "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()},
        "n_filters_": list(ckn.n_filters_), "subsamplings_": list(ckn.subsamplings_),
        "n_features_out_": ckn.n_features_out_, "ckn_seconds": ckn_s, "linear_svc": scores,
    }


_THREAD_CHILD = r"""
import json, os, sys, time
import numpy as np, torch
from sklearn_ckn import CKNTransformer
n_threads = int(sys.argv[1])
rng = np.random.default_rng(0)
X = (rng.random((400, 28, 28)) ** 4 * 255).astype(np.uint8)
ckn = CKNTransformer(n_filters=(32, 128), n_patches=20000, random_state=0, device="cpu",
                     n_jobs=1).fit(X)
def timed(n):
    ckn.set_params(n_jobs=n)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter(); ckn.transform(X); best = min(best, time.perf_counter() - t)
    return best
one = timed(1)
many = timed(n_threads)
print(json.dumps({"one_thread_s": one, "n_threads": n_threads, "n_threads_s": many,
                  "ratio_to_one_thread": many / one,
                  "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


def run_threads(ctx):
    """2 threads vs 1, with OpenMP's default (spinning) and passive waiting."""
    result = {"protocol": "CKNTransformer(n_filters=(32, 128)).transform of 400 28x28 images, "
                          "best of 3, with n_jobs=1 then n_jobs=2 in the same fresh process; "
                          "ratio = time with 2 threads / time with 1",
              "load_average_at_start": os.getloadavg()}
    for policy in ("default", "PASSIVE"):
        env = dict(os.environ)
        env.pop("OMP_WAIT_POLICY", None)
        if policy == "PASSIVE":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        out = subprocess.run([sys.executable, "-c", _THREAD_CHILD, "2"], env=env,
                             capture_output=True, text=True, check=True)
        result[policy] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"threads, OMP_WAIT_POLICY={policy}: {result[policy]}", flush=True)
    result["load_average_at_end"] = os.getloadavg()
    return result


CKN_PARAM = arg("--ckn-param", dest="ckn_params", action="append", type=_parse_ckn_param, default=[],
                metavar="NAME=VALUE",
                help="a CKNTransformer parameter changed from its default (repeatable), "
                     "routed as ckn__NAME")
HOLDOUT = (
    arg("--dataset", choices=OFFICIAL, default="mnist"),
    arg("--n", type=int, default=10_000,
        help="at most this many training and test images of the official splits"),
)

register(Case(
    name="defaults.digits", run=run_digits, params=(CKN_PARAM,), dataset="digits",
    description="every default: CKN + LinearSVC() / LogisticRegression(), 3-fold CV on the digits",
    metrics=("ckn_linearsvc.cv_mean", "ckn_logistic_regression.cv_mean", "svc_pixels.cv_mean"),
    legacy_script="bench_defaults.py",
))
register(Case(
    name="defaults.holdout", run=run_holdout, dataset="param:dataset",
    params=HOLDOUT + (arg("--no-baseline", action="store_true",
                          help="leave make_model('kernel_svm') out (case defaults.kernel_svm)"),
                      CKN_PARAM),
    description="every default: CKN + LinearSVC() on a holdout of an official split",
    metrics=("ckn_linearsvc.accuracy", "kernel_svm.accuracy"), stages=("kernel_svm",),
    legacy_script="bench_defaults.py",
))
register(Case(
    name="defaults.kernel_svm", run=run_kernel_svm, params=HOLDOUT, dataset="param:dataset",
    model="kernel_svm", description="make_model('kernel_svm') on the defaults' holdout",
    metrics=("accuracy",), legacy_script="bench_defaults.py",
))
register(Case(
    name="defaults.variants", run=run_variants, dataset="param:dataset",
    params=HOLDOUT + (arg("--variants", nargs="+", choices=sorted(VARIANTS), default=None, hashed=False,
                          help="run only these variants (default: all)"),),
    description="the holdout with one CKNTransformer parameter changed at a time",
    stages=tuple("variant_" + re.sub(r"[^\w.=]+", "-", label) for label in VARIANTS),
    legacy_script="bench_defaults.py",
))
register(Case(
    name="defaults.threads", run=run_threads, dataset="synthetic",
    description="CKN transform with 2 torch threads against 1, OMP_WAIT_POLICY default and PASSIVE",
    metrics=("default.ratio_to_one_thread", "PASSIVE.ratio_to_one_thread"),
    legacy_script="bench_defaults.py",
))
