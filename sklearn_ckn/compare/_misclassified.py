"""Misclassified test images of a model: :class:`MisclassifiedDisplay` (scikit-learn's
Display pattern), a grid of images titled ``"Pred: <name> / True: <name>"``, and its
shortcut :func:`plot_misclassified`."""

import math

import numpy as np
from sklearn.utils import check_random_state

from .._display import Display, class_name, given_axes
from .._docstrings import with_parameters
from ._figures import new_figure, panels

__all__ = ["MisclassifiedDisplay", "plot_misclassified"]

# The parameters of MisclassifiedDisplay.from_predictions and plot_misclassified.
_PARAMETERS = """\
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
"""


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
        self.images, self.y_true, self.y_pred = images, y_true, y_pred  # k of each
        self.n_wrong, self.n_total = n_wrong, n_total  # errors of all, test images
        self.target_names = target_names
        self.title = title

    @classmethod
    @with_parameters(_PARAMETERS)
    def from_predictions(cls, images, y_true, y_pred, *, target_names=None, n_examples=24,
                         ncols=8, title=None, image_shape=None, random_state=None, ax=None):
        """Pick misclassified images and plot them.

        {parameters}

        Returns
        -------
        display : MisclassifiedDisplay
            The picked images, drawn: ``figure_`` and ``axes_`` are set.
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
        display = cls(shown, y_true[wrong], y_pred[wrong], n_wrong=n_wrong,
                      n_total=len(y_true), target_names=target_names, title=title)
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
                panel = new_figure((4, 1.2), suptitle).subplots()
            else:
                panel = given_axes(ax, 1, "a grid without errors")[0]
            panel.set_axis_off()
            panel.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
            self.figure_, self.axes_ = panel.figure, np.asarray([panel], dtype=object)
            return self
        fig, axes = panels(ax, k, f"{k} misclassified image(s)", ncols=ncols,
                           panel_size=(1.7, 1.9), suptitle=suptitle)
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


@with_parameters(_PARAMETERS)
def plot_misclassified(images, y_true, y_pred, *, target_names=None, n_examples=24, ncols=8,
                       title=None, image_shape=None, random_state=None, ax=None):
    """A grid of misclassified images, each titled ``"Pred: <name> / True: <name>"``.

    A shortcut for ``MisclassifiedDisplay.from_predictions(...).figure_``.

    {parameters}

    Returns
    -------
    fig : matplotlib.figure.Figure
        The grid: a new figure (shown as a PNG in Jupyter) or the figure of ``ax``.

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
        images, y_true, y_pred, target_names=target_names, n_examples=n_examples, ncols=ncols,
        title=title, image_shape=image_shape, random_state=random_state, ax=ax,
    ).figure_
