"""Confusion matrices of several models, one panel each: :class:`ConfusionMatricesDisplay`
(scikit-learn's Display pattern) and its shortcut :func:`plot_confusion_matrices`."""

import numpy as np
from sklearn.metrics import confusion_matrix

from .._display import Display, class_name
from .._docstrings import with_parameters
from ._figures import as_predictions, panels

__all__ = ["ConfusionMatricesDisplay", "plot_confusion_matrices"]

# The parameters of ConfusionMatricesDisplay.from_predictions and plot_confusion_matrices.
_PARAMETERS = """\
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
"""


def _annotate(panel, cm, normalize):
    """Write each non-zero cell's value (white on dark cells)."""
    top = cm.max() if cm.size else 0
    for i, j in zip(*np.nonzero(cm)):
        v = cm[i, j]
        text = f"{v:.2f}" if normalize else f"{int(v)}"
        colour = "white" if top and v > top / 2 else "black"
        panel.text(j, i, text, ha="center", va="center", fontsize=5, color=colour)


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
    @with_parameters(_PARAMETERS)
    def from_predictions(cls, y_true, predictions, *, labels=None, target_names=None,
                         normalize=None, ax=None, ncols=3, panel_size=3.6):
        """Compute the matrices of ``predictions`` and plot them.

        {parameters}

        Returns
        -------
        display : ConfusionMatricesDisplay
            The display of the matrices, with ``figure_`` and ``axes_`` set.
        """
        y_true = np.asarray(y_true)
        predictions = as_predictions(predictions)
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
        fig, axes = panels(ax, n, f"{n} model(s)", ncols=ncols,
                           panel_size=(panel_size, panel_size))
        first = next(iter(self.confusion_matrices.values()), np.zeros((0, 0)))
        names = self.display_labels
        if names is None:
            names = [str(i) for i in range(first.shape[0])]
        ticks = np.arange(len(names))
        for panel, (name, cm) in zip(axes, self.confusion_matrices.items()):
            cm = np.asarray(cm)
            panel.imshow(cm, cmap=cmap, interpolation="nearest")
            acc = (self.accuracies or {}).get(name)
            panel.set_title(name if acc is None else f"{name} (accuracy {acc:.3f})", fontsize=9)
            panel.set_xticks(ticks, names, rotation=90, fontsize=6)
            panel.set_yticks(ticks, names, fontsize=6)
            panel.set_xlabel("Predicted", fontsize=8)
            panel.set_ylabel("True", fontsize=8)
            if len(names) <= 20:
                _annotate(panel, cm, self.normalize)
        self.figure_ = fig
        self.axes_ = np.asarray(axes, dtype=object)
        return self


@with_parameters(_PARAMETERS)
def plot_confusion_matrices(y_true, predictions, *, labels=None, target_names=None,
                            normalize=None, ax=None, ncols=3, panel_size=3.6):
    """One confusion-matrix panel per model (rows: true class, columns: predicted).

    A shortcut for ``ConfusionMatricesDisplay.from_predictions(...).figure_``.

    {parameters}

    Returns
    -------
    fig : matplotlib.figure.Figure
        A new figure (shown as a PNG in Jupyter) or the figure of ``ax``.

    See Also
    --------
    sklearn_ckn.compare.ConfusionMatricesDisplay : The display behind it.
    sklearn.metrics.ConfusionMatrixDisplay : One model's matrix.
    sklearn_ckn.compare.per_class_accuracy : Each class's accuracy (the row-normalised diagonal).

    Examples
    --------
    >>> from sklearn_ckn.compare import plot_confusion_matrices
    >>> fig = plot_confusion_matrices([0, 0, 1, 1], {"cnn": [0, 1, 1, 1], "ckn": [0, 0, 1, 0]})
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['cnn (accuracy 0.750)', 'ckn (accuracy 0.750)']
    """
    return ConfusionMatricesDisplay.from_predictions(
        y_true, predictions, labels=labels, target_names=target_names, normalize=normalize,
        ax=ax, ncols=ncols, panel_size=panel_size,
    ).figure_
