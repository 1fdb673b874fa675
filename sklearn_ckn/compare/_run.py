"""Running a checked comparison: the training sets' last checks, then fitting, timing
and scoring every model, and the provenance of the run (versions, machine)."""

import datetime
import numbers
import os
import platform
import time

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from ._data import stratified_subset
from ._report import results_table, say, write_results

__all__ = ["check_training_sets", "fit_models", "provenance"]


def check_training_sets(config, y_train):
    """Fail before any fit when a model's training set (or CV fold) cannot work."""
    for name, model in config.models.items():
        y = y_train[stratified_subset(y_train, config.caps.get(name), config.random_state)]
        classes, counts = np.unique(y, return_counts=True)
        what = f"{name} would be fitted on {len(y)} training image(s) of {len(classes)} class(es)"
        if len(classes) < 2:
            raise ValueError(f"{what}; a classifier needs at least 2 classes: use more images.")
        smallest = len(y)
        if config.cv is not None:
            if config.cv > counts.max():
                raise ValueError(
                    f"cv={config.cv} folds need at least {config.cv} images of some class, "
                    f"but {what}, at most {counts.max()} per class: use a smaller cv or more "
                    "images."
                )
            smallest = len(y) - -(-len(y) // config.cv)  # the training part of the largest fold
        for key, value in model.get_params().items():
            if key.split("__")[-1] == "n_neighbors" and isinstance(value, numbers.Integral):
                if value > smallest:
                    raise ValueError(
                        f"{name} uses {value} neighbours but would be fitted on only "
                        f"{smallest} image(s): use more images or fewer neighbours."
                    )


def _versions():
    import matplotlib
    import pandas
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
        "pandas": pandas.__version__,
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


def provenance(config, data):
    """What ``results.json`` says of the run besides its rows (the machine's threads
    are read inside the run's thread settings)."""
    return {
        "dataset": config.dataset,
        "split": data.split,
        "n_train": int(len(data.y_train)),
        "n_test": int(len(data.y_test)),
        "image_shape": list(data.X_train.shape[1:]),
        "n_classes": len(data.target_names),
        "target_names": list(data.target_names),
        "models": list(config.models),
        "cv": config.cv,
        "random_state": config.random_state,
        "quick": config.quick,
        "max_train": {m: config.caps.get(m) for m in config.models},
        "n_jobs": config.threads,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": config.command,
        "versions": _versions(),
        "machine": _machine(config.device),
    }


def _fit_one(name, model, data, config, step):
    """Fit, time and score ``model``; return its row and its test predictions."""
    X_train, y_train = data.X_train, data.y_train
    used = stratified_subset(y_train, config.caps.get(name), config.random_state)
    note = ""
    if len(used) < len(y_train):
        X_train, y_train = X_train[used], y_train[used]
        note = f" (capped: {len(used)} of {len(data.y_train)})"
    row = {"model": name}
    if config.cv is not None:
        say(config.verbose, f"{step} {name}: {config.cv}-fold cross-validation on "
                            f"{len(y_train)} images{note} ...")
        folds = StratifiedKFold(config.cv, shuffle=True, random_state=config.random_state)
        scores = cross_val_score(clone(model), X_train, y_train, cv=folds, error_score="raise")
        row["cv_accuracy"], row["cv_std"] = float(scores.mean()), float(scores.std())
    say(config.verbose, f"{step} {name}: fitting on {len(y_train)} images{note} ...")
    t0 = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    y_pred = np.asarray(model.predict(data.X_test))
    predict_s = time.perf_counter() - t0
    row.update(
        accuracy=float(accuracy_score(data.y_test, y_pred)),
        balanced_accuracy=float(balanced_accuracy_score(data.y_test, y_pred)),
        fit_seconds=fit_s,
        predict_seconds=predict_s,
        n_train=int(len(data.y_train)),
        n_train_used=int(len(y_train)),
        n_test=int(len(data.y_test)),
    )
    say(config.verbose, f"{step} {name}: accuracy {row['accuracy']:.4f}, fit {fit_s:.2f} s, "
                        f"predict {predict_s:.2f} s")
    return row, y_pred


def fit_models(config, data, info, folder=None):
    """Fit, time and score every model of ``config`` on ``data``; after each one,
    write the results so far into ``folder`` (the run's folder, see ``_output``:
    long runs keep partial results).

    Returns the results table and ``{name: test predictions}``; ``info`` gains
    ``"estimators"`` (each model's repr).
    """
    rows, predictions = [], {}
    info["estimators"] = {}
    for i, (name, model) in enumerate(config.models.items(), 1):
        info["estimators"][name] = repr(model)
        try:
            row, predictions[name] = _fit_one(name, model, data, config,
                                              f"[{i}/{len(config.models)}]")
        except Exception as exc:  # say which model failed (shown after the traceback)
            exc.add_note(f"(while fitting and scoring the {name} model)")
            raise
        rows.append(row)
        if folder is not None:
            write_results(folder, results_table(rows), info)
    return results_table(rows), predictions
