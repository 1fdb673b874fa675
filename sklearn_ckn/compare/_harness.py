"""Compare CKN, CNN and classical classifiers on an image data set.

:func:`run_comparison` (and its command line, ``python -m sklearn_ckn compare`` or
``sklearn-ckn compare``) loads a data set, fits every requested model of
:func:`~sklearn_ckn.make_model` on the training images, scores it on the test images
and writes, into ``out``:

``results.csv`` / ``results.json``
    One row per model: accuracy, balanced accuracy, optional cross-validated accuracy,
    fit and predict seconds, ``n_train`` (training images available), ``n_train_used``
    (images the model was fitted on: fewer when the model has a size cap),
    ``n_test``. The JSON also holds the data set, sizes, versions, machine and the
    command line.
``per_class_accuracy.csv``
    One row per class, one accuracy column per model, and ``ckn_minus_cnn`` when both
    ran.
``predictions.csv``
    The true label and every model's prediction of each test image.
``confusion_matrices.png``
    One panel per model.
``misclassified_<model>.png``
    A grid of misclassified test images per model, "Pred: <name> / True: <name>".

Splits: MNIST, CIFAR-10, SVHN and Fruits-360 use their official train and test sets
(``n_train`` / ``n_test`` draw a random sample of them); the bundled digits have none,
so a stratified 75% / 25% split (1,347 / 450 images, seeded by ``random_state``) is
used.
"""

import argparse
import datetime
import json
import numbers
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.utils import Bunch

from .._device import resolve_device
from .._threads import cpu_threads
from .._models import available_models, make_model
from .._plotting import (
    format_per_class_table,
    per_class_accuracy,
    plot_confusion_matrices,
    plot_misclassified,
)

__all__ = [
    "DATASETS",
    "DEFAULT_MAX_TRAIN",
    "DATASET_PARAMS",
    "QUICK_PARAMS",
    "ComparisonResult",
    "load_comparison_data",
    "run_comparison",
    "run_example_comparison",
]

DATASETS = ("digits", "mnist", "cifar10", "svhn", "fruits360")

#: Largest training set each model is fitted on by default (None: no cap). The
#: kernel SVM fits an exact ``SVC`` up to 10,000 images and a Nystroem approximation
#: above (see :class:`~sklearn_ckn._models.KernelSVC`); beyond 20,000 images neither
#: the approximation nor the exact k-NN search (prediction cost grows with
#: ``n_train * n_test * n_pixels``) pays off on a CPU. Override with ``max_train``
#: (``--max-train knn=60000`` on the command line; ``none`` removes a cap).
DEFAULT_MAX_TRAIN = {
    "ckn": None,
    "ckn_supervised": None,
    "cnn": None,
    "kernel_svm": 20_000,
    "naive_bayes": None,
    "knn": 20_000,
}

#: Per-data-set model parameters (``make_model`` keywords) used by the comparison.
#: Digits: a 2-layer CKN (64, 256 filters, pooling 2 then 2: 1,024 features), a
#: supervised CKN of 32, 128 filters trained for 5 epochs and a 4x narrower residual
#: CNN trained for 10 epochs, so that the whole default run stays short on 2 CPU cores.
DATASET_PARAMS = {
    "digits": {
        "ckn": {"ckn__n_filters": (64, 256), "ckn__subsamplings": (2, 2)},
        "ckn_supervised": {"n_filters": (32, 128), "epochs": 5},
        "cnn": {"architecture_params": {"widths": (32, 64, 128)}, "epochs": 10},
    },
    # MNIST and CIFAR-10: the configurations of benchmarks/bench_ckn.py and the
    # recipes of benchmarks/bench_cnn.py (see the README's benchmark tables).
    "mnist": {
        "ckn": {"ckn__n_filters": (64, 512), "ckn__subsamplings": (2, 4)},
        "cnn": {
            "architecture_params": {"widths": (32, 64, 128)}, "epochs": 8, "batch_size": 256,
            "learning_rate": 0.1, "label_smoothing": 0.1, "augment": True,
        },
    },
    "cifar10": {
        "ckn": {
            "ckn__n_filters": (64, 256), "ckn__subsamplings": (2, 6), "ckn__whitening": "local",
            "ckn__n_patches": 500_000, "ckn__kmeans_max_iter": 50,
        },
        "cnn": {
            "architecture_params": {"widths": (64, 128, 256)}, "epochs": 15, "batch_size": 256,
            "learning_rate": 0.2, "label_smoothing": 0.2, "test_time_augmentation": True,
        },
    },
    "svhn": {"cnn": {"epochs": 10}},
    "fruits360": {"cnn": {"epochs": 10}},
}

#: Tiny models for smoke tests (``quick=True``, ``--quick``): seconds on any data
#: set, meaningless accuracies.
QUICK_PARAMS = {
    "ckn": {
        "ckn__n_filters": (8, 16),
        "ckn__subsamplings": (2, 4),
        "ckn__n_patches": 2000,
        "ckn__kmeans_max_iter": 3,
        "clf__max_iter": 100,
    },
    "ckn_supervised": {
        "n_filters": (8, 16), "n_patches": 2000, "kmeans_max_iter": 3, "epochs": 1,
    },
    "cnn": {"architecture": "lenet5", "epochs": 1},
    "kernel_svm": {},
    "naive_bayes": {},
    "knn": {},
}

#: Default image size of Fruits-360 in the comparison (the files are 100x100).
FRUITS_IMAGE_SIZE = 32


@dataclass
class ComparisonResult:
    """What :func:`run_comparison` returns.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model (the content of ``results.csv``).
    per_class : pandas.DataFrame
        Per-class accuracies (``per_class_accuracy.csv``).
    predictions : dict of str to ndarray
        Test predictions of each model.
    data : Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``target_names``, ``split``.
    info : dict
        Everything ``results.json`` holds besides the rows.
    files : dict of str to str
        Paths of the written files (empty when ``out`` is None).
    figures : dict of str to Figure
        ``"confusion_matrices"`` and ``"misclassified_<model>"``.

    Examples
    --------
    >>> from sklearn_ckn.compare import run_comparison
    >>> result = run_comparison("digits", models=["naive_bayes", "knn"], verbose=0)
    >>> list(result.predictions), len(result.data.X_test)
    (['naive_bayes', 'knn'], 450)
    """

    table: pd.DataFrame
    per_class: pd.DataFrame
    predictions: dict
    data: Bunch
    info: dict
    files: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


def _say(verbose, *args):
    if verbose:
        print(*args, flush=True)


def _resolve_n_jobs(n_jobs, dataset):
    """CPU threads for the run: an int, or None to leave the libraries' settings."""
    if isinstance(n_jobs, str) and n_jobs == "auto":
        return 1 if dataset == "digits" else None
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be 'auto', None, -1 or a positive integer, got {n_jobs!r}.")
    return (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)


def _stratified_subset(y, n, random_state):
    """Sorted indices of ``n`` of the samples, stratified when every class allows it."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    try:
        idx, _ = train_test_split(
            np.arange(len(y)), train_size=n, stratify=y, random_state=random_state
        )
    except ValueError:  # a class too small to stratify, or n < n_classes
        idx = np.random.RandomState(random_state).permutation(len(y))[:n]
    return np.sort(idx)


def _load_official(loader, data_home, subset, n, random_state, **kwargs):
    """Bunch of ``n`` random images of a subset (all of them if ``n`` is None or larger)."""
    if n is not None:
        try:
            return loader(
                data_home, subset=subset, n_samples=n, shuffle=True,
                random_state=random_state, **kwargs,
            )
        except ValueError as exc:
            if "larger than" not in str(exc):
                raise
    return loader(data_home, subset=subset, **kwargs)


def load_comparison_data(
    dataset="digits", data_home=None, *, n_train=None, n_test=None, random_state=0,
    image_size=None, download_if_missing=True,
):
    """Training and test images of a data set, as the comparison uses them.

    Parameters
    ----------
    dataset : {"digits", "mnist", "cifar10", "svhn", "fruits360"}, default="digits"
        The data set. ``"digits"`` (scikit-learn's bundled 8x8 digits) has no
        official split: a stratified 75% / 25% split seeded by ``random_state``
        (1,347 / 450 images) is made. The others use their official train and test
        sets, read from ``data_home``.
    data_home : str or path-like, default=None
        Folder containing the data set folders (see :mod:`sklearn_ckn.datasets`).
    n_train, n_test : int, default=None
        Use a random sample of this many training / test images (stratified for
        digits); None (or a larger number) uses all of them.
    random_state : int, default=0
        Seed of the split and of the samples.
    image_size : int or (int, int), default=None
        Fruits-360 only: size the images are resized to; None means 32x32
        (``FRUITS_IMAGE_SIZE``), ``0`` keeps the files' 100x100.
    download_if_missing : bool, default=True
        If False, missing MNIST, CIFAR-10 or SVHN files raise ``FileNotFoundError``
        instead of being downloaded.

    Returns
    -------
    data : Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (uint8 images, int64
        labels), ``target_names`` and ``split`` (a sentence saying how the split
        was made).

    Examples
    --------
    >>> from sklearn_ckn.compare import load_comparison_data
    >>> data = load_comparison_data("digits")
    >>> data.X_train.shape, data.X_test.shape
    ((1347, 8, 8), (450, 8, 8))
    """
    from .. import datasets

    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; available datasets: {list(DATASETS)}.")
    if dataset == "digits":
        bunch = datasets.load_digits_images()
        X, y = bunch.images, bunch.target
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=random_state
        )
        tr = _stratified_subset(y_train, n_train, random_state)
        te = _stratified_subset(y_test, n_test, random_state)
        return Bunch(
            X_train=X_train[tr], y_train=y_train[tr], X_test=X_test[te], y_test=y_test[te],
            target_names=list(bunch.target_names),
            split=(
                "scikit-learn's bundled digits have no official split: stratified 75%/25% "
                f"train/test split (train_test_split, random_state={random_state})"
                + (", then stratified samples" if (n_train or n_test) else "")
            ),
        )
    loader = {
        "mnist": datasets.load_mnist,
        "cifar10": datasets.load_cifar10,
        "svhn": datasets.load_svhn,
        "fruits360": datasets.load_fruits360,
    }[dataset]
    kwargs = {"download_if_missing": download_if_missing}
    if dataset == "fruits360":
        # Classes default to the sorted union of both trees: train and test agree.
        size = FRUITS_IMAGE_SIZE if image_size is None else image_size
        kwargs["image_size"] = None if size in (0, (0, 0)) else size
    train = _load_official(loader, data_home, "train", n_train, random_state, **kwargs)
    test = _load_official(loader, data_home, "test", n_test, random_state, **kwargs)
    X_train, y_train, X_test, y_test = train.images, train.target, test.images, test.target
    target_names = test.target_names
    return Bunch(
        X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        target_names=list(target_names),
        split=(
            "official train and test sets"
            + (" (random samples, random_state=%d)" % random_state if (n_train or n_test) else "")
        ),
    )


def _check_models(models):
    if models is None:
        return available_models()
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    models = list(models)
    unknown = [m for m in models if m not in available_models()]
    if unknown or not models:
        raise ValueError(
            f"Unknown model(s) {unknown}; available models: {available_models()}."
            if unknown
            else f"No model given; available models: {available_models()}."
        )
    if len(set(models)) != len(models):
        raise ValueError(f"models has duplicates: {models}.")
    return models


def _check_count(name, value):
    """``None`` or a positive integer (not a bool)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be None or a positive integer, got {value!r}.")
    return int(value)


def _check_random_state(random_state):
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, numbers.Integral)
        or not 0 <= random_state < 2**32
    ):
        raise ValueError(
            f"random_state must be an integer in [0, 2**32 - 1], got {random_state!r}."
        )
    return int(random_state)


def _check_image_size(image_size, dataset):
    if image_size is None:
        return
    if dataset != "fruits360":
        raise ValueError(
            f"image_size applies to the fruits360 data set only, not to {dataset!r}."
        )
    size = (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size
    try:
        size = tuple(size)
    except TypeError:
        size = ()
    ints = len(size) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size
    )
    if not ints or not (size == (0, 0) or min(size) > 0):
        raise ValueError(
            "image_size must be 0 (keep the files' 100x100), a positive integer or "
            f"(height, width), got {image_size!r}."
        )


def check_out_folder(out):
    """Raise a ``ValueError`` unless ``out`` is, or can be created as, a writable folder.

    Nothing is created: the nearest existing folder on the way must be writable.
    """
    path = os.path.abspath(os.fspath(out))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"out={os.fspath(out)!r} is a file, not a folder for the results.")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(
            f"out={os.fspath(out)!r} cannot be created: {existing!r} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"out={os.fspath(out)!r} is not writable: no permission to write in {existing!r}."
        )


def _validate_model_params(model):
    """Check the parameters of every step against its constraints now, not in ``fit``
    (``_validate_params`` is what scikit-learn's ``fit`` runs first)."""
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    for step in steps:
        if hasattr(step, "steps"):
            _validate_model_params(step)
        validate = getattr(step, "_validate_params", None)
        if validate is not None:
            validate()


def _build_models(models, dataset, model_params, quick, device, random_state, verbose):
    """``{name: unfitted model}`` with the defaults of the data set and the user's
    parameters, every parameter checked."""
    built = {}
    for name in models:
        if quick:
            defaults = QUICK_PARAMS.get(name, {})
        else:
            defaults = DATASET_PARAMS.get(dataset, {}).get(name, {})
        params = dict(defaults)
        params.update(model_params.get(name, {}))
        try:
            model = make_model(
                name, random_state=random_state, device=device, verbose=max(0, verbose - 1),
                **params,
            )
            _validate_model_params(model)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"model {name!r}: {exc}") from exc
        built[name] = model
    return built


def _check_training_sets(built, caps, y_train, cv, random_state):
    """Fail before any fit when a model's training set (or CV fold) cannot work."""
    for name, model in built.items():
        y = y_train[_stratified_subset(y_train, caps.get(name), random_state)]
        classes, counts = np.unique(y, return_counts=True)
        what = f"{name} would be fitted on {len(y)} training image(s) of {len(classes)} class(es)"
        if len(classes) < 2:
            raise ValueError(f"{what}; a classifier needs at least 2 classes: use more images.")
        smallest = len(y)
        if cv is not None:
            if cv > counts.max():
                raise ValueError(
                    f"cv={cv} folds need at least {cv} images of some class, but {what}, "
                    f"at most {counts.max()} per class: use a smaller cv or more images."
                )
            smallest = len(y) - -(-len(y) // cv)  # the training part of the largest fold
        for key, value in model.get_params().items():
            if key.split("__")[-1] == "n_neighbors" and isinstance(value, numbers.Integral):
                if value > smallest:
                    raise ValueError(
                        f"{name} uses {value} neighbours but would be fitted on only "
                        f"{smallest} image(s): use more images or fewer neighbours."
                    )


def _versions():
    import matplotlib
    import scipy
    import sklearn
    import torch

    from .. import __version__

    return {
        "python": platform.python_version(),
        "sklearn_ckn": __version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _machine(device):
    import torch

    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "torch_num_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "device": device,
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


def _format_table(table):
    cols = ["model", "accuracy", "balanced_accuracy"]
    if "cv_accuracy" in table.columns:
        cols += ["cv_accuracy", "cv_std"]
    cols += ["fit_seconds", "predict_seconds", "n_train", "n_train_used", "n_test"]
    shown = table[cols].copy()
    shown["n_train_used"] = [
        f"{u}*" if u < n else f"{u}" for u, n in zip(table["n_train_used"], table["n_train"])
    ]
    floats = {
        "accuracy": "{:.4f}", "balanced_accuracy": "{:.4f}", "cv_accuracy": "{:.4f}",
        "cv_std": "{:.4f}", "fit_seconds": "{:.2f}", "predict_seconds": "{:.2f}",
    }
    for col, fmt in floats.items():
        if col in shown.columns:
            shown[col] = [fmt.format(v) for v in shown[col]]
    return shown.to_string(index=False)


def _write_results(out, table, info):
    table.to_csv(os.path.join(out, "results.csv"), index=False)
    payload = dict(info, results=table.to_dict(orient="records"))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(_json_safe(payload), f, indent=2)


def _fit_models(built, data, caps, random_state, cv, verbose, out, info):
    """Fit, time and score every model of ``built`` (``{name: unfitted model}``); write
    the partial results after each one."""
    X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    rows, predictions, model_reprs = [], {}, {}
    models = list(built)
    for i, (name, model) in enumerate(built.items(), 1):
        model_reprs[name] = repr(model)
        cap = caps.get(name)
        used = _stratified_subset(y_train, cap, random_state)
        if len(used) == len(y_train):
            Xt, yt, note = X_train, y_train, ""
        else:
            Xt, yt = X_train[used], y_train[used]
            note = f" (capped: {len(used)} of {len(y_train)})"
        row = {"model": name}
        if cv is not None:
            _say(
                verbose,
                f"[{i}/{len(models)}] {name}: {cv}-fold cross-validation on {len(yt)} "
                f"images{note} ...",
            )
            folds = StratifiedKFold(cv, shuffle=True, random_state=random_state)
            scores = cross_val_score(clone(model), Xt, yt, cv=folds, error_score="raise")
            row["cv_accuracy"], row["cv_std"] = float(scores.mean()), float(scores.std())
        _say(verbose, f"[{i}/{len(models)}] {name}: fitting on {len(yt)} images{note} ...")
        t0 = time.perf_counter()
        model.fit(Xt, yt)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        y_pred = np.asarray(model.predict(X_test))
        predict_s = time.perf_counter() - t0
        predictions[name] = y_pred
        row.update(
            accuracy=float(accuracy_score(y_test, y_pred)),
            balanced_accuracy=float(balanced_accuracy_score(y_test, y_pred)),
            fit_seconds=fit_s,
            predict_seconds=predict_s,
            n_train=int(len(y_train)),
            n_train_used=int(len(yt)),
            n_test=int(len(y_test)),
        )
        rows.append(row)
        _say(
            verbose,
            f"[{i}/{len(models)}] {name}: accuracy {row['accuracy']:.4f}, fit {fit_s:.2f} s, "
            f"predict {predict_s:.2f} s",
        )
        table = pd.DataFrame(rows)
        if out is not None:  # after every model, so that long runs keep partial results
            _write_results(out, table, dict(info, estimators=model_reprs))
    return rows, predictions, model_reprs


def run_comparison(
    dataset="digits",
    *,
    models=None,
    data_home=None,
    n_train=None,
    n_test=None,
    cv=None,
    device="auto",
    out=None,
    random_state=0,
    verbose=1,
    max_train=None,
    model_params=None,
    quick=False,
    image_size=None,
    n_misclassified=24,
    n_jobs="auto",
    command=None,
    download_if_missing=True,
):
    """Fit and score several models on one data set; write tables and figures.

    Every argument, model parameter and the output folder are checked before the data
    are loaded, and the training sets' sizes (classes, ``cv`` folds, neighbours)
    before any model is fitted, so that a mistake fails in seconds with a
    ``ValueError``, not after hours of fitting.

    Parameters
    ----------
    dataset : {"digits", "mnist", "cifar10", "svhn", "fruits360"}, default="digits"
        See :func:`load_comparison_data` (digits: stratified 75%/25% split).
    models : list of str or str, default=None
        Names of :func:`~sklearn_ckn.available_models` (a list or a comma-separated
        string); None runs all five.
    data_home : str or path-like, default=None
        Folder containing the data set folders.
    n_train, n_test : int, default=None
        Random samples of the training / test images (None: all).
    cv : int, default=None
        If given, also report the ``cv``-fold stratified cross-validated accuracy of
        each model on (its part of) the training set (columns ``cv_accuracy``,
        ``cv_std``).
    device : str, default="auto"
        Torch device of the CKN and the CNN.
    out : str or path-like, default=None
        Folder for the files listed in the module docstring (created); None writes
        nothing.
    random_state : int, default=0
        Seeds the split, the samples and every model; in [0, 2**32 - 1].
    verbose : int, default=1
        0: silent; 1: the steps and the tables; 2: also the models' progress bars.
    max_train : dict of str to int or None, default=None
        Per-model caps on the training set, overriding :data:`DEFAULT_MAX_TRAIN` (None
        removes a cap). A capped model is fitted on a stratified sample; the table's
        ``n_train_used`` says so.
    model_params : dict of str to dict, default=None
        Extra :func:`~sklearn_ckn.make_model` keywords per model name, applied over
        :data:`DATASET_PARAMS` (or :data:`QUICK_PARAMS` when ``quick``).
    quick : bool, default=False
        Use tiny models (:data:`QUICK_PARAMS`): for smoke tests only.
    image_size : int or (int, int), default=None
        Fruits-360 image size (default 32; 0 keeps 100x100).
    n_misclassified : int, default=24
        Misclassified examples shown per model.
    n_jobs : "auto", int or None, default="auto"
        CPU threads of torch and of the BLAS / OpenMP libraries during the fits and
        predictions (restored afterwards); -1: all cores; None: leave the libraries'
        settings alone. ``"auto"``: 1 on digits, whose 8x8 images gain nothing from
        several threads and lose a lot when the cores are shared with other
        processes, else None.
    command : str, default=None
        Command line recorded in ``results.json`` (default: ``sys.argv``).
    download_if_missing : bool, default=True
        If False, missing data files raise ``FileNotFoundError`` instead of being
        downloaded.

    Returns
    -------
    result : ComparisonResult
        The tables, predictions, data, provenance, files and figures of the run.

    Raises
    ------
    ValueError
        For a bad argument or model parameter, an output folder that cannot be
        written, an unavailable device or training sets too small for the models.
    FileNotFoundError
        When the data are missing (and cannot or may not be downloaded).

    Examples
    --------
    >>> from sklearn_ckn.compare import run_comparison
    >>> result = run_comparison("digits", models=["naive_bayes", "knn"], verbose=0)
    >>> print(result.table[["model", "accuracy"]].round(3).to_string(index=False))
          model  accuracy
    naive_bayes     0.836
            knn     0.980
    """
    models = _check_models(models)
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; available datasets: {list(DATASETS)}.")
    caps = dict(DEFAULT_MAX_TRAIN)
    for name, cap in (max_train or {}).items():
        if name not in available_models():
            raise ValueError(f"max_train has unknown model {name!r}; models: {available_models()}.")
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1
        ):
            raise ValueError(
                f"max_train[{name!r}] must be None or a positive integer, got {cap!r}."
            )
        caps[name] = cap
    model_params = dict(model_params or {})
    for name in model_params:
        if name not in available_models():
            raise ValueError(
                f"model_params has unknown model {name!r}; models: {available_models()}."
            )
    if cv is not None and (
        isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2
    ):
        raise ValueError(f"cv must be None or an integer >= 2, got {cv!r}.")
    threads = _resolve_n_jobs(n_jobs, dataset)
    n_train, n_test = _check_count("n_train", n_train), _check_count("n_test", n_test)
    random_state = _check_random_state(random_state)
    _check_image_size(image_size, dataset)
    resolve_device(device)  # "tpu", or "cuda" without CUDA, fails here, not after other fits
    if data_home is not None and os.path.isfile(os.path.expanduser(os.fspath(data_home))):
        raise ValueError(f"data_home={os.fspath(data_home)!r} is a file, not a folder.")
    built = _build_models(models, dataset, model_params, quick, device, random_state, verbose)
    if out is not None:
        check_out_folder(out)

    start = time.perf_counter()
    _say(verbose, f"Loading {dataset} ...")
    data = load_comparison_data(
        dataset, data_home, n_train=n_train, n_test=n_test, random_state=random_state,
        image_size=image_size, download_if_missing=download_if_missing,
    )
    X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    _check_training_sets(built, caps, y_train, cv, random_state)
    _say(
        verbose,
        f"{dataset}: {len(y_train)} training and {len(y_test)} test images of shape "
        f"{X_train.shape[1:]}, {len(data.target_names)} classes ({data.split}).",
    )
    info = {
        "dataset": dataset,
        "split": data.split,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "image_shape": list(X_train.shape[1:]),
        "n_classes": len(data.target_names),
        "target_names": list(data.target_names),
        "models": models,
        "cv": cv,
        "random_state": random_state,
        "quick": bool(quick),
        "max_train": {m: caps.get(m) for m in models},
        "n_jobs": threads,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command if command is not None else shlex.join(sys.argv),
        "versions": _versions(),
    }
    if out is not None:
        out = os.fspath(out)
        os.makedirs(out, exist_ok=True)

    with cpu_threads(threads):
        info["machine"] = _machine(device)
        rows, predictions, model_reprs = _fit_models(
            built, data, caps, random_state, cv, verbose, out, info,
        )

    columns = ["model", "accuracy", "balanced_accuracy"]
    if cv is not None:
        columns += ["cv_accuracy", "cv_std"]
    columns += ["fit_seconds", "predict_seconds", "n_train", "n_train_used", "n_test"]
    table = pd.DataFrame(rows)[columns]
    info["estimators"] = model_reprs
    per_class = per_class_accuracy(
        y_test, predictions, labels=np.arange(len(data.target_names)),
        target_names=data.target_names,
    )
    per_class = per_class[per_class["support"] > 0].reset_index(drop=True)

    if verbose:
        print(f"\nResults on {dataset} ({len(y_test)} test images):")
        print(_format_table(table))
        capped = table[table["n_train_used"] < table["n_train"]]
        for _, r in capped.iterrows():
            print(
                f"* {r['model']} was fitted on a stratified subset of {r['n_train_used']} of the "
                f"{r['n_train']} training images (its cap; change it with --max-train "
                f"{r['model']}=N or max_train=)."
            )
        if "ckn" in predictions and "cnn" in predictions:
            print("\nPer-class accuracy (%), CNN vs CKN:")
            print(format_per_class_table(per_class, first="cnn", second="ckn"))

    figures = {
        "confusion_matrices": plot_confusion_matrices(
            y_test, predictions, labels=np.arange(len(data.target_names)),
            target_names=data.target_names,
        )
    }
    for name, y_pred in predictions.items():
        figures[f"misclassified_{name}"] = plot_misclassified(
            X_test, y_test, y_pred, target_names=data.target_names,
            n_examples=n_misclassified, title=name, random_state=random_state,
        )

    files = {}
    info["total_seconds"] = time.perf_counter() - start  # all but writing the files
    if out is not None:
        _write_results(out, table, info)
        files["results_csv"] = os.path.join(out, "results.csv")
        files["results_json"] = os.path.join(out, "results.json")
        files["per_class_csv"] = os.path.join(out, "per_class_accuracy.csv")
        per_class.to_csv(files["per_class_csv"], index=False)
        pred = pd.DataFrame({"y_true": y_test, **{f"pred_{k}": v for k, v in predictions.items()}})
        files["predictions_csv"] = os.path.join(out, "predictions.csv")
        pred.to_csv(files["predictions_csv"], index=False)
        for key, fig in figures.items():
            files[key] = os.path.join(out, f"{key}.png")
            fig.savefig(files[key], dpi=110)
        written = ", ".join(sorted(os.path.basename(p) for p in files.values()))
        _say(verbose, f"\nWrote {written} to {out}")
    _say(verbose, f"Total time {time.perf_counter() - start:.1f} s")
    return ComparisonResult(
        table=table, per_class=per_class, predictions=predictions, data=data, info=info,
        files=files, figures=figures,
    )


# -- the examples/plot_<dataset>_comparison.py scripts --------------------------------

#: What ``--data-home`` of each example holds (its help text).
_EXAMPLE_DATA_HOME_HELP = {
    "digits": "unused: the digits are bundled with scikit-learn",
    "mnist": "folder containing mnist/",
    "cifar10": "folder containing cifar-10-batches-py/",
    "svhn": "folder containing svhn/",
    "fruits360": "folder containing fruits-360/",
}

_EXAMPLE_TITLES = {
    "digits": "scikit-learn's 8x8 digits",
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "svhn": "SVHN",
    "fruits360": "Fruits-360",
}


def _example_parser(dataset, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-home", default=None, help=_EXAMPLE_DATA_HOME_HELP[dataset])
    all_train = "all 1,347" if dataset == "digits" else "all"
    parser.add_argument("--n-train", type=int, default=None,
                        help=f"random sample of the training images (default: {all_train})")
    parser.add_argument("--n-test", type=int, default=None,
                        help="random sample of the test images (default: all)")
    parser.add_argument("--models", default=",".join(available_models()))
    parser.add_argument("--cv", type=int, default=None, help="K-fold CV accuracy too")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--out", default=f"compare_out/{dataset}", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny models (smoke test)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    if dataset == "fruits360":
        parser.add_argument("--image-size", type=int, default=FRUITS_IMAGE_SIZE,
                            help="resize the images to this size (0: keep 100x100)")
    return parser


def run_example_comparison(dataset, argv=None, *, description=None):
    """What the ``examples/plot_<dataset>_comparison.py`` scripts run.

    Parses the scripts' command line (``--data-home``, ``--n-train``, ``--n-test``,
    ``--models``, ``--cv``, ``--device``, ``--out`` (default
    ``compare_out/<dataset>``), ``--quick``, ``--random-state``, ``--verbose`` and,
    for Fruits-360, ``--image-size``), runs :func:`run_comparison` quietly, then
    prints the accuracy table and, when both ran, the per-class table
    ``CLASS / CNN Acc / CKN Acc / Difference``. The confusion matrices and the grids
    of misclassified test images are written into ``--out`` with the tables.

    Parameters
    ----------
    dataset : {"digits", "mnist", "cifar10", "svhn", "fruits360"}
        The data set.
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv[1:]``.
    description : str, default=None
        Description shown by ``--help``; default ``"CKN vs CNN (and baselines) on
        <data set>."``.

    Returns
    -------
    result : ComparisonResult
        What :func:`run_comparison` returned.

    Raises
    ------
    SystemExit
        With status 2 and one ``error:`` line, for bad arguments, missing or invalid
        data (everything :func:`run_comparison` raises a ``ValueError`` or
        ``OSError`` for).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ckn.compare import run_example_comparison
    >>> out = tempfile.mkdtemp()
    >>> result = run_example_comparison(
    ...     "digits", ["--models", "naive_bayes", "--out", out])  # doctest: +ELLIPSIS
          model  accuracy  balanced_accuracy ...
    >>> sorted(result.files)[:2]
    ['confusion_matrices', 'misclassified_naive_bayes']
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; available datasets: {list(DATASETS)}.")
    if description is None:
        description = f"CKN vs CNN (and baselines) on {_EXAMPLE_TITLES[dataset]}."
    parser = _example_parser(dataset, description)
    args = parser.parse_args(argv)
    extra = {"image_size": args.image_size} if dataset == "fruits360" else {}
    try:
        result = run_comparison(
            dataset,
            models=args.models,
            data_home=args.data_home,
            n_train=args.n_train,
            n_test=args.n_test,
            cv=args.cv,
            device=args.device,
            out=args.out,
            random_state=args.random_state,
            quick=args.quick,
            verbose=0,
            **extra,
        )
    except (ValueError, OSError) as exc:  # the user's arguments or data: no traceback
        parser.error(" ".join(str(exc).split()))
    if args.verbose:
        print(result.table.to_string(index=False, float_format="%.4f"))
        if {"cnn", "ckn"} <= set(result.predictions):
            print()
            print(format_per_class_table(result.per_class, first="cnn", second="ckn"))
        print(f"\nFigures and tables in {args.out}:", ", ".join(sorted(result.files)))
    return result
