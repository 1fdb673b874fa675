"""The model comparison (``sklearn-ckn compare``) on one data set.

Replaces ``benchmarks/bench_compare.py``. Runs the package's command
``python -m sklearn_ckn compare`` (:func:`sklearn_ckn.compare.run_comparison` behind
it) with the case's parameters, which are that command's options under the same
flags (``--param models=ckn,cnn``, ``--param max_train=kernel_svm=none``,
``--param model_params=cnn:mixed_precision=True``: the command's
``--param MODEL:NAME=VALUE``, a ``make_model`` keyword of one model). Its tables and
figures (``results.csv``/``.json``, ``per_class_accuracy.csv``, ``predictions.csv``,
``confusion_matrices.png``, ``misclassified_<model>.png``) go to the record's artifact
folder (the record's path without ``.json``); the record's result is its
``results.json``. Full runs take hours on a CPU (use a GPU for the CNN and the CKN)::

    python -m benchmarks run compare.models --param dataset=mnist --data-home ../shared/datasets \\
        --param model_params=cnn:mixed_precision=True \\
        --param model_params=ckn_supervised:mixed_precision=True \\
        --param max_train=kernel_svm=none --param max_train=knn=none

Smoke run (seconds)::

    python -m benchmarks run compare.models --preset smoke
"""

import json
import os

from sklearn_ckn.__main__ import main as sklearn_ckn_cli
from sklearn_ckn.datasets import available_datasets

from ..harness import Case, arg, register


def run(ctx):
    args = ctx.params
    out = ctx.artifact_dir
    # --overwrite: a rerun replaces the artifact folder of the same parameters.
    argv = ["compare", "--overwrite", "--dataset", args.dataset, "--data-home", ctx.data_home,
            "--out", out, "--verbose", str(args.verbose), "--random-state", str(args.random_state)]
    for name in ("models", "n_train", "n_test", "cv", "device", "image_size", "n_jobs"):
        value = getattr(args, name)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    for text in args.max_train:
        argv += ["--max-train", text]
    for text in args.model_params:
        argv += ["--param", text]
    if args.quick:
        argv.append("--quick")
    status = sklearn_ckn_cli(argv)
    if status:
        raise RuntimeError(f"sklearn-ckn compare exited with {status}")
    with open(os.path.join(out, "results.json")) as f:
        result = json.load(f)
    result["artifacts"] = os.path.basename(out)  # beside the record
    if args.device and args.device != "auto":
        ctx.device = args.device
    return result


PARAMS = (
    arg("--dataset", choices=available_datasets(), default="digits"),
    arg("--models", default=None, help="comma-separated models (default: all)"),
    arg("--n-train", type=int, default=None),
    arg("--n-test", type=int, default=None),
    arg("--cv", type=int, default=None),
    arg("--device", default=None),
    arg("--random-state", type=int, default=0),
    arg("--max-train", action="append", default=[], metavar="MODEL=N"),
    arg("--param", dest="model_params", action="append", default=[], metavar="MODEL:NAME=VALUE",
        help="a make_model keyword of one model (the command's --param)"),
    arg("--image-size", type=int, default=None),
    arg("--n-jobs", type=int, default=None),
    arg("--quick", action="store_true"),
    arg("--verbose", type=int, default=2, hashed=False),
)

register(Case(
    name="compare.models",
    run=run,
    params=PARAMS,
    description="sklearn-ckn compare: every make_model model fitted and scored on one data set",
    dataset="param:dataset",
    metrics=("total_seconds",),
    legacy_script="bench_compare.py",
    presets={"smoke": {"dataset": "digits", "n_train": "200", "n_test": "100", "quick": "true",
                       "models": "ckn,naive_bayes,knn"}},
))
