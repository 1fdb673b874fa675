"""Figures and tables to compare classifiers of images.

* :func:`per_class_accuracy`: one row per class, one accuracy column per model and,
  when both ran, the ``ckn_minus_cnn`` difference;
* :func:`format_per_class_table`: that table as text, ``CLASS / CNN Acc / CKN Acc /
  Difference``;
* :func:`plot_confusion_matrices`: one confusion-matrix panel per model;
* :func:`plot_misclassified`: a grid of misclassified test images titled
  ``"Pred: <name> / True: <name>"``.

The figures follow scikit-learn's Display pattern: :class:`ConfusionMatricesDisplay`
and :class:`MisclassifiedDisplay` are built with ``from_predictions(...)``, which calls
``plot(ax=None)``: it draws on the given axes (``ax=``, e.g. panels of a figure of
your own) or on a new figure, and sets ``figure_`` and ``axes_``. The functions
:func:`plot_confusion_matrices` and :func:`plot_misclassified` are shortcuts that
return that figure.

A new figure is a :class:`matplotlib.figure.Figure` drawn on the Agg canvas without
pyplot: nothing is shown and no pyplot state is touched, so the helpers work on
machines without a display and in loops that make many figures; save it with
``fig.savefig(path)``. In Jupyter, a display or such a figure as a cell's last value
renders as a PNG image (``_repr_png_``), whatever the matplotlib backend; figures
drawn on your own (pyplot) axes are shown by your backend as usual.
"""

import io
import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix
from sklearn.utils import check_random_state

from .._display import Display, class_name, given_axes

__all__ = [
    "ConfusionMatricesDisplay",
    "MisclassifiedDisplay",
    "format_per_class_table",
    "per_class_accuracy",
    "plot_confusion_matrices",
    "plot_misclassified",
]


class NotebookFigure(Figure):
    """A pyplot-free :class:`~matplotlib.figure.Figure` that Jupyter shows as a PNG."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()

    def _repr_html_(self):
        # Returning None lets Jupyter fall back on _repr_png_ (matplotlib's own
        # _repr_html_ answers only for its web backends).
        return None


def _new_figure(figsize):
    fig = NotebookFigure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


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
    predictions = _as_predictions(predictions)
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


class ConfusionMatricesDisplay(Display):
    """Confusion matrices of several models, one panel each (rows: true class).

    Build it with :meth:`from_predictions` (or :func:`plot_confusion_matrices`).

    Parameters
    ----------
    confusion_matrices : dict of str to ndarray of shape (n_classes, n_classes)
        The matrix of each model, by model name (the panel titles).
    accuracies : dict of str to float, default=None
        Accuracy of each model, shown in its panel title.
    display_labels : list of str, default=None
        Class names, in the matrices' order (default: 0, 1, ...).
    normalize : {None, "true", "pred", "all"}, default=None
        How the matrices were normalised (None: counts), for the cell texts.

    Attributes
    ----------
    figure_ : matplotlib.figure.Figure
        The figure drawn on (after :meth:`plot`).
    axes_ : ndarray of matplotlib.axes.Axes
        One panel per model (unused panels of a new figure are hidden).

    See Also
    --------
    sklearn_ckn.compare.plot_confusion_matrices : Builds and draws it.
    sklearn.metrics.ConfusionMatrixDisplay : One model's matrix.

    Examples
    --------
    >>> from sklearn_ckn.compare import ConfusionMatricesDisplay
    >>> disp = ConfusionMatricesDisplay.from_predictions(
    ...     [0, 1, 1, 0], {"ckn": [0, 1, 1, 1], "knn": [0, 1, 0, 0]})
    >>> len(disp.axes_), disp._repr_png_()[:4] == b"\\x89PNG"
    (2, True)
    """

    def __init__(self, confusion_matrices, *, accuracies=None, display_labels=None, normalize=None):
        self.confusion_matrices = confusion_matrices
        self.accuracies = accuracies
        self.display_labels = display_labels
        self.normalize = normalize

    @classmethod
    def from_predictions(
        cls,
        y_true,
        predictions,
        *,
        labels=None,
        target_names=None,
        normalize=None,
        ax=None,
        ncols=3,
        panel_size=3.6,
    ):
        """Compute the matrices of ``predictions`` and plot them.

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
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per model to draw on; None makes a new figure.
        ncols : int, default=3
            Panels per row of a new figure.
        panel_size : float, default=3.6
            Width and height of a panel of a new figure, in inches.

        Returns
        -------
        display : ConfusionMatricesDisplay
        """
        y_true = np.asarray(y_true)
        predictions = _as_predictions(predictions)
        if labels is None:
            labels = np.unique(np.concatenate([y_true] + list(predictions.values())))
        labels = np.asarray(labels)
        matrices, accuracies = {}, {}
        for name, y_pred in predictions.items():
            matrices[name] = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
            accuracies[name] = float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")
        display = cls(
            matrices,
            accuracies=accuracies,
            display_labels=[class_name(c, target_names) for c in labels],
            normalize=normalize,
        )
        return display.plot(ax=ax, ncols=ncols, panel_size=panel_size)

    def plot(self, *, ax=None, ncols=3, panel_size=3.6, cmap="Blues"):
        """Draw one panel per model.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per model; None makes a new figure.
        ncols : int, default=3
            Panels per row of a new figure.
        panel_size : float, default=3.6
            Width and height of a panel of a new figure, in inches.
        cmap : str, default="Blues"
            Colour map of the cells.

        Returns
        -------
        display : ConfusionMatricesDisplay
            ``self``, with ``figure_`` and ``axes_`` set.
        """
        n = len(self.confusion_matrices)
        if ax is None:
            ncols = max(1, min(ncols, n))
            nrows = math.ceil(n / ncols)
            fig = _new_figure((panel_size * ncols, panel_size * nrows + 0.3))
            grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
            for extra in grid[n:]:
                extra.set_axis_off()
            axes = list(grid[:n])
        else:
            axes = given_axes(ax, n, f"{n} model(s)")
            fig = axes[0].figure
        first = next(iter(self.confusion_matrices.values()), np.zeros((0, 0)))
        names = self.display_labels
        if names is None:
            names = [str(i) for i in range(first.shape[0])]
        annotate = len(names) <= 20
        for panel, (name, cm) in zip(axes, self.confusion_matrices.items()):
            cm = np.asarray(cm)
            panel.imshow(cm, cmap=cmap, interpolation="nearest")
            acc = (self.accuracies or {}).get(name)
            panel.set_title(name if acc is None else f"{name} (accuracy {acc:.3f})", fontsize=9)
            ticks = np.arange(len(names))
            panel.set_xticks(ticks, names, rotation=90, fontsize=6)
            panel.set_yticks(ticks, names, fontsize=6)
            panel.set_xlabel("Predicted", fontsize=8)
            panel.set_ylabel("True", fontsize=8)
            if annotate:
                top = cm.max() if cm.size else 0
                for i in range(cm.shape[0]):
                    for j in range(cm.shape[1]):
                        v = cm[i, j]
                        if v == 0:
                            continue
                        text = f"{v:.2f}" if self.normalize else f"{int(v)}"
                        colour = "white" if top and v > top / 2 else "black"
                        panel.text(j, i, text, ha="center", va="center", fontsize=5, color=colour)
        self.figure_ = fig
        self.axes_ = np.asarray(axes, dtype=object)
        return self


def plot_confusion_matrices(
    y_true,
    predictions,
    *,
    labels=None,
    target_names=None,
    normalize=None,
    ncols=3,
    panel_size=3.6,
    ax=None,
):
    """One confusion-matrix panel per model (rows: true class, columns: predicted).

    A shortcut for ``ConfusionMatricesDisplay.from_predictions(...).figure_``.

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
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per model to draw on; None makes a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A new figure (shown as a PNG in Jupyter) or the figure of ``ax``.

    See Also
    --------
    sklearn_ckn.compare.ConfusionMatricesDisplay : The display behind it.
    sklearn.metrics.ConfusionMatrixDisplay : One model's matrix.

    Examples
    --------
    >>> from sklearn_ckn.compare import plot_confusion_matrices
    >>> fig = plot_confusion_matrices([0, 0, 1, 1], {"cnn": [0, 1, 1, 1], "ckn": [0, 0, 1, 0]})
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['cnn (accuracy 0.750)', 'ckn (accuracy 0.750)']
    """
    return ConfusionMatricesDisplay.from_predictions(
        y_true,
        predictions,
        labels=labels,
        target_names=target_names,
        normalize=normalize,
        ax=ax,
        ncols=ncols,
        panel_size=panel_size,
    ).figure_


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


class MisclassifiedDisplay(Display):
    """A grid of misclassified images, each titled ``"Pred: <name> / True: <name>"``.

    Build it with :meth:`from_predictions` (or :func:`plot_misclassified`).

    Parameters
    ----------
    images : ndarray
        The misclassified images to show, ready for ``imshow`` (``(k, H, W)`` grey
        or ``(k, H, W, 3)`` colour).
    y_true, y_pred : ndarray of shape (k,)
        Their true and predicted labels.
    n_wrong : int
        Number of misclassified images in all.
    n_total : int
        Number of test images.
    target_names : list of str, default=None
        Display names of integer labels.
    title : str, default=None
        Title prefix (e.g. the model name).

    Attributes
    ----------
    figure_ : matplotlib.figure.Figure
    axes_ : ndarray of matplotlib.axes.Axes
        One panel per image shown.

    See Also
    --------
    sklearn_ckn.compare.plot_misclassified : Builds and draws it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn.compare import MisclassifiedDisplay
    >>> images = np.zeros((4, 8, 8), dtype=np.uint8)
    >>> disp = MisclassifiedDisplay.from_predictions(images, [0, 1, 1, 0], [0, 0, 1, 1])
    >>> [ax.get_title() for ax in disp.axes_]
    ['Pred: 0 / True: 1', 'Pred: 1 / True: 0']
    """

    def __init__(self, images, y_true, y_pred, *, n_wrong, n_total, target_names=None, title=None):
        self.images = images
        self.y_true = y_true
        self.y_pred = y_pred
        self.n_wrong = n_wrong
        self.n_total = n_total
        self.target_names = target_names
        self.title = title

    @classmethod
    def from_predictions(
        cls,
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
        ax=None,
    ):
        """Pick misclassified images and plot them.

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
            Images per row of a new figure.
        title : str, default=None
            Figure title (e.g. the model name); the number of errors is appended.
        image_shape : tuple of int, default=None
            ``(H, W)`` or ``(H, W, C)`` for 2-D ``images``.
        random_state : int, RandomState instance or None, default=None
            If given, a random sample of the errors is shown; else the first ones in
            test order.
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per image shown (``min(n_examples, errors)``, or one when there
            is no error); None makes a new figure.

        Returns
        -------
        display : MisclassifiedDisplay
        """
        y_true = np.asarray(y_true)
        y_pred = np.asarray(y_pred)
        wrong = np.flatnonzero(y_true != y_pred)
        n_wrong = len(wrong)
        if random_state is not None and n_wrong > n_examples:
            rng = check_random_state(random_state)
            wrong = np.sort(rng.choice(wrong, n_examples, replace=False))
        wrong = wrong[:n_examples]
        shown = _display_images(np.asarray(images)[wrong], image_shape) if len(wrong) else None
        display = cls(
            shown,
            y_true[wrong],
            y_pred[wrong],
            n_wrong=n_wrong,
            n_total=len(y_true),
            target_names=target_names,
            title=title,
        )
        return display.plot(ax=ax, ncols=ncols)

    def plot(self, *, ax=None, ncols=8):
        """Draw the images.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per image (one Axes when there is none); None makes a new
            figure, titled with the number of errors.
        ncols : int, default=8
            Images per row of a new figure.

        Returns
        -------
        display : MisclassifiedDisplay
            ``self``, with ``figure_`` and ``axes_`` set.
        """
        suptitle = f"{self.title}: " if self.title else ""
        suptitle += f"{self.n_wrong} misclassified of {self.n_total}"
        k = 0 if self.images is None else len(self.images)
        if k == 0:
            if ax is None:
                fig = _new_figure((4, 1.2))
                fig.suptitle(suptitle, fontsize=10)
                panel = fig.subplots()
            else:
                panel = given_axes(ax, 1, "a grid without errors")[0]
                fig = panel.figure
            panel.set_axis_off()
            panel.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
            self.figure_, self.axes_ = fig, np.asarray([panel], dtype=object)
            return self
        if ax is None:
            ncols = max(1, min(ncols, k))
            nrows = math.ceil(k / ncols)
            fig = _new_figure((1.7 * ncols, 1.9 * nrows + 0.4))
            fig.suptitle(suptitle, fontsize=10)
            grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
            for extra in grid[k:]:
                extra.set_axis_off()
            axes = list(grid[:k])
        else:
            axes = given_axes(ax, k, f"{k} misclassified image(s)")
            fig = axes[0].figure
        for panel, image, t, p in zip(axes, self.images, self.y_true, self.y_pred):
            grey = image.ndim == 2
            vmax = 255 if image.dtype == np.uint8 else 1
            panel.imshow(image, cmap="gray" if grey else None, vmin=0, vmax=vmax,
                         interpolation="nearest")
            panel.set_title(
                f"Pred: {class_name(p, self.target_names)} / "
                f"True: {class_name(t, self.target_names)}",
                fontsize=6,
            )
            panel.set_axis_off()
        self.figure_ = fig
        self.axes_ = np.asarray(axes, dtype=object)
        return self


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
    ax=None,
):
    """A grid of misclassified images, each titled ``"Pred: <name> / True: <name>"``.

    A shortcut for ``MisclassifiedDisplay.from_predictions(...).figure_``.

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
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per image shown; None makes a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A new figure (shown as a PNG in Jupyter) or the figure of ``ax``.

    See Also
    --------
    sklearn_ckn.compare.MisclassifiedDisplay : The display behind it.
    sklearn_ckn.compare.plot_confusion_matrices : Where the errors go, per class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn.compare import plot_misclassified
    >>> images = np.zeros((4, 8, 8), dtype=np.uint8)
    >>> fig = plot_misclassified(images, [0, 1, 2, 3], [0, 1, 3, 2], title="ckn")
    >>> fig.get_suptitle()
    'ckn: 2 misclassified of 4'
    """
    return MisclassifiedDisplay.from_predictions(
        images,
        y_true,
        y_pred,
        target_names=target_names,
        n_examples=n_examples,
        ncols=ncols,
        title=title,
        image_shape=image_shape,
        random_state=random_state,
        ax=ax,
    ).figure_
