"""Out-of-the-box accuracy: ``Pipeline([CKNTransformer(), LinearSVC()])`` with every default.

No scaler, no tuned C: the CKN's own defaults (``subsamplings="auto"``,
``normalize="l2-standard"``) and scikit-learn's classifiers at their defaults. Only
``random_state=0`` is set, for repeatability. Sections (each written to
``benchmarks/results/defaults/<section>.json`` and skipped when that file exists,
unless ``--force``):

* ``digits``: scikit-learn's 8x8 digits, 3-fold ``cross_val_score`` of the CKN with
  ``LinearSVC()`` and with ``LogisticRegression()``, beside ``SVC()`` on the pixels;
* ``mnist``: first 10,000 training / first 10,000 test images;
* ``cifar10``: first 10,000 training / first 10,000 test images, beside
  ``make_model("kernel_svm")`` (an exact RBF SVC at this size);
* ``fruits360``: the 6-class copy at its native 100x100, all images, beside
  ``make_model("kernel_svm")``;
* ``<data set>_variants`` (e.g. ``mnist_variants``): the same holdout with one
  ``CKNTransformer`` parameter changed at a time from its default (pooling, patch
  sizes, whitening, filters, depth, bandwidth, normalisation), and ``LinearSVC(C)``
  around its default on the default features: is any single change worth a new
  default? Each variant is saved as it completes; a rerun skips those done;
  ``--variants`` runs a subset;
* ``--ckn-param NAME=VALUE`` (digits and the official data sets): the same with one
  ``CKNTransformer`` parameter changed, saved as ``<section>_<name>_<value>.json``
  (e.g. ``digits_power_0.5.json``);
* ``threads``: the same CKN transform with 1 and 2 torch threads, with and without
  ``OMP_WAIT_POLICY=PASSIVE`` (each in a fresh process: OpenMP reads the variable
  when it starts), as ratios to the 1-thread time measured in that process.

Run from the project root (the CPU is shared: one section at a time)::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_defaults.py digits mnist \\
        --data-home ../shared/datasets
"""

import argparse
import functools
import json
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import write_result  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "defaults")


def _counting_warnings():
    rec = warnings.catch_warnings(record=True)
    caught = rec.__enter__()
    warnings.simplefilter("always")
    return rec, caught


def _warning_summary(caught):
    names = [type(w.message).__name__ if isinstance(w.message, Warning) else str(w.category)
             for w in caught]
    return {n: names.count(n) for n in sorted(set(names))}


def _ckn_pipeline(final, ckn_params=None):
    from sklearn.pipeline import Pipeline

    from sklearn_ckn import CKNTransformer

    ckn = CKNTransformer(random_state=0, **(ckn_params or {}))
    return Pipeline([("ckn", ckn), ("clf", final)])


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


def bench_digits(args):
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


def _kernel_svm(Xtr, ytr, Xte, yte, cache):
    """make_model("kernel_svm") fitted and scored, saved to (and reused from) ``cache``."""
    from sklearn_ckn import make_model

    if os.path.exists(cache):
        with open(cache) as f:
            saved = json.load(f)
        if saved["n_train"] == len(ytr) and saved["n_test"] == len(yte):
            print(f"  make_model('kernel_svm'): {saved['accuracy']:.4f} (from {cache})")
            return saved
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
    write_result(cache, out)
    return out


def _holdout(Xtr, ytr, Xte, yte, *, args, name):
    """Accuracy of the default CKN + LinearSVC and of make_model("kernel_svm")."""
    from sklearn.svm import LinearSVC

    out = {"n_train": int(len(ytr)), "n_test": int(len(yte)),
           "image_shape": list(Xtr.shape[1:])}
    cache = os.path.join(args.out, f"{name}_kernel_svm.json")
    if not args.no_baseline:
        out["kernel_svm"] = _kernel_svm(Xtr, ytr, Xte, yte, cache)
    else:  # run separately (--baseline-only): its own result file
        out["kernel_svm_result_file"] = os.path.relpath(cache, os.path.dirname(OUT))
    if args.baseline_only:
        return out
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


def _official_holdout(args, name):
    """The first ``--n`` images of the official train and test sets of ``name`` (all of
    them when there are fewer), at the files' size, and the protocol's description."""
    from sklearn_ckn.datasets import load_dataset

    Xtr, ytr = load_dataset(name, data_home=args.data_home, subset="train", return_X_y=True,
                            download_if_missing=False)
    Xte, yte = load_dataset(name, data_home=args.data_home, subset="test", return_X_y=True,
                            download_if_missing=False)
    n_train, n_test = len(ytr), len(yte)
    Xtr, ytr, Xte, yte = Xtr[:args.n], ytr[:args.n], Xte[:args.n], yte[:args.n]
    print(f"{name} {len(ytr)}/{len(yte)} at {Xtr.shape[1:]}", flush=True)
    protocol = (f"first {len(ytr)} of {n_train} training / first {len(yte)} of "
                f"{n_test} test images, {Xtr.shape[1:]} (uint8)")
    return (Xtr, ytr, Xte, yte), protocol


def bench_official(args, name):
    """A data set of the registry with official train and test sets: the default
    CKN + ``LinearSVC()`` beside ``make_model("kernel_svm")`` on its holdout."""
    data, protocol = _official_holdout(args, name)
    result = {"protocol": protocol}
    result.update(_holdout(*data, args=args, name=name))
    return result


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


def bench_variants(args, name, path):
    """One CKN parameter changed at a time, LinearSVC(C) on the features; resumable:
    the partial result in ``path`` is read back and every variant done is skipped."""
    from sklearn.svm import LinearSVC

    from sklearn_ckn import CKNTransformer

    data, protocol = _official_holdout(args, name)
    Xtr, ytr, Xte, yte = data
    result = {"protocol": protocol + "; CKNTransformer(random_state=0, **changes), then "
                                     "LinearSVC(C) on its features (C=1 is the default)",
              "variants": {}}
    if os.path.exists(path) and not args.force:
        with open(path) as f:
            result["variants"] = json.load(f).get("variants", {})
    for label, (changes, Cs) in VARIANTS.items():
        if args.variants and label not in args.variants:
            continue
        if label in result["variants"]:
            print(f"  {label}: done ({path})")
            continue
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
        result["variants"][label] = {
            "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()},
            "n_filters_": list(ckn.n_filters_), "subsamplings_": list(ckn.subsamplings_),
            "n_features_out_": ckn.n_features_out_, "ckn_seconds": ckn_s, "linear_svc": scores,
        }
        write_result(path, result)  # after every variant: a stopped run resumes here
    return result


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


def bench_threads(args):
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


def _sections():
    """``digits`` (scikit-learn's load_digits), every data set of the registry with an
    official split, and ``threads``."""
    from sklearn_ckn.datasets import DATASETS

    official = {name: functools.partial(bench_official, name=name)
                for name, info in DATASETS.items() if info.subsets}
    variants = {f"{name}_variants": functools.partial(bench_variants, name=name)
                for name in official}
    return {"digits": bench_digits, **official, **variants, "threads": bench_threads}


SECTIONS = _sections()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="+", choices=sorted(SECTIONS))
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n", type=int, default=10_000,
                        help="at most this many training and test images of the official splits "
                             "(default 10000)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip make_model('kernel_svm')")
    parser.add_argument("--baseline-only", action="store_true",
                        help="only make_model('kernel_svm') (saved as <section>_kernel_svm.json)")
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--force", action="store_true", help="rerun sections already saved")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=None,
                        help="<data set>_variants: run only these variants (default: all)")
    parser.add_argument("--ckn-param", action="append", type=_parse_ckn_param, default=[],
                        metavar="NAME=VALUE",
                        help="digits and the official data sets: a CKNTransformer parameter "
                             "changed from its default (repeatable); the result is saved as "
                             "<section>_<name>_<value>.json")
    args = parser.parse_args(argv)
    args.ckn_params = dict(args.ckn_param)
    suffix = "".join(f"_{k}_" + re.sub(r"[^\w.]+", "-", str(v)).strip("-")
                     for k, v in args.ckn_param)
    for name in args.sections:
        path = os.path.join(args.out, f"{name}{'' if name.endswith('_variants') else suffix}.json")
        if name.endswith("_variants"):  # resumable: it reads and writes ``path`` itself
            SECTIONS[name](args, path=path)
            continue
        if os.path.exists(path) and not args.force and not args.baseline_only:
            print(f"{path} exists: skipped (--force to rerun)")
            continue
        result = SECTIONS[name](args)
        if not args.baseline_only:
            write_result(path, result)


if __name__ == "__main__":
    main()
