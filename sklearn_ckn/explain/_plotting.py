"""Figures for explaining image classifiers: heat-map overlays (filters: :mod:`._filters`).

Both follow scikit-learn's Display pattern: ``XDisplay.from_estimator(...)`` computes
what is shown and calls :meth:`plot`, which draws on the given axes (``ax=``) or on a
new pyplot figure, and returns the display with ``figure_`` and ``ax_`` / ``axes_``.
``plot_grad_cam`` and ``plot_filters`` are shortcuts for ``from_estimator``.

In a script, ``plt.show()`` shows the figures (they are pyplot figures) and
``display.figure_.savefig(path)`` (or ``display.savefig(path)``) saves them. In
Jupyter, a display as a cell's last value renders as its figure (``_repr_png_``) and
is then released from pyplot, so that the inline backend does not show it a second
time; a display that is not the last value is shown by the inline backend as usual.

* :class:`GradCAMDisplay`: one row per image, the original image titled with its
  true class (``"Original: airplane"``) and, per model, the heat map (jet colour map)
  over the image, titled with the method, the model and its prediction
  (``"LayerCAM (CNN): airplane"``; red when it is wrong);
* :class:`~sklearn_ckn.explain.FiltersDisplay` (in :mod:`._filters`): the first-layer
  filters.
"""

import numpy as np

from .._display import Display, class_name, given_axes
from ._adapters import as_differentiable
from ._docs import example_doc
from ._grad_cam import check_method, grad_cam

__all__ = ["GradCAMDisplay", "plot_grad_cam"]

METHOD_NAMES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "layercam": "LayerCAM"}


# -- shared helpers -----------------------------------------------------------------------
def _new_axes(nrows, ncols, figsize):
    """A new pyplot figure (``plt.show()`` shows it) and its ``(nrows, ncols)`` axes."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _display_image(image):
    """An ``(H, W, C)`` image as a float ``(H, W)`` (grey) or ``(H, W, 3)`` array in [0, 1]."""
    img = np.asarray(image)
    if img.dtype == np.uint8:
        img = img / 255.0
    else:
        img = img.astype(np.float64)
        lo, hi = img.min(), img.max()
        if lo < 0 or hi > 1:
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.shape[-1] == 3:
        return img
    if img.shape[-1] == 1:
        return img[..., 0]
    return img.mean(axis=-1)  # other channel counts: their mean, in grey


def _as_models(estimators, model_names):
    if isinstance(estimators, dict):
        names = [str(k) for k in estimators]
        estimators = list(estimators.values())
    else:
        if not isinstance(estimators, (list, tuple)):
            estimators = [estimators]
        estimators = list(estimators)
        names = None
    if not estimators:
        raise ValueError("plot_grad_cam needs at least one estimator.")
    if model_names is not None:
        names = [str(n) for n in model_names]
        if len(names) != len(estimators):
            raise ValueError(
                f"model_names has {len(names)} names for {len(estimators)} estimators."
            )
    return estimators, names


def _default_names(estimators):
    families = [str(as_differentiable(e).family).upper() for e in estimators]
    return [
        f"{f} {families[:i + 1].count(f)}" if families.count(f) > 1 else f
        for i, f in enumerate(families)
    ]


def _per_model(value, n_models, what):
    if isinstance(value, (list, tuple)):
        if len(value) != n_models:
            raise ValueError(f"{what} has {len(value)} values for {n_models} estimators.")
        return list(value)
    return [value] * n_models


# -- heat maps ----------------------------------------------------------------------------
@example_doc
class GradCAMDisplay(Display):
    """Heat maps of one or several models over images: one row per image.

    Build it with :meth:`from_estimator` (or :func:`plot_grad_cam`), or from maps
    computed elsewhere, then call :meth:`plot`.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
        The images, as validated by the estimators.
    maps : list of ndarray of shape (n, H, W)
        One array of heat maps in [0, 1] per model.
    predictions : list of array-like of shape (n,)
        Each model's predicted labels (shown in the titles).
    model_names : list of str or None
        Column names (None: the titles name no model).
    y_true : array-like of shape (n,), default=None
        True labels (titles of the originals; wrong predictions in red).
    target_names : list of str, default=None
        Display names of integer labels.
    methods : list of str, default=None
        The method of each model's maps (titles); default ``"layercam"``.

    Attributes
    ----------
    figure_ : matplotlib.figure.Figure
        The figure drawn on.
    axes_ : ndarray of matplotlib Axes, shape (n, n_columns)
        The panels, one row per image.

    See Also
    --------
    sklearn_ckn.explain.plot_grad_cam : Builds and draws it.

    Examples
    --------
    {fitted_pipeline}
    >>> from sklearn_ckn.explain import GradCAMDisplay
    >>> disp = GradCAMDisplay.from_estimator(model, X[:2], y_true=y[:2], method="hirescam")
    >>> disp.axes_.shape
    (2, 2)
    """

    def __init__(self, images, maps, predictions, model_names, *, y_true=None,
                 target_names=None, methods=None):
        self.images = images
        self.maps = maps
        self.predictions = predictions
        self.model_names = model_names
        self.y_true = y_true
        self.target_names = target_names
        self.methods = methods

    def __repr__(self):
        names = None if self.model_names is None else list(self.model_names)
        return (f"GradCAMDisplay({len(self.images)} images, models={names}, "
                f"methods={self.methods or 'layercam'})")

    @classmethod
    def from_estimator(cls, estimators, X, y_true=None, target_names=None, model_names=None,
                       *, target=None, method="layercam", layer=None, batch_size=64, ax=None,
                       alpha=0.5, cmap="jet", title=None, show_original=True):
        """Compute the heat maps of fitted models and plot them.

        Parameters
        ----------
        estimators : estimator, list of estimators or dict
            Fitted ``CNNClassifier``, ``CKNClassifier`` and/or CKN pipelines; a dict
            maps model names to estimators.
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            The images (one row each).
        y_true : array-like of shape (n,), default=None
            True labels (titles of the originals; wrong predictions in red).
        target_names : list of str, default=None
            Display names of integer labels.
        model_names : list of str, default=None
            Column names; default ``"CNN"`` / ``"CKN"`` (numbered when repeated), none
            for a single model.
        target : label, array-like or None, default=None
            Class explained in every model; default the model's prediction.
        method : str or list of str, default="layercam"
            ``"layercam"``, ``"hirescam"`` or ``"gradcam"``, for all models or one per
            model.
        layer : layer, list of layers or None, default=None
            Target layer for all models, or one per model (see :func:`grad_cam`).
        batch_size : int, default=64
            Images per forward/backward pass.
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw (see :meth:`plot`); None: a new pyplot figure.
        alpha : float, default=0.5
            Opacity of the heat maps.
        cmap : str, default="jet"
            Colour map of the heat maps.
        title : str, default=None
            Figure title (new figures only).
        show_original : bool, default=True
            A first column with the images alone.

        Returns
        -------
        display : GradCAMDisplay
            The display, plotted.
        """
        estimators, names = _as_models(estimators, model_names)
        layers = _per_model(layer, len(estimators), "layer")
        methods = [check_method(m) for m in _per_model(method, len(estimators), "method")]
        if not 0 <= float(alpha) <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}.")
        images = as_differentiable(estimators[0]).validate(X)
        n = images.shape[0]
        if y_true is not None:
            y_true = np.asarray(y_true)
            if y_true.shape != (n,):
                raise ValueError(f"y_true has shape {y_true.shape}, expected ({n},).")
        all_maps, predictions = [], []
        for est, lay, meth in zip(estimators, layers, methods):
            maps, explained = grad_cam(est, X, target, method=meth, layer=lay,
                                       batch_size=batch_size, return_targets=True)
            all_maps.append(maps)
            predictions.append(explained if target is None else np.asarray(est.predict(X)))
        if names is None:
            names = None if len(estimators) == 1 else _default_names(estimators)
        display = cls(images, all_maps, predictions, names, y_true=y_true,
                      target_names=target_names, methods=methods)
        return display.plot(ax=ax, alpha=alpha, cmap=cmap, title=title,
                            show_original=show_original)

    def plot(self, ax=None, *, alpha=0.5, cmap="jet", title=None, show_original=True):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            ``n_images * n_columns`` axes (a single Axes for one panel), filled row by
            row; None: a new pyplot figure.
        alpha : float, default=0.5
            Opacity of the heat maps.
        cmap : str, default="jet"
            Colour map of the heat maps.
        title : str, default=None
            Figure title (only on a new figure; set your own otherwise).
        show_original : bool, default=True
            A first column with the images alone.

        Returns
        -------
        display : GradCAMDisplay
            ``self``, with ``figure_`` and ``axes_``.
        """
        n_models = len(self.maps)
        n = len(self.images)
        ncols = n_models + bool(show_original)
        if ax is None:
            fig, axes = _new_axes(n, ncols, (2.1 * ncols, 2.2 * n + (0.4 if title else 0.0)))
            if title:
                fig.suptitle(title, fontsize=11)
        else:
            axes = given_axes(ax, (n, ncols), f"{n} image(s) and {n_models} model(s)")
            fig = axes[0, 0].figure
        names = self.model_names
        methods = self.methods or ["layercam"] * n_models
        for i in range(n):
            shown = _display_image(self.images[i])
            grey = shown.ndim == 2
            img_kw = {"cmap": "gray" if grey else None, "vmin": 0, "vmax": 1,
                      "interpolation": "nearest"}
            row = list(axes[i])
            if show_original:
                a = row.pop(0)
                a.imshow(shown, **img_kw)
                label = "Original"
                if self.y_true is not None:
                    label += f": {class_name(self.y_true[i], self.target_names)}"
                a.set_title(label, fontsize=8)
                a.set_axis_off()
            for j, a in enumerate(row):
                a.imshow(shown, **img_kw)
                a.imshow(self.maps[j][i], cmap=cmap, alpha=float(alpha), vmin=0, vmax=1,
                         interpolation="bilinear")
                head = METHOD_NAMES.get(methods[j], methods[j])
                if names is not None:
                    head += f" ({names[j]})"
                predicted = self.predictions[j][i]
                wrong = self.y_true is not None and predicted != self.y_true[i]
                a.set_title(f"{head}: {class_name(predicted, self.target_names)}", fontsize=8,
                            color="tab:red" if wrong else "black")
                a.set_axis_off()
        self.figure_, self.axes_ = fig, axes
        return self


@example_doc
def plot_grad_cam(estimators, X, y_true=None, target_names=None, model_names=None, alpha=0.5,
                  *, target=None, method="layercam", layer=None, batch_size=64, cmap="jet",
                  title=None, ax=None, show_original=True):
    """Heat maps (Grad-CAM, HiResCAM, LayerCAM) of one or several models, side by side.

    Parameters
    ----------
    estimators : estimator, list of estimators or dict
        Fitted ``CNNClassifier``, ``CKNClassifier`` and/or CKN pipelines (see
        :func:`grad_cam`); a dict maps model names to estimators.
    X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        The images (a handful: one row each).
    y_true : array-like of shape (n,), default=None
        True labels, shown over the original images (``"Original: <name>"``); wrong
        predictions get a red title.
    target_names : list of str, default=None
        Display names of integer labels (``target_names[label]``).
    model_names : list of str, default=None
        Column names; default ``"CNN"`` / ``"CKN"`` (numbered when repeated), none for
        a single model.
    alpha : float, default=0.5
        Opacity of the heat map over the image.
    target : label, array-like or None, default=None
        Class explained in every model (see :func:`grad_cam`); default the model's
        prediction. Titles always show the prediction.
    method : str or list of str, default="layercam"
        ``"layercam"``, ``"hirescam"`` or ``"gradcam"``, for all models or one per model.
    layer : layer, list of layers or None, default=None
        Target layer for all models, or one per model (see :func:`grad_cam`).
    batch_size : int, default=64
        Passed to :func:`grad_cam`.
    cmap : str, default="jet"
        Colour map of the heat maps.
    title : str, default=None
        Figure title.
    ax : matplotlib Axes or array-like of Axes, default=None
        Where to draw: ``n * (1 + n_models)`` axes (``n * n_models`` without the
        originals), filled row by row; None: a new pyplot figure.
    show_original : bool, default=True
        A first column with the images alone.

    Returns
    -------
    display : GradCAMDisplay
        With ``figure_`` and ``axes_``; renders as the figure in Jupyter;
        ``display.savefig(path)`` saves it.

    See Also
    --------
    sklearn_ckn.explain.grad_cam : The maps as arrays.
    sklearn_ckn.explain.GradCAMDisplay : What it returns.
    sklearn_ckn.explain.plot_filters : The first-layer filters of a model.

    Examples
    --------
    {fitted_pipeline}
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_ckn.explain import plot_grad_cam
    >>> fig, axes = plt.subplots(1, 2)
    >>> disp = plot_grad_cam(model, X[:1], ax=axes, method=["hirescam"])
    >>> disp.figure_ is fig
    True
    >>> plt.close(fig)
    """
    return GradCAMDisplay.from_estimator(
        estimators, X, y_true, target_names, model_names, target=target, method=method,
        layer=layer, batch_size=batch_size, ax=ax, alpha=alpha, cmap=cmap, title=title,
        show_original=show_original,
    )


# -- first-layer filters --------------------------------------------------------------------
