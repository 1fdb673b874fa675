"""Per-class accuracies of several models: :func:`per_class_accuracy` (one row per
class, one accuracy column per model and, when both ran, ``ckn_minus_cnn``) and
:func:`format_per_class_table` (that table as text, ``CLASS / CNN Acc / CKN Acc /
Difference``)."""

import numpy as np
import pandas as pd

from .._display import class_name
from ._figures import as_predictions

__all__ = ["format_per_class_table", "per_class_accuracy"]


def per_class_accuracy(y_true, predictions, *, labels=None, target_names=None):
    """Per-class accuracy (recall) of several models, and CKN minus CNN.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    predictions : dict of str to array-like of shape (n_samples,)
        Predicted labels of each model, by model name (the column names).
    labels : array-like, default=None
        Classes (rows), in order; default: the sorted labels of ``y_true``.
    target_names : list of str, default=None
        Display names of integer labels (``target_names[label]``).

    Returns
    -------
    table : pandas.DataFrame
        Columns ``class`` (name), ``support`` (test images of the class), one column
        per model (fraction of the class's images predicted correctly) and, when
        both ``"ckn"`` and ``"cnn"`` are in ``predictions``, ``ckn_minus_cnn``.

    See Also
    --------
    sklearn_ckn.compare.format_per_class_table : The table as text.
    sklearn.metrics.classification_report : Per-class precision and recall.

    Examples
    --------
    >>> from sklearn_ckn.compare import per_class_accuracy
    >>> per_class_accuracy([0, 0, 1, 1], {"cnn": [0, 1, 1, 1], "ckn": [0, 0, 1, 0]})
      class  support  cnn  ckn  ckn_minus_cnn
    0     0        2  0.5  1.0            0.5
    1     1        2  1.0  0.5           -0.5
    """
    y_true = np.asarray(y_true)
    predictions = as_predictions(predictions)
    for name, y_pred in predictions.items():
        if y_pred.shape != y_true.shape:
            raise ValueError(
                f"predictions[{name!r}] has shape {y_pred.shape}, y_true has {y_true.shape}."
            )
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    support = np.array([(y_true == c).sum() for c in labels], dtype=np.int64)
    table = {
        "class": [class_name(c, target_names) for c in labels],
        "support": support,
    }
    for name, y_pred in predictions.items():
        correct = np.array([((y_true == c) & (y_pred == c)).sum() for c in labels])
        with np.errstate(invalid="ignore", divide="ignore"):
            table[name] = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    if "ckn" in predictions and "cnn" in predictions:
        table["ckn_minus_cnn"] = table["ckn"] - table["cnn"]
    return pd.DataFrame(table)


def format_per_class_table(table, *, first="cnn", second="ckn", digits=2):
    """The per-class table as text: ``CLASS / CNN Acc / CKN Acc / Difference``.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`per_class_accuracy`, with columns ``first`` and ``second``.
    first, second : str, default="cnn", "ckn"
        The two models; the difference is ``second - first``.
    digits : int, default=2
        Decimals of the percentages.

    Returns
    -------
    text : str
        Accuracies in percent, one line per class, plus an ``ALL`` line (the
        support-weighted mean, i.e. the accuracy).

    See Also
    --------
    sklearn_ckn.compare.per_class_accuracy : The table it formats.

    Examples
    --------
    >>> from sklearn_ckn.compare import format_per_class_table, per_class_accuracy
    >>> table = per_class_accuracy([0, 0, 1, 1], {"cnn": [0, 1, 1, 1], "ckn": [0, 0, 1, 0]},
    ...                            target_names=["cat", "dog"])
    >>> print(format_per_class_table(table))
    CLASS    CNN Acc    CKN Acc  Difference
    cat        50.00     100.00      +50.00
    dog       100.00      50.00      -50.00
    ALL        75.00      75.00       +0.00
    """
    for col in (first, second):
        if col not in table.columns:
            raise ValueError(f"the table has no column {col!r}; columns: {list(table.columns)}.")
    a = table[first].to_numpy(dtype=float) * 100
    b = table[second].to_numpy(dtype=float) * 100
    w = table["support"].to_numpy(dtype=float)
    names = [str(c) for c in table["class"]] + ["ALL"]
    total = w.sum()
    a_all = float(np.nansum(a * w) / total) if total else float("nan")
    b_all = float(np.nansum(b * w) / total) if total else float("nan")
    rows = list(zip(names, list(a) + [a_all], list(b) + [b_all]))
    width = max(5, *(len(n) for n in names))
    h1, h2 = f"{first.upper()} Acc", f"{second.upper()} Acc"
    lines = [f"{'CLASS':<{width}}  {h1:>9}  {h2:>9}  {'Difference':>10}"]
    for name, x, y in rows:
        lines.append(
            f"{name:<{width}}  {x:>9.{digits}f}  {y:>9.{digits}f}  {y - x:>+10.{digits}f}"
        )
    return "\n".join(lines)

