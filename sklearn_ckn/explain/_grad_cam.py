"""Class activation maps for CNNs and CKN models: Grad-CAM, HiResCAM and LayerCAM.

For an image, a class ``c`` with score ``y_c`` and the ``K`` feature maps ``A_k``
(``h x w``) of a target layer, with gradients ``G_k = d y_c / d A_k``:

* ``"gradcam"`` (Selvaraju et al., ICCV 2017): ``L = ReLU(sum_k alpha_k A_k)`` with
  ``alpha_k = mean_ij G_k[i, j]`` (one weight per channel, its spatial mean gradient);
* ``"hirescam"`` (Draelos & Carin, 2020): ``L = ReLU(sum_k G_k * A_k)``, element-wise:
  each position keeps its own gradient (for a score that is affine in ``A``, as after
  the last CKN layer, the map before the ReLU sums to ``y_c`` minus its value at
  ``A = 0``);
* ``"layercam"`` (Jiang et al., 2021), the default: ``L = ReLU(sum_k ReLU(G_k) *
  A_k)``, element-wise with positive gradients only.

``L`` is then upsampled to the input's ``H x W`` by bilinear interpolation
(``align_corners=False``) and rescaled to [0, 1] per image: ``(L - min L) / (max L -
min L)``; a map that is zero everywhere stays zero, a constant positive one becomes
all ones.

The score ``y_c`` is a CNN's or CKNClassifier's logit, or a CKN pipeline's
``decision_function`` value (``-s`` / ``+s`` for two classes). See
:mod:`sklearn_ckn.explain._adapters` for how estimators become differentiable and for
the default target layer.
"""

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .._images import iter_batches
from ._adapters import as_differentiable
from ._docs import example_doc

__all__ = ["METHODS", "cam_from_gradients", "check_method", "grad_cam"]

METHODS = ("layercam", "hirescam", "gradcam")


def check_method(method):
    """Validate a ``method`` name (one of :data:`METHODS`)."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}.")
    return method


def cam_from_gradients(activations, gradients, size, normalize=True, method="layercam"):
    """Class activation maps from a layer's activations and the class scores' gradients.

    Parameters
    ----------
    activations, gradients : Tensor of shape (b, K, h, w)
    size : (int, int)
        Output ``(H, W)``.
    normalize : bool, default=True
        Rescale each map to [0, 1].
    method : {"layercam", "hirescam", "gradcam"}, default="layercam"
        How gradients weight the activations (see the module docstring).

    Returns
    -------
    maps : Tensor of shape (b, H, W), float64
    """
    check_method(method)
    act = activations.double()
    grad = gradients.double()
    if method == "gradcam":
        weights = grad.mean(dim=(2, 3), keepdim=True)
    elif method == "hirescam":
        weights = grad
    else:
        weights = torch.relu(grad)
    cam = torch.relu((weights * act).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    if not normalize:
        return cam
    flat = cam.flatten(1)
    lo = flat.amin(dim=1)[:, None, None]
    hi = flat.amax(dim=1)[:, None, None]
    span = hi - lo
    varying = span > 1e-9 * hi.abs().clamp_min(1e-30)
    scaled = (cam - lo) / torch.where(varying, span, torch.ones_like(span))
    constant = torch.where(hi > 0, torch.ones_like(cam), torch.zeros_like(cam))
    return torch.where(varying, scaled, constant)


@example_doc
def grad_cam(estimator, X, target=None, *, method="layercam", layer=None, batch_size=64,
             normalize=True, return_targets=False):
    """Class activation maps (Grad-CAM and variants) of a fitted CNN or CKN pipeline.

    Parameters
    ----------
    estimator : CNNClassifier, CKNClassifier or Pipeline
        A fitted :class:`~sklearn_ckn.CNNClassifier` or :class:`~sklearn_ckn.CKNClassifier`
        (supervised CKN), or a fitted pipeline
        ``CKNTransformer -> [StandardScaler | Normalizer | MaxAbsScaler | MinMaxScaler
        | RobustScaler]* -> linear classifier`` with ``coef_`` and ``intercept_``
        (``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``,
        ``SGDClassifier``, ``TorchLinearSVC``; a nested pipeline as last step, e.g.
        from :func:`sklearn_ckn.svm.make_linear_classifier`, is flattened).
    X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        Images, as the estimator takes them.
    target : label, array-like of shape (n,) or None, default=None
        Class to explain for each image (values of ``classes_``), or one label for
        all. None: the predicted class (the highest score of the explained forward
        pass; for a CNN with test-time augmentation or mixed precision, its
        ``predict``).
    method : {"layercam", "hirescam", "gradcam"}, default="layercam"
        How the gradients weight the feature maps: element-wise with positive
        gradients only (LayerCAM), element-wise (HiResCAM), or by their spatial mean
        per channel (classic Grad-CAM). LayerCAM is the default: Grad-CAM's
        per-channel weights also light up look-alike patterns that the model does not
        use, and LayerCAM's maximum fell on the informative pattern most often
        (``benchmarks/bench_localisation.py``, figures in ``docs/explain.md``).
    layer : int, str, nn.Module or None, default=None
        Target layer. CNN: a sub-module name of ``module_`` (e.g.
        ``"features.stage2"``) or the module itself. CKN pipeline: index of a CKN
        layer (negative allowed), whose kernel embedding before pooling is used
        (also for a ``CKNClassifier``).
        None: chosen from the map resolution, the deepest candidate layer (CNN:
        blocks of ``module_.features`` with a convolution; CKN: every layer) whose
        map's shorter side is at least ``min(7, ceil(min(H, W) / 2))``, else the
        candidate with the largest map.
    batch_size : int, default=64
        Images per forward/backward pass.
    normalize : bool, default=True
        Rescale each map to [0, 1]; False returns the raw upsampled maps.
    return_targets : bool, default=False
        Also return the explained labels.

    Returns
    -------
    maps : ndarray of shape (n, H, W), float32
        One heat map per image, values in [0, 1] when ``normalize``.
    targets : ndarray of shape (n,)
        The explained labels (only when ``return_targets``).

    Raises
    ------
    TypeError
        For an estimator that cannot be explained (e.g. a k-NN pipeline).
    ValueError
        For an unfitted estimator (``NotFittedError``), unknown target labels,
        methods or layers, invalid images.

    See Also
    --------
    sklearn_ckn.explain.plot_grad_cam : The maps of several models, drawn side by side.
    sklearn_ckn.explain.pointing_game : Scores maps against known object locations.

    Examples
    --------
    {fitted_pipeline}
    >>> from sklearn_ckn.explain import grad_cam
    >>> maps = grad_cam(model, X[:4], method="hirescam")
    >>> maps.shape, float(maps.min()) >= 0, float(maps.max()) <= 1
    ((4, 12, 12), True, True)
    """
    if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
            or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    check_method(method)
    model = as_differentiable(estimator)
    images = model.validate(X)
    n, height, width = images.shape[:3]
    key = model.resolve_layer(layer, images.shape[1:])
    if target is None and not model.forward_predicts:
        target = model.estimator.predict(X)
    target_idx = None if target is None else model.encode(target, n)
    maps = np.empty((n, height, width), dtype=np.float32)
    chosen = np.empty(n, dtype=np.int64)
    # Autograd is needed even when called under no_grad() or inference_mode().
    with torch.inference_mode(False), torch.enable_grad():
        for sl in iter_batches(n, int(batch_size)):
            x = model.to_tensor(images[sl])
            idx = None
            if target_idx is not None:
                idx = torch.as_tensor(target_idx[sl], device=model.device)
            act, grad, _, idx = model.activations_and_gradients(x, key, idx)
            cam = cam_from_gradients(act, grad, (height, width), normalize=normalize,
                                     method=method)
            maps[sl] = cam.cpu().numpy()
            chosen[sl] = idx.cpu().numpy()
    if return_targets:
        return maps, model.classes_[chosen]
    return maps
