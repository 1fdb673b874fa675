"""Figures for explaining image classifiers: heat-map overlays and first-layer filters.

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
* :class:`FiltersDisplay`: the first-layer filters of a CNN (convolution kernels) or
  a CKN (anchor points reshaped to patches; for a whitened first layer, mapped back to
  pixel space through the pseudo-inverse of the whitening), each rescaled to [0, 1],
  tiled into one image.
"""

import math

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from torch import nn

from .._display import Display, class_name, given_axes
from ._adapters import as_differentiable, flatten_steps, unwrap
from ._grad_cam import check_method, grad_cam

__all__ = ["FiltersDisplay", "GradCAMDisplay", "plot_filters", "plot_grad_cam"]

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
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain import GradCAMDisplay
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 12, 12)), np.arange(40) % 2
    >>> X[y == 1, 2:5, 2:5] += 2.0
    >>> ckn = CKNTransformer(n_filters=8, subsamplings=3, random_state=0, device="cpu")
    >>> model = make_pipeline(ckn, LogisticRegression()).fit(X, y)
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
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain import plot_grad_cam
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 12, 12)), np.arange(40) % 2
    >>> X[y == 1, 2:5, 2:5] += 2.0
    >>> ckn = CKNTransformer(n_filters=8, subsamplings=3, random_state=0, device="cpu")
    >>> model = make_pipeline(ckn, LogisticRegression()).fit(X, y)
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
def _first_conv(net):
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError("The network has no Conv2d layer.")


def _ckn_first_layer_filters(layers):
    """First-layer anchors of ``CKNSequential`` ``layers`` as ``(F, C, p, p)`` pixel-space
    patches, and a description."""
    layer = layers.layers[0]
    p, c = layer.patch_size, layer.in_channels
    anchors = layer.anchors.detach().to("cpu", torch.float64)
    if layer.whitening:
        # Patches x are whitened as y = A x + b; the patch whose whitened version is the
        # anchor z (up to the per-channel means that centring removes) is pinv(A) z.
        a = layer.white_weight.detach().to("cpu", torch.float64).reshape(layer.patch_dim, -1)
        patches = anchors @ torch.linalg.pinv(a, rtol=1e-6).T
        how = "anchors mapped to pixel space\n(pseudo-inverse of the whitening)"
    else:
        patches = anchors
        how = "anchors"
    return patches.reshape(-1, c, p, p).numpy(), how


def _filters_of(estimator):
    """``(F, C, kh, kw)`` first-layer filters of a fitted CNN / CKN and a description."""
    est = unwrap(estimator)
    if isinstance(est, Pipeline):
        steps = flatten_steps(est)
        est = steps[0][1] if steps else est
    if not hasattr(est, "_explainable"):
        raise TypeError(
            "plot_filters supports a fitted CNNClassifier, CKNTransformer or CKNClassifier, "
            f"or a Pipeline starting with one; got {type(estimator).__name__}."
        )
    if not hasattr(est, "module_"):
        raise NotFittedError(f"This {type(est).__name__} is not fitted yet.")
    spec = est._explainable()
    if spec.family == "cnn":
        name, conv = _first_conv(spec.module)
        return conv.weight.detach().to("cpu", torch.float64).numpy(), \
            f"CNN first convolution ({name})"
    weights, how = _ckn_first_layer_filters(spec.module.ckn)
    trained = "trained " if spec.module.ckn.layers[0].anchors.requires_grad else ""
    return weights, f"{spec.name} first layer: {trained}{how}"


def _tile(filters, ncols, gap=1):
    """Filters ``(n, C, kh, kw)`` in [0, 1] as one ``(rows, cols[, 3])`` image, white gaps."""
    n, c, kh, kw = filters.shape
    nrows = math.ceil(n / ncols)
    colour = c == 3
    shape = (nrows * (kh + gap) - gap, ncols * (kw + gap) - gap) + ((3,) if colour else ())
    mosaic = np.ones(shape)
    for k, f in enumerate(filters):
        r, col = divmod(k, ncols)
        panel = f.transpose(1, 2, 0) if colour else (f[0] if c == 1 else f.mean(axis=0))
        mosaic[r * (kh + gap):r * (kh + gap) + kh, col * (kw + gap):col * (kw + gap) + kw] = panel
    return mosaic


class FiltersDisplay(Display):
    """First-layer filters of a fitted CNN or CKN, tiled into one image.

    Parameters
    ----------
    filters : ndarray of shape (n, C, kh, kw)
        The filters, each rescaled to [0, 1] (all its channels together).
    n_total : int
        How many filters the layer has.
    description : str
        What is shown (default title).

    Attributes
    ----------
    mosaic_ : ndarray of shape (rows, cols) or (rows, cols, 3)
        The tiled image (white one-pixel gaps).
    figure_ : matplotlib.figure.Figure
        The figure drawn on.
    ax_ : matplotlib Axes
        The axes holding the mosaic.

    See Also
    --------
    sklearn_ckn.explain.plot_filters : Builds and draws it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain import FiltersDisplay
    >>> X = np.random.default_rng(0).random((20, 10, 10))
    >>> ckn = CKNTransformer(n_filters=6, subsamplings=2, random_state=0, device="cpu").fit(X)
    >>> disp = FiltersDisplay.from_estimator(ckn, ncols=3)
    >>> disp.filters.shape, disp.mosaic_.shape
    ((6, 1, 3, 3), (7, 11))
    """

    def __init__(self, filters, n_total, description):
        self.filters = filters
        self.n_total = n_total
        self.description = description

    def __repr__(self):
        return f"FiltersDisplay({len(self.filters)} of {self.n_total} filters)"

    @classmethod
    def from_estimator(cls, estimator, n_filters=None, *, ncols=None, ax=None, title=None):
        """The first-layer filters of a fitted estimator, plotted.

        Parameters
        ----------
        estimator : CNNClassifier, CKNTransformer or Pipeline
            A fitted ``CNNClassifier``, or a fitted ``CKNTransformer`` / pipeline
            starting with one (see :func:`plot_filters`).
        n_filters : int, default=None
            Show the first ``n_filters`` filters (default all).
        ncols : int, default=None
            Filters per row (default ``min(8, n)``).
        ax : matplotlib Axes, default=None
            Where to draw; None: a new pyplot figure.
        title : str, default=None
            Title; default says what is shown.

        Returns
        -------
        display : FiltersDisplay
            The display, plotted.
        """
        weights, what = _filters_of(estimator)
        total = weights.shape[0]
        if n_filters is not None:
            if (isinstance(n_filters, bool) or not isinstance(n_filters, (int, np.integer))
                    or n_filters < 1):
                raise ValueError(f"n_filters must be a positive integer, got {n_filters!r}.")
            weights = weights[: int(n_filters)]
        lo = weights.min(axis=(1, 2, 3), keepdims=True)
        hi = weights.max(axis=(1, 2, 3), keepdims=True)
        span = hi - lo
        scaled = np.where(span > 0, (weights - lo) / np.where(span > 0, span, 1.0), 0.5)
        return cls(scaled, total, what).plot(ax=ax, ncols=ncols, title=title)

    def plot(self, ax=None, *, ncols=None, title=None):
        """Draw the tiled filters.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None: a new pyplot figure.
        ncols : int, default=None
            Filters per row (default ``min(8, n)``).
        title : str, default=None
            Axes title; default says what is shown.

        Returns
        -------
        display : FiltersDisplay
            ``self``, with ``figure_``, ``ax_`` and ``mosaic_``.
        """
        n, c, kh, kw = self.filters.shape
        ncols = min(8, n) if ncols is None else max(1, min(int(ncols), n))
        nrows = math.ceil(n / ncols)
        if ax is None:
            # Wide enough for the title, whatever the number of filters.
            fig, axes = _new_axes(1, 1, (max(4.5, 0.45 * ncols * (kw + 1) / 4 + 0.6),
                                         0.45 * nrows * (kh + 1) / 4 + 1.1))
            ax = axes[0, 0]
        else:
            ax = given_axes(ax, (1, 1), "the filters")[0, 0]
            fig = ax.figure
        self.mosaic_ = _tile(self.filters, ncols)
        if c == 3:
            ax.imshow(self.mosaic_, interpolation="nearest")
        else:
            ax.imshow(self.mosaic_, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title or f"{self.description}\n{n} of {self.n_total} filters, "
                     f"{kh}x{kw}x{c}", fontsize=8)
        ax.set_axis_off()
        self.figure_, self.ax_ = fig, ax
        return self


def plot_filters(estimator, n_filters=None, *, ncols=None, title=None, ax=None):
    """The first-layer filters of a fitted CNN or CKN as an image grid.

    Parameters
    ----------
    estimator : CNNClassifier, CKNTransformer, CKNClassifier or Pipeline
        A fitted ``CNNClassifier`` (its first ``Conv2d`` kernels), or a fitted
        ``CKNTransformer`` / pipeline starting with one or ``CKNClassifier`` (its
        first layer's anchor points, trained for the latter, reshaped to ``p x p``
        patches). Anchors of a whitened first layer
        (colour images) live in whitened patch space; they are shown mapped back to
        pixel space through the pseudo-inverse of the (centring + ZCA) whitening map,
        i.e. as the zero-mean patch whose whitened version is the anchor.
    n_filters : int, default=None
        Show the first ``n_filters`` filters (default all).
    ncols : int, default=None
        Filters per row (default ``min(8, n)``).
    title : str, default=None
        Title; default says what is shown.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new pyplot figure.

    Returns
    -------
    display : FiltersDisplay
        ``figure_``, ``ax_`` and ``mosaic_``: the filters, rescaled to [0, 1] each
        (all its channels together, so colours keep their balance), tiled with white
        one-pixel gaps; 3-channel filters in colour, others in grey (the mean over
        channels when there are not 1 or 3). Renders as the figure in Jupyter.

    See Also
    --------
    sklearn_ckn.explain.FiltersDisplay : What it returns.
    sklearn_ckn.explain.plot_grad_cam : Class activation maps of fitted models.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain import plot_filters
    >>> X = np.random.default_rng(0).random((20, 10, 10))
    >>> ckn = CKNTransformer(n_filters=6, subsamplings=2, random_state=0, device="cpu").fit(X)
    >>> fig, (left, right) = plt.subplots(1, 2)
    >>> disp = plot_filters(ckn, ax=right)
    >>> disp.ax_ is right
    True
    >>> plt.close(fig)
    """
    return FiltersDisplay.from_estimator(estimator, n_filters, ncols=ncols, ax=ax, title=title)
