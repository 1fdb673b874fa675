"""The first-layer filters of a fitted CNN or CKN as one figure (:class:`FiltersDisplay`).

CNN: the first convolution's kernels; CKN: the first layer's anchor points reshaped to
patches (for a whitened first layer, mapped back to pixel space through the
pseudo-inverse of the whitening), each rescaled to [0, 1] and tiled into one image.
The estimator is read through its ``_explainable()`` (see :mod:`sklearn_ckn._explainable`),
as Grad-CAM reads it. Same Display pattern as :mod:`._plotting`.
"""

import math

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from torch import nn

from .._display import Display, given_axes
from ._adapters import flatten_steps, unwrap
from ._plotting import _new_axes

__all__ = ["FiltersDisplay", "plot_filters"]


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
