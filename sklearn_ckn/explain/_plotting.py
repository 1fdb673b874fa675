"""Figures for explaining image classifiers: Grad-CAM overlays and first-layer filters.

* :func:`plot_grad_cam`: one row per image, the original image titled with its true
  class (``"Original: airplane"``) and, per model, the Grad-CAM heat map (jet colour
  map) over the image, titled with the model's prediction
  (``"Grad-CAM (CNN): airplane"``; red when it is wrong);
* :func:`plot_filters`: the first-layer filters of a CNN (convolution kernels) or a
  CKN (anchor points reshaped to patches; for a whitened first layer, mapped back to
  pixel space through the pseudo-inverse of the whitening), each rescaled to [0, 1].

Figures are :class:`matplotlib.figure.Figure` objects on the Agg canvas: nothing is
shown and pyplot's state is untouched; save them with ``fig.savefig(path)``.
"""

import math

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from torch import nn

from .._plotting import _class_name, _new_figure
from ._grad_cam import grad_cam
from ._adapters import _flatten_steps, _unwrap, as_differentiable

__all__ = ["plot_grad_cam", "plot_filters"]


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
    if names is None:
        families = [as_differentiable(e).family.upper() for e in estimators]
        names = [
            f"{f} {families[:i + 1].count(f)}" if families.count(f) > 1 else f
            for i, f in enumerate(families)
        ]
    return estimators, names


def _per_model(value, n_models, what):
    if isinstance(value, (list, tuple)):
        if len(value) != n_models:
            raise ValueError(f"{what} has {len(value)} values for {n_models} estimators.")
        return list(value)
    return [value] * n_models


def plot_grad_cam(
    estimators,
    X,
    y_true=None,
    target_names=None,
    model_names=None,
    alpha=0.5,
    *,
    target=None,
    layer=None,
    batch_size=64,
    cmap="jet",
    title=None,
):
    """Grad-CAM of one or several models side by side: one row per image.

    Parameters
    ----------
    estimators : estimator, list of estimators or dict
        Fitted ``CNNClassifier`` and/or CKN pipelines (see :func:`grad_cam`); a dict
        maps model names to estimators.
    X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        The images (a handful: one row each).
    y_true : array-like of shape (n,), default=None
        True labels, shown over the original images (``"Original: <name>"``); wrong
        predictions get a red title.
    target_names : list of str, default=None
        Display names of integer labels (``target_names[label]``).
    model_names : list of str, default=None
        Column names; default ``"CNN"`` / ``"CKN"`` (numbered when repeated).
    alpha : float, default=0.5
        Opacity of the heat map over the image.
    target : label, array-like or None, default=None
        Class explained in every model (see :func:`grad_cam`); default the model's
        prediction. Titles always show the prediction.
    layer : layer, list of layers or None, default=None
        Target layer for all models, or one per model (see :func:`grad_cam`).
    batch_size : int, default=64
        Passed to :func:`grad_cam`.
    cmap : str, default="jet"
        Colour map of the heat maps.
    title : str, default=None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    estimators, names = _as_models(estimators, model_names)
    layers = _per_model(layer, len(estimators), "layer")
    if not 0 <= float(alpha) <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}.")
    images = as_differentiable(estimators[0]).validate(X)
    n = images.shape[0]
    if y_true is not None:
        y_true = np.asarray(y_true)
        if y_true.shape != (n,):
            raise ValueError(f"y_true has shape {y_true.shape}, expected ({n},).")
    results = []
    for est, lay in zip(estimators, layers):
        maps, explained = grad_cam(est, X, target, layer=lay, batch_size=batch_size,
                                   return_targets=True)
        predicted = explained if target is None else np.asarray(est.predict(X))
        results.append((maps, predicted))

    ncols = 1 + len(estimators)
    fig = _new_figure((2.1 * ncols, 2.2 * n + (0.4 if title else 0.0)))
    if title:
        fig.suptitle(title, fontsize=11)
    axes = fig.subplots(n, ncols, squeeze=False)
    for i in range(n):
        shown = _display_image(images[i])
        grey = shown.ndim == 2
        img_kw = dict(cmap="gray" if grey else None, vmin=0, vmax=1, interpolation="nearest")
        ax = axes[i, 0]
        ax.imshow(shown, **img_kw)
        label = "Original"
        if y_true is not None:
            label += f": {_class_name(y_true[i], target_names)}"
        ax.set_title(label, fontsize=8)
        for j, (name, (maps, predicted)) in enumerate(zip(names, results), start=1):
            ax = axes[i, j]
            ax.imshow(shown, **img_kw)
            ax.imshow(maps[i], cmap=cmap, alpha=float(alpha), vmin=0, vmax=1,
                      interpolation="bilinear")
            head = "Grad-CAM" if (len(names) == 1 and model_names is None) else f"Grad-CAM ({name})"
            wrong = y_true is not None and predicted[i] != y_true[i]
            ax.set_title(f"{head}: {_class_name(predicted[i], target_names)}", fontsize=8,
                         color="tab:red" if wrong else "black")
        for ax in axes[i]:
            ax.set_axis_off()
    return fig


# -- first-layer filters ------------------------------------------------------------------
def _first_conv(net):
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError("The network has no Conv2d layer.")


def _ckn_first_layer_filters(ckn):
    """First-layer anchors as ``(F, C, p, p)`` pixel-space patches, and a description."""
    layer = ckn.network_.layers[0]
    p, c = layer.patch_size, layer.in_channels
    anchors = layer.anchors.detach().to("cpu", torch.float64)
    if layer.whitening:
        # Patches x are whitened as y = A x + b; the patch whose whitened version is the
        # anchor z (up to the per-channel means that centring removes) is pinv(A) z.
        a = layer.white_weight.detach().to("cpu", torch.float64).reshape(layer.patch_dim, -1)
        patches = anchors @ torch.linalg.pinv(a, rtol=1e-6).T
        how = "anchors mapped to pixel space (pseudo-inverse of the whitening)"
    else:
        patches = anchors
        how = "anchors"
    return patches.reshape(-1, c, p, p).numpy(), how


def plot_filters(estimator, n_filters=None, *, ncols=None, title=None):
    """The first-layer filters of a fitted CNN or CKN as an image grid.

    Parameters
    ----------
    estimator : CNNClassifier, CKNTransformer or Pipeline
        A fitted ``CNNClassifier`` (its first ``Conv2d`` kernels), or a fitted
        ``CKNTransformer`` / pipeline starting with one (its first layer's anchor
        points reshaped to ``p x p`` patches). Anchors of a whitened first layer
        (colour images) live in whitened patch space; they are shown mapped back to
        pixel space through the pseudo-inverse of the (centring + ZCA) whitening map,
        i.e. as the zero-mean patch whose whitened version is the anchor.
    n_filters : int, default=None
        Show the first ``n_filters`` filters (default all).
    ncols : int, default=None
        Filters per row (default ``min(8, n)``).
    title : str, default=None
        Figure title; default says what is shown.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per filter, rescaled to [0, 1] per filter (all its channels
        together, so colours keep their balance); 3-channel filters in colour,
        others in grey (the mean over channels when there are not 1 or 3).
    """
    from ..ckn import CKNTransformer
    from ..cnn._classifier import CNNClassifier

    est = _unwrap(estimator)
    if isinstance(est, Pipeline):
        steps = _flatten_steps(est)
        est = steps[0][1] if steps else est
    if isinstance(est, CNNClassifier):
        if not hasattr(est, "network_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This CNNClassifier is not fitted yet.")
        name, conv = _first_conv(est.network_)
        weights = conv.weight.detach().to("cpu", torch.float64).numpy()
        what = f"CNN first convolution ({name})"
    elif isinstance(est, CKNTransformer):
        if not hasattr(est, "network_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This CKNTransformer is not fitted yet.")
        weights, how = _ckn_first_layer_filters(est)
        what = f"CKN first layer: {how}"
    else:
        raise TypeError(
            "plot_filters supports a fitted CNNClassifier, a fitted CKNTransformer or a "
            f"Pipeline starting with one; got {type(estimator).__name__}."
        )
    total = weights.shape[0]
    if n_filters is not None:
        if (isinstance(n_filters, bool) or not isinstance(n_filters, (int, np.integer))
                or n_filters < 1):
            raise ValueError(f"n_filters must be a positive integer, got {n_filters!r}.")
        weights = weights[: int(n_filters)]
    n = weights.shape[0]
    ncols = min(8, n) if ncols is None else max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    fig = _new_figure((1.0 * ncols + 0.4, 1.0 * nrows + 0.7))
    _, c, kh, kw = weights.shape
    fig.suptitle(title or f"{what}\n{n} of {total} filters, {kh}x{kw}x{c}", fontsize=9)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, w in zip(axes.ravel(), weights):
        lo, hi = w.min(), w.max()
        w = (w - lo) / (hi - lo) if hi > lo else np.full_like(w, 0.5)
        if c == 3:
            ax.imshow(w.transpose(1, 2, 0), interpolation="nearest")
        else:
            ax.imshow(w[0] if c == 1 else w.mean(axis=0), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig
