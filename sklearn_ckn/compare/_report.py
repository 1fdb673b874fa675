"""What a comparison shows and writes: the tables printed, the figures, the files."""

import json
import os

import numpy as np
import pandas as pd

from ._confusion import plot_confusion_matrices
from ._misclassified import plot_misclassified
from ._per_class import format_per_class_table, per_class_accuracy

__all__ = ["capped", "formatted_table", "make_figures", "per_class_table", "print_report",
           "results_table", "say", "write_files", "write_results"]

# Columns of the results table, in order; the cross-validation ones only with ``cv``.
_COLUMNS = ["model", "accuracy", "balanced_accuracy", "cv_accuracy", "cv_std",
            "fit_seconds", "predict_seconds", "n_train", "n_train_used", "n_test"]
_FORMATS = {"accuracy": "{:.4f}", "balanced_accuracy": "{:.4f}", "cv_accuracy": "{:.4f}",
            "cv_std": "{:.4f}", "fit_seconds": "{:.2f}", "predict_seconds": "{:.2f}"}


def say(verbose, *args):
    """Print ``args`` when ``verbose``."""
    if verbose:
        print(*args, flush=True)


def results_table(rows):
    """The results table of the rows of :func:`~._run.fit_models`, columns in order."""
    table = pd.DataFrame(rows)
    return table[[c for c in _COLUMNS if c in table.columns]]


def per_class_table(data, predictions):
    """Per-class accuracies of every model, classes of the test set only."""
    per_class = per_class_accuracy(
        data.y_test, predictions, labels=np.arange(len(data.target_names)),
        target_names=data.target_names,
    )
    return per_class[per_class["support"] > 0].reset_index(drop=True)


def capped(table):
    """Which rows of the results table a cap fitted on fewer than ``n_train`` images."""
    if not {"n_train_used", "n_train"} <= set(table.columns):
        return pd.Series(False, index=table.index)
    return table["n_train_used"] < table["n_train"]


def formatted_table(table):
    """The results table as text cells: accuracies to 4 decimals, seconds to 2, and
    ``n_train_used`` marked ``*`` when a cap made it smaller than ``n_train``."""
    shown = table.copy()
    if "n_train_used" in table.columns:
        shown["n_train_used"] = [f"{u}*" if c else f"{u}"
                                 for u, c in zip(table["n_train_used"], capped(table))]
    for col, fmt in _FORMATS.items():
        if col in shown.columns:
            shown[col] = [fmt.format(v) for v in shown[col]]
    return shown


def print_report(dataset, table, per_class):
    """Print the results table, the capped models and, when both ran, the per-class
    table CNN vs CKN."""
    print(f"\nResults on {dataset} ({table['n_test'].iloc[0]} test images):")
    print(formatted_table(table).to_string(index=False))
    for _, r in table[capped(table)].iterrows():
        print(
            f"* {r['model']} was fitted on a stratified subset of {r['n_train_used']} of the "
            f"{r['n_train']} training images (its cap; change it with --max-train "
            f"{r['model']}=N or max_train=)."
        )
    if {"ckn", "cnn"} <= set(table["model"]):
        print("\nPer-class accuracy (%), CNN vs CKN:")
        print(format_per_class_table(per_class, first="cnn", second="ckn"))


def make_figures(data, predictions, n_misclassified, random_state):
    """``{"confusion_matrices": Figure, "misclassified_<model>": Figure, ...}``."""
    labels = np.arange(len(data.target_names))
    figures = {
        "confusion_matrices": plot_confusion_matrices(
            data.y_test, predictions, labels=labels, target_names=data.target_names
        )
    }
    for name, y_pred in predictions.items():
        figures[f"misclassified_{name}"] = plot_misclassified(
            data.X_test, data.y_test, y_pred, target_names=data.target_names,
            n_examples=n_misclassified, title=name, random_state=random_state,
        )
    return figures


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


def write_results(out, table, info, *, complete=False):
    """Write ``results.csv`` and ``results.json`` (the rows, ``info`` and ``complete``:
    whether every model ran and every file is written) into ``out``; return their
    paths."""
    paths = {"results_csv": os.path.join(out, "results.csv"),
             "results_json": os.path.join(out, "results.json")}
    table.to_csv(paths["results_csv"], index=False)
    content = dict(info, complete=complete, results=table.to_dict(orient="records"))
    with open(paths["results_json"], "w") as f:
        json.dump(_json_safe(content), f, indent=2)
    return paths


def write_files(out, table, per_class, predictions, y_test, figures, info):
    """Write every file of a comparison into ``out``, the results last (marked
    complete); return ``{key: path}``."""
    files = {"per_class_csv": os.path.join(out, "per_class_accuracy.csv"),
             "predictions_csv": os.path.join(out, "predictions.csv")}
    per_class.to_csv(files["per_class_csv"], index=False)
    pd.DataFrame(
        {"y_true": y_test, **{f"pred_{k}": v for k, v in predictions.items()}}
    ).to_csv(files["predictions_csv"], index=False)
    for key, fig in figures.items():
        files[key] = os.path.join(out, f"{key}.png")
        fig.savefig(files[key], dpi=110)
    return {**write_results(out, table, info, complete=True), **files}
