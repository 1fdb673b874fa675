"""Figures and tables to compare classifiers of images.

* :func:`per_class_accuracy`: one row per class, one accuracy column per model and,
  when both ran, the ``ckn_minus_cnn`` difference;
* :func:`format_per_class_table`: that table as text, ``CLASS / CNN Acc / CKN Acc /
  Difference``;
* :func:`plot_confusion_matrices`: one confusion-matrix panel per model;
* :func:`plot_misclassified`: a grid of misclassified test images titled
  ``"Pred: <name> / True: <name>"``.

Figures are plain :class:`matplotlib.figure.Figure` objects drawn on the Agg canvas:
nothing is shown and no pyplot state is touched, so the helpers work on machines
without a display; save them with ``fig.savefig(path)``.
"""

import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix
from sklearn.utils import check_random_state

__all__ = [
    "format_per_class_table",
    "per_class_accuracy",
    "plot_confusion_matrices",
    "plot_misclassified",
]


def _new_figure(figsize):
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _class_name(label, target_names):
    """Display name of a label: ``target_names[label]`` for integer labels, else str."""
    if target_names is not None and isinstance(label, (int, np.integer)):
        if 0 <= int(label) < len(target_names):
            return str(target_names[int(label)])
    return str(label)


def _as_predictions(predictions):
    if not isinstance(predictions, dict) or not predictions:
        raise ValueError("predictions must be a non-empty dict {model name: y_pred}.")
    return {str(k): np.asarray(v) for k, v in predictions.items()}


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

    Examples
    --------
    >>> from sklearn_ckn._plotting import per_class_accuracy
    >>> per_class_accuracy([0, 0, 1, 1], {"cnn": [0, 1, 1, 1], "ckn": [0, 0, 1, 0]})
      class  support  cnn  ckn  ckn_minus_cnn
    0     0        2  0.5  1.0            0.5
    1     1        2  1.0  0.5           -0.5
    """
    y_true = np.asarray(y_true)
    predictions = _as_predictions(predictions)
    for name, y_pred in predictions.items():
        if y_pred.shape != y_true.shape:
            raise ValueError(
                f"predictions[{name!r}] has shape {y_pred.shape}, y_true has {y_true.shape}."
            )
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    support = np.array([(y_true == c).sum() for c in labels], dtype=np.int64)
    table = {
        "class": [_class_name(c, target_names) for c in labels],
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


def plot_confusion_matrices(
    y_true,
    predictions,
    *,
    labels=None,
    target_names=None,
    normalize=None,
    ncols=3,
    panel_size=3.6,
):
    """One confusion-matrix panel per model (rows: true class, columns: predicted).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    predictions : dict of str to array-like of shape (n_samples,)
        Predicted labels of each model, by model name (the panel titles).
    labels : array-like, default=None
        Classes, in order; default: the sorted labels of ``y_true`` and all
        predictions.
    target_names : list of str, default=None
        Display names of integer labels.
    normalize : {None, "true", "pred", "all"}, default=None
        As in :func:`sklearn.metrics.confusion_matrix`; None shows counts.
    ncols : int, default=3
        Panels per row.
    panel_size : float, default=3.6
        Width and height of a panel, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    y_true = np.asarray(y_true)
    predictions = _as_predictions(predictions)
    if labels is None:
        labels = np.unique(np.concatenate([y_true] + list(predictions.values())))
    labels = np.asarray(labels)
    names = [_class_name(c, target_names) for c in labels]
    n = len(predictions)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = _new_figure((panel_size * ncols, panel_size * nrows + 0.3))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    annotate = len(labels) <= 20
    for ax, (name, y_pred) in zip(axes.ravel(), predictions.items()):
        cm = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
        ax.imshow(cm, cmap="Blues", interpolation="nearest")
        acc = float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")
        ax.set_title(f"{name} (accuracy {acc:.3f})", fontsize=9)
        ticks = np.arange(len(labels))
        ax.set_xticks(ticks, names, rotation=90, fontsize=6)
        ax.set_yticks(ticks, names, fontsize=6)
        ax.set_xlabel("Predicted", fontsize=8)
        ax.set_ylabel("True", fontsize=8)
        if annotate:
            top = cm.max() if cm.size else 0
            for i in range(cm.shape[0]):
                for j in range(cm.shape[1]):
                    v = cm[i, j]
                    if v == 0:
                        continue
                    text = f"{v:.2f}" if normalize else f"{int(v)}"
                    colour = "white" if top and v > top / 2 else "black"
                    ax.text(j, i, text, ha="center", va="center", fontsize=5, color=colour)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    return fig


def _display_images(images, image_shape=None):
    """``(n, H, W)`` or ``(n, H, W, 3)`` arrays ready for ``imshow``."""
    images = np.asarray(images)
    if images.ndim == 2:
        if image_shape is None:
            side = math.isqrt(images.shape[1])
            image_shape = (side, side) if side * side == images.shape[1] else (1, images.shape[1])
        images = images.reshape((images.shape[0],) + tuple(image_shape))
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(f"cannot display images of shape {images.shape}.")
    if images.dtype != np.uint8:
        images = images.astype(np.float64)
        lo = images.min(axis=tuple(range(1, images.ndim)), keepdims=True)
        hi = images.max(axis=tuple(range(1, images.ndim)), keepdims=True)
        images = (images - lo) / np.where(hi > lo, hi - lo, 1.0)
    return images


def plot_misclassified(
    images,
    y_true,
    y_pred,
    *,
    target_names=None,
    n_examples=24,
    ncols=8,
    title=None,
    image_shape=None,
    random_state=None,
):
    """A grid of misclassified images, each titled ``"Pred: <name> / True: <name>"``.

    Parameters
    ----------
    images : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        The test images (``uint8`` shown as is, other dtypes rescaled per image).
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels.
    target_names : list of str, default=None
        Display names of integer labels.
    n_examples : int, default=24
        At most this many images are shown.
    ncols : int, default=8
        Images per row.
    title : str, default=None
        Figure title (e.g. the model name); the number of errors is appended.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` for 2-D ``images``.
    random_state : int, RandomState instance or None, default=None
        If given, a random sample of the errors is shown; else the first ones in
        test order.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    n_wrong = len(wrong)
    if random_state is not None and n_wrong > n_examples:
        rng = check_random_state(random_state)
        wrong = np.sort(rng.choice(wrong, n_examples, replace=False))
    wrong = wrong[:n_examples]
    suptitle = f"{title}: " if title else ""
    suptitle += f"{n_wrong} misclassified of {len(y_true)}"
    if len(wrong) == 0:
        fig = _new_figure((4, 1.2))
        fig.suptitle(suptitle, fontsize=10)
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
        return fig
    shown = _display_images(np.asarray(images)[wrong], image_shape)
    ncols = max(1, min(ncols, len(wrong)))
    nrows = math.ceil(len(wrong) / ncols)
    fig = _new_figure((1.7 * ncols, 1.9 * nrows + 0.4))
    fig.suptitle(suptitle, fontsize=10)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, idx, image in zip(axes.ravel(), wrong, shown):
        grey = image.ndim == 2
        vmax = 255 if image.dtype == np.uint8 else 1
        ax.imshow(image, cmap="gray" if grey else None, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(
            f"Pred: {_class_name(y_pred[idx], target_names)} / "
            f"True: {_class_name(y_true[idx], target_names)}",
            fontsize=6,
        )
        ax.set_axis_off()
    for ax in axes.ravel()[len(wrong):]:
        ax.set_axis_off()
    return fig
