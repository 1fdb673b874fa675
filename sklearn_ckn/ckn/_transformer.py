"""The unsupervised convolutional kernel network as a scikit-learn transformer."""

import math
import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._compat import (
    DOC_LINK_MODULE,
    DOC_LINK_TEMPLATE,
    Interval,
    StrOptions,
    check_feature_names_in,
    doc_link_url_params,
    fit_context,
)
from .._dask import is_dask_array, transform_dask
from .._device import resolve_device
from .._images import images_to_tensor, iter_batches, validate_images
from .._progress import progress
from .._threads import torch_threads
from .._torch_estimator import network_from_spec, state_to_numpy
from ..core.kernels import KERNELS
from ..core.layers import CKNSequential
from ..core.patches import patch_norms
from ..core.pooling import pooled_size
from ..core.unsupervised import fit_ckn_unsupervised

__all__ = ["CKNTransformer"]


def _per_layer(name, value, n_layers, kind):
    """Broadcast a scalar (or 1-tuple) to ``n_layers`` values and check their type."""
    values = list(np.ravel(value)) if isinstance(value, np.ndarray) else (
        list(value) if isinstance(value, (tuple, list)) else [value]
    )
    if len(values) == 1:
        values = values * n_layers
    if len(values) != n_layers:
        raise ValueError(
            f"{name} has {len(values)} values but the network has {n_layers} layers "
            "(set by the longest per-layer parameter); give one value or one per layer."
        )
    for v in values:
        if kind == "int" and not (isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= 1):
            raise ValueError(f"{name} must hold integers >= 1, got {value!r}.")
        if kind == "float":
            if not (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and v > 0):
                raise ValueError(f"{name} must hold positive numbers, got {value!r}.")
            if not math.isfinite(v) or v < MIN_SIGMA:
                raise ValueError(
                    f"{name} must hold finite numbers >= {MIN_SIGMA:g}, got {value!r}: the "
                    "'exp' kernel exp((u - 1) / sigma^2) of smaller bandwidths is 0 for every "
                    "patch that is not an exact copy of an anchor (useful values lie "
                    "around 0.3-1; the default is 0.6)."
                )
        if kind == "kernel" and v not in KERNELS:
            raise ValueError(f"{name} must hold kernel names among {sorted(KERNELS)}, got {value!r}.")
    if kind == "int":
        return [int(v) for v in values]
    if kind == "float":
        return [float(v) for v in values]
    return list(values)


def _n_layers(*values):
    """Depth of the network: the length of the longest per-layer parameter."""
    return max(len(np.ravel(v)) if isinstance(v, (tuple, list, np.ndarray)) else 1 for v in values)


#: Side of the last map that ``subsamplings="auto"`` aims at.
AUTO_FINAL_SIZE = 4

#: Images whose features ``normalize`` learns its statistics from.
NORMALIZE_SAMPLE = 4096

#: Standard deviation of every feature after ``normalize`` (``"standard"`` or
#: ``"l2-standard"``).
NORMALIZE_STD = 0.1

#: Training images on which ``fit`` checks that the kernel values do not underflow.
SIGMA_CHECK_IMAGES = 64

#: Smallest accepted bandwidth (below it, 1 / sigma^2 is of no use and soon overflows).
MIN_SIGMA = 1e-3


#: Filters of ``n_filters="auto"``: the first layer's, then every later layer's.
AUTO_FILTERS = (64, 256)

#: ``n_filters="auto"`` doubles every layer's filters when the last layer's input map
#: has at most this many positions (8x8): its cost per image is then that of the
#: undoubled network on a 16x16 map (32x32 images, e.g. CIFAR-10).
AUTO_WIDE_MAX_POSITIONS = 64


def auto_n_filters(map_height, map_width, n_layers):
    """The filters of ``n_filters="auto"`` for a network whose last layer sees ``h x w``.

    ``(64, 256)`` for two layers (``(64, 256, 256)`` for three, and so on), with every
    count doubled when the last layer's input map has at most 64 positions (images up
    to 16x16 with ``subsamplings="auto"``, e.g. scikit-learn's 8x8 digits): the second
    layer's cost grows with its positions times the product of the two layers'
    filters, so the doubled network costs on an 8x8 map what ``(64, 256)`` costs on
    the 16x16 map of a 32x32 image.

    Parameters
    ----------
    map_height, map_width : int
        Size of the map entering the last layer.
    n_layers : int
        Number of layers.

    Returns
    -------
    n_filters : tuple of int

    Examples
    --------
    >>> from sklearn_ckn.ckn._transformer import auto_n_filters
    >>> auto_n_filters(14, 14, 2), auto_n_filters(8, 8, 2)
    ((64, 256), (128, 512))
    """
    filters = [AUTO_FILTERS[0]] + [AUTO_FILTERS[1]] * (n_layers - 1)
    scale = 2 if int(map_height) * int(map_width) <= AUTO_WIDE_MAX_POSITIONS else 1
    return tuple(scale * f for f in filters)


def auto_subsamplings(height, width, n_layers):
    """The pooling factors of ``subsamplings="auto"`` for images of ``height x width``.

    With ``m`` the larger side of the map entering a layer (the image for the first):

    * every layer but the last pools by 2 when ``m > 2 * AUTO_FINAL_SIZE`` (8) and
      not at all otherwise, except the first layer of large images (``m > 32``), which
      pools by ``round(m / 16)`` so that the next layers work on maps of about 16;
    * the last layer pools by ``max(1, round(m / AUTO_FINAL_SIZE))``, ending at a map
      of about 4 x 4.

    Two layers give: 8x8 -> (1, 2), final 4x4; 28x28 -> (2, 4), 4x4; 32x32 -> (2, 4),
    4x4; 64x64 -> (4, 4), 4x4; 100x100 -> (6, 4), 5x5.

    Parameters
    ----------
    height, width : int
        Size of the input images.
    n_layers : int
        Number of layers.

    Returns
    -------
    subsamplings : tuple of int

    Examples
    --------
    >>> from sklearn_ckn.ckn._transformer import auto_subsamplings
    >>> auto_subsamplings(28, 28, 2), auto_subsamplings(100, 100, 2)
    ((2, 4), (6, 4))
    """
    m = max(int(height), int(width))
    subs = []
    for i in range(n_layers - 1):
        if i == 0 and m > 32:
            s = int(round(m / 16))
        elif m > 2 * AUTO_FINAL_SIZE:
            s = 2
        else:
            s = 1
        subs.append(s)
        m = -(-m // s)
    subs.append(max(1, int(round(m / AUTO_FINAL_SIZE))))
    return tuple(subs)


def _kernel_diagnostics(network, x, n_layers=None):
    """Forward ``x`` layer by layer; per ``"exp"`` layer, how many patches underflow.

    Returns the last map reached and, per layer with the ``"exp"`` kernel, a dict with
    ``nonzero`` (patches of non-negligible norm), ``dead`` (those whose kernel value is
    0 for every anchor: their features vanish) and ``cos`` (their cosine to the
    nearest anchor). Layers whose anchors are not fitted yet (all zero) stop the loop.
    """
    import torch.nn.functional as F

    out = {}
    x = network.preprocess_input(x)
    for index, layer in enumerate(network.layers[:n_layers]):
        if not bool(layer.anchors.detach().abs().sum() > 0):
            break
        emb = layer.embed(x)
        if layer.kernel == "exp":
            p = layer.patch_size
            pad = p // 2
            xp = F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad))
            anchors = layer.anchors.detach()
            if layer.whitening:
                y = F.conv2d(xp, layer.white_weight, layer.white_bias)
                dots = torch.einsum("fd,bdhw->bfhw", anchors, y)
                norms = y.pow(2).sum(dim=1, keepdim=True).sqrt()
            else:
                dots = F.conv2d(xp, anchors.reshape(layer.n_filters, layer.in_channels, p, p))
                norms = patch_norms(x, p)
            nonzero = (norms > 1e-4 * norms.max().clamp_min(1e-30))[:, 0]
            dead = nonzero & (emb.amax(dim=1) <= 0)
            cos = (dots.amax(dim=1) / norms[:, 0].clamp_min(1e-30))[nonzero]
            out[index] = {
                "nonzero": int(nonzero.sum()),
                "dead": int(dead.sum()),
                "cos": cos.float().cpu().numpy(),
            }
        x = layer.project(layer.pool(emb))
    return x, out


def _sigma_advice(index, sigma, stats):
    """Message for a layer whose kernel values underflow, with a bandwidth to try."""
    frac = stats["dead"] / max(stats["nonzero"], 1)
    cos = stats["cos"]
    low = float(np.quantile(cos, 0.01)) if len(cos) else 0.0
    # exp((u - 1) / sigma^2) >= exp(-20) for 99% of the patches.
    suggestion = math.sqrt(max(1.0 - low, 1e-6) / 20.0)
    digits = -int(math.floor(math.log10(suggestion))) + 1
    suggestion = math.ceil(suggestion * 10**digits) / 10**digits
    return (
        f"sigmas={sigma:g} is too small for layer {index + 1}: for {frac:.1%} of its "
        f"{stats['nonzero']} non-empty training patches checked, the 'exp' kernel "
        f"exp((u - 1) / sigma^2) underflows to 0 for every anchor (their cosine u to the "
        f"nearest anchor is as low as {low:.3f}), so their features are all zero. Use "
        f"sigmas >= {suggestion:g} for this layer (the default is 0.6)."
    )


class CKNTransformer(TransformerMixin, BaseEstimator):
    """Unsupervised convolutional kernel network (CKN) features for images.

    Each layer maps every ``p x p`` patch ``x`` of its input map to
    ``||x|| kappa(Z Z^T)^(-1/2) kappa(Z x / ||x||)``, the Nystrom approximation of the
    dot-product kernel ``kappa(<x, z>)`` on the sphere (by default
    ``kappa(u) = exp((u - 1) / sigma^2)``, a Gaussian kernel on normalised patches)
    with anchor points ``Z`` learned by spherical k-means on patches sampled from the
    training images. The map is then Gaussian-pooled with a subsampling factor, and
    layers are stacked (Mairal, NIPS 2016, unsupervised CKN). The flattened last map,
    normalised per image and scaled per feature (``normalize``), is a feature vector for
    any scikit-learn estimator, typically a linear classifier at its default ``C``:
    ``make_pipeline(CKNTransformer(), LinearSVC())`` needs no scaler.

    Parameters
    ----------
    n_filters : "auto", int or tuple of int, default="auto"
        Anchor points (output channels) per layer. The number of layers is the length
        of the longest per-layer parameter (two at least with ``"auto"``); scalars are
        broadcast. ``"auto"``: ``(64, 256)``, both doubled to ``(128, 512)`` for
        small images (the last layer's input map at most 8x8, e.g. 8x8 digits), which
        then cost what ``(64, 256)`` costs on 32x32 images (see
        :func:`auto_n_filters`); the choice is in ``n_filters_``.
    patch_sizes : int or tuple of int, default=3
        Side of the square patches of each layer (zero padding keeps map sizes).
    subsamplings : "auto", int or tuple of int, default="auto"
        Pooling factor of each layer; a map of size ``n`` becomes ``ceil(n / s)``,
        never smaller than 1x1. ``"auto"`` chooses them from the image size so that
        the last map is about 4x4 (see :func:`auto_subsamplings`): with two layers,
        8x8 -> (1, 2), 28x28 and 32x32 -> (2, 4), 64x64 -> (4, 4), 100x100 -> (6, 4)
        (a 5x5 map); the choice is in ``subsamplings_``.
    sigmas : float or tuple of float, default=0.6
        Bandwidth of the ``"exp"`` kernel of each layer, at least ``1e-3``. ``fit``
        checks on training patches that the kernel does not underflow: a
        ``ValueError`` when most patches of a layer would get all-zero features, a
        ``UserWarning`` when more than 1% would, each naming a bandwidth to use.
    kernel : str or tuple of str, default="exp"
        Dot-product kernel of each layer: ``"exp"``, ``"arccos0"``, ``"arccos1"``,
        ``"poly2"`` or ``"linear"``.
    whitening : {"auto", "local"} or bool, default="auto"
        ``True``: centre each first-layer patch and whiten it with a ZCA map fitted on
        training patches. ``"local"``: whiten every image with its own patches, as in
        Mairal's CIFAR-10 experiments (per-patch mean removal, then half-whitening of
        the image's 3x3 patches; nothing is fitted, see
        :mod:`sklearn_ckn.core.local_whitening`). ``"auto"``: ``True`` for colour
        images (more than one channel), ``False`` for grey ones and for 1x1 first
        patches (which centring would leave empty).
    whitening_reg : float, default=0.1
        Regulariser of the ZCA map (``whitening=True``), relative to the mean
        eigenvalue of the patch covariance: small values whiten fully (and amplify
        noise), large values approach plain centring.
    power : float in (0, 1], default=1.0
        Exponent of the signed power ``sign(f) |f|^power`` applied to every feature
        ``f`` of the last map before ``normalize`` (the power normalisation of
        Perronnin et al., 2010), which damps the few large activations that dominate
        a linear model's dot products; ``1``: none. A parameter to tune: with
        ``LinearSVC()``, ``0.5`` scored 98.99% instead of 98.85% on MNIST (10,000
        training images) but 0.984 instead of 0.987 on scikit-learn's digits.
    normalize : {"l2-standard", "standard"} or None, default="l2-standard"
        Scaling of the output, learned in ``fit`` on (at most 4,096) training
        images, after ``power``. ``"standard"``: centre every output feature and scale
        it to a standard deviation of 0.1, which suits scikit-learn's linear models at
        their default ``C`` (it is ``StandardScaler()`` followed by ``C=0.01`` in their
        terms, the setting tuned for CKN features). ``"l2-standard"``: divide each
        image's map by its L2 norm first (the per-image normalisation of the
        reference implementation), then as ``"standard"``. None: the last map after
        ``power`` only.
    n_patches : int, default=100_000
        Patches sampled per layer, uniformly over images and positions, for k-means.
    kmeans_max_iter : int, default=20
        Maximum spherical k-means iterations per layer.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` of the images when ``X`` is 2-D (rows are
        flattened channels-last images). If None, 2-D rows are square grey images
        when their length is a perfect square, else ``1 x d`` images (1-D signals).
    batch_size : int, default=256
        Images per batch in ``fit`` and ``transform``: memory is bounded by the output
        plus one batch's working set.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The
        whole fit and transform run on that device.
    mixed_precision : bool, default=False
        Whether ``transform`` computes the patch-anchor products, most of its work,
        in bfloat16 (the kernel, pooling and Nystrom projection stay in float32).
        2.2x faster on a CPU with AMX units (recent Xeons), faster on GPUs, slower
        on CPUs without bfloat16 units. On CIFAR-10 the raw features moved by 4%
        (relative norm); a linear SVM trained on 5,000 images scored the same within
        noise, one trained on 100,000 (with mirrors) about a point lower (82.17%
        against 83.19%; see ``docs/ckn.md``). ``fit`` learns the anchors in
        float32 either way; the feature normalisation is learned on features
        computed as ``transform`` computes them.
    n_jobs : int, default=None
        CPU threads (torch and BLAS) of ``fit`` and ``transform``, restored
        afterwards. None: one thread inside a joblib worker (``GridSearchCV(n_jobs=2)``,
        ``cross_val_score(n_jobs=2)``...), where the workers already share the cores,
        and torch's current setting elsewhere; ``k``: ``k`` threads; -1: all cores.
        On a busy machine, also set ``OMP_WAIT_POLICY=PASSIVE`` (see ``docs/ckn.md``).
    random_state : int, RandomState instance or None, default=None
        Controls the patch sampling and the k-means initialisation.
    verbose : int, default=0
        Print per-layer information and show progress bars.

    Attributes
    ----------
    network_ : CKNSequential
        The fitted torch network (pickled as NumPy arrays and rebuilt on loading,
        on the CPU).
    n_layers_ : int
        Number of layers.
    n_filters_ : tuple of int
        The filters of every layer (``n_filters`` resolved).
    subsamplings_ : tuple of int
        The pooling factors used (``subsamplings`` resolved).
    normalize_rows_ : bool
        Whether each image's map is divided by its L2 norm (``"l2-standard"``).
    normalize_norm_floor_ : float
        With ``normalize_rows_``: the map ``m`` is divided by
        ``max(||m||, normalize_norm_floor_)``, a thousandth of the training images'
        median norm (nearly blank images are not blown up to unit norm).
    normalize_shift_, normalize_scale_ : ndarray of shape (`n_features_out_`,)
        ``transform`` returns ``(f - normalize_shift_) / normalize_scale_`` (float32),
        ``f`` being the flattened map after ``power``, divided by its floored L2 norm
        when ``normalize_rows_``. These attributes are absent with ``normalize=None``.
    image_shape_ : tuple of int
        ``(H, W, C)`` of the training images.
    output_shape_ : tuple of int
        ``(channels, height, width)`` of the last map; ``n_features_out_`` is its
        product.
    n_features_out_ : int
        Number of output features.
    fit_stats_ : list of dict
        Per layer: usable patches and the k-means objective at each iteration.
    fit_time_ : float
        Seconds spent in ``fit``.
    n_features_in_ : int
        Number of input features (pixels times channels).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input columns, when ``X`` was a DataFrame.

    See Also
    --------
    sklearn.kernel_approximation.Nystroem : Nystrom approximation of a kernel on vectors.

    References
    ----------
    J. Mairal. End-to-End Kernel Learning with Supervised Convolutional Kernel
    Networks. NIPS 2016.

    J. Mairal, P. Koniusz, Z. Harchaoui, C. Schmid. Convolutional Kernel Networks.
    NIPS 2014.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import LinearSVC
    >>> from sklearn_ckn import CKNTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> ckn = CKNTransformer(n_filters=(16, 32), image_shape=(8, 8), random_state=0)
    >>> ckn.fit_transform(X[:500]).shape
    (500, 512)
    >>> ckn.subsamplings_, ckn.output_shape_
    ((1, 2), (32, 4, 4))
    >>> model = make_pipeline(ckn, LinearSVC()).fit(X[:1000], y[:1000])
    >>> bool(model.score(X[1000:], y[1000:]) > 0.9)
    True
    """

    _doc_link_module = DOC_LINK_MODULE  # the HTML repr links to the API page
    _doc_link_template = DOC_LINK_TEMPLATE
    _doc_link_url_param_generator = doc_link_url_params

    _parameter_constraints = {
        "n_filters": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
            tuple,
            list,
            np.ndarray,
        ],
        "patch_sizes": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "subsamplings": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
            tuple,
            list,
            np.ndarray,
        ],
        "sigmas": [Interval(numbers.Real, 0, None, closed="neither"), tuple, list, np.ndarray],
        "kernel": [StrOptions(set(KERNELS)), tuple, list],
        "whitening": [StrOptions({"auto", "local"}), "boolean"],
        "whitening_reg": [Interval(numbers.Real, 0, None, closed="left")],
        "power": [Interval(numbers.Real, 0, 1, closed="right")],
        "normalize": [StrOptions({"standard", "l2-standard"}), None],
        "n_patches": [Interval(numbers.Integral, 1, None, closed="left")],
        "kmeans_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "mixed_precision": ["boolean"],
        "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_filters="auto",
        patch_sizes=3,
        subsamplings="auto",
        sigmas=0.6,
        kernel="exp",
        whitening="auto",
        whitening_reg=0.1,
        power=1.0,
        normalize="l2-standard",
        n_patches=100_000,
        kmeans_max_iter=20,
        image_shape=None,
        batch_size=256,
        device="auto",
        mixed_precision=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_filters = n_filters
        self.patch_sizes = patch_sizes
        self.subsamplings = subsamplings
        self.sigmas = sigmas
        self.kernel = kernel
        self.whitening = whitening
        self.whitening_reg = whitening_reg
        self.power = power
        self.normalize = normalize
        self.n_patches = n_patches
        self.kmeans_max_iter = kmeans_max_iter
        self.image_shape = image_shape
        self.batch_size = batch_size
        self.device = device
        self.mixed_precision = mixed_precision
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- construction ----------------------------------------------------------------
    def _layer_specs(self, height, width, n_channels):
        """Constructor arguments of every layer, and the resolved subsamplings."""
        auto = isinstance(self.subsamplings, str) and self.subsamplings == "auto"
        auto_filters = isinstance(self.n_filters, str) and self.n_filters == "auto"
        per_layer = [self.patch_sizes, self.sigmas, self.kernel]
        if not auto:
            per_layer.append(self.subsamplings)
        if auto_filters:
            n_layers = max(len(AUTO_FILTERS), _n_layers(*per_layer))
        else:
            n_layers = _n_layers(self.n_filters, *per_layer)
        patches = _per_layer("patch_sizes", self.patch_sizes, n_layers, "int")
        if auto:
            subs = list(auto_subsamplings(height, width, n_layers))
        else:
            subs = _per_layer("subsamplings", self.subsamplings, n_layers, "int")
        if auto_filters:
            h, w = height, width
            for s in subs[:-1]:
                h, w = pooled_size(h, s), pooled_size(w, s)
            filters = list(auto_n_filters(h, w, n_layers))
        else:
            filters = _per_layer("n_filters", self.n_filters, n_layers, "int")
        sigmas = _per_layer("sigmas", self.sigmas, n_layers, "float")
        kernels = _per_layer("kernel", self.kernel, n_layers, "kernel")
        local = isinstance(self.whitening, str) and self.whitening == "local"
        # Whitening centres each patch channel by channel: nothing is left of a
        # 1x1 patch, so "auto" leaves such first layers unwhitened and True refuses them.
        if isinstance(self.whitening, str) and self.whitening == "auto":
            whiten = n_channels > 1 and patches[0] > 1
        else:
            whiten = not local and bool(self.whitening)
        if whiten and patches[0] == 1:
            raise ValueError(
                "whitening=True centres every first-layer patch channel by channel, which "
                "leaves nothing of 1x1 patches: use patch_sizes of at least 2 for the first "
                "layer, or whitening=False (or 'local')."
            )
        specs, in_channels = [], n_channels
        for i in range(n_layers):
            specs.append(
                {
                    "in_channels": int(in_channels),
                    "n_filters": filters[i],
                    "patch_size": patches[i],
                    "subsampling": subs[i],
                    "kernel": kernels[i],
                    "sigma": sigmas[i],
                    "whitening": bool(whiten and i == 0),
                }
            )
            in_channels = filters[i]
        preprocess = {"patch_size": 3} if local else None
        return {"layers": specs, "preprocess": preprocess}

    def _transform_device(self):
        """Device for transform: the requested one, or the CPU if it vanished."""
        try:
            return resolve_device(self.device)
        except ValueError:
            if self.device == "auto" or not str(self.device).startswith("cuda"):
                raise
            warnings.warn(
                f"This CKNTransformer was set to device={self.device!r} but CUDA is not "
                "available here; transforming on the CPU.",
                RuntimeWarning,
                stacklevel=3,
            )
            return torch.device("cpu")

    # -- scikit-learn API ------------------------------------------------------------
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the whitening (optional), the anchors of every layer and the scaling.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Training images, ``uint8`` (scaled to [0, 1]) or any numeric dtype.
        y : None
            Ignored.

        Returns
        -------
        self : CKNTransformer
            The fitted transformer.
        """
        with torch_threads(self.n_jobs):
            images, sample = self._fit(X)
            if self.normalize is not None:
                features = self._apply_power(self._raw_features(images[sample]))
                self._fit_normalization(features)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its features (one pass over the images).

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Training images.
        y : None
            Ignored.

        Returns
        -------
        features : ndarray of shape (n, `n_features_out_`), dtype float32
            The same as ``fit(X).transform(X)``.
        """
        with torch_threads(self.n_jobs):
            images, sample = self._fit(X)
            out = self._apply_power(self._raw_features(images))
            if self.normalize is not None:
                self._fit_normalization(out[sample])
                self._apply_normalization(out)
        return out

    def _fit(self, X):
        """Fit the network; return the validated images and the normalisation sample."""
        start = time.perf_counter()
        device = resolve_device(self.device)
        images = validate_images(self, X, reset=True, image_shape=self.image_shape)
        n, height, width, channels = images.shape
        spec = self._layer_specs(height, width, channels)
        network = CKNSequential.from_config(spec)
        p = network.layers[0].patch_size
        # A 1-pixel-high map (1-D signal) is the one case where patches are taller
        # than the image: its zero-padded patches are 1-D patches.
        if width < p or (height < p and height != 1):
            raise ValueError(
                f"Images of size {height}x{width} ({height * width * channels} feature(s)) "
                f"are smaller than the first layer's {p}x{p} patches; use smaller "
                "patch_sizes or larger images."
            )
        network.to(device)
        rng = check_random_state(self.random_state)

        def load_batch(ids):
            return images_to_tensor(images[ids], device)

        seed = int(rng.randint(np.iinfo(np.int32).max))
        sample = np.sort(rng.permutation(n)[:NORMALIZE_SAMPLE]) if n > NORMALIZE_SAMPLE else np.arange(n)
        check = sample[:SIGMA_CHECK_IMAGES]
        try:
            self.fit_stats_ = fit_ckn_unsupervised(
                network,
                load_batch,
                n,
                n_patches=self.n_patches,
                kmeans_max_iter=self.kmeans_max_iter,
                whitening_reg=self.whitening_reg,
                batch_size=self.batch_size,
                seed=seed,
                verbose=self.verbose,
            )
        except ValueError as exc:
            # A later layer without usable patches is often an earlier layer whose
            # kernel underflowed (too small a sigma): say so rather than "n_patches".
            if "usable" in str(exc):
                self._check_kernel_underflow(network, load_batch(check), exc)
            raise
        self._check_kernel_underflow(network, load_batch(check))
        self.network_ = network.eval()
        self.n_layers_ = len(network)
        self.n_filters_ = tuple(layer["n_filters"] for layer in spec["layers"])
        self.subsamplings_ = tuple(layer["subsampling"] for layer in spec["layers"])
        self.output_shape_ = tuple(int(s) for s in network.output_shape(height, width))
        self.n_features_out_ = int(np.prod(self.output_shape_))
        for attr in ("normalize_shift_", "normalize_scale_", "normalize_rows_",
                     "normalize_norm_floor_"):
            self.__dict__.pop(attr, None)
        self.fit_time_ = time.perf_counter() - start
        return images, sample

    def _check_kernel_underflow(self, network, x, cause=None):
        """Raise (most patches) or warn (some) when "exp" kernel values underflow to 0."""
        with torch.no_grad():
            _, stats = _kernel_diagnostics(network, x)
        for index, st in stats.items():
            frac = st["dead"] / max(st["nonzero"], 1)
            if frac >= 0.5 or (cause is not None and frac > 0):
                raise ValueError(_sigma_advice(index, network.layers[index].sigma, st)) from cause
            if frac >= 0.01:
                warnings.warn(_sigma_advice(index, network.layers[index].sigma, st), UserWarning,
                              stacklevel=4)

    def _raw_features(self, images):
        """Flattened last maps of ``images`` (validated), before any normalisation."""
        device = self._transform_device()
        network = self.network_
        if next(network.buffers()).device != device:
            network = self.network_ = network.to(device)
        out = np.empty((images.shape[0], self.n_features_out_), dtype=np.float32)
        batches = list(iter_batches(images.shape[0], self.batch_size))
        # Under autocast the layers run only their patch products in bfloat16.
        mixed = torch.autocast(device.type, dtype=torch.bfloat16,
                               enabled=bool(getattr(self, "mixed_precision", False)))
        with torch.inference_mode(), mixed:
            for sl in progress(batches, verbose=self.verbose, desc="CKN transform"):
                feats = network(images_to_tensor(images[sl], device))
                out[sl] = feats.reshape(feats.shape[0], -1).cpu().numpy()
        return out

    def _apply_power(self, out, chunk=256):
        """``sign(f) |f|^power`` in place, on blocks of rows that stay in cache."""
        power = float(self.power)
        if power != 1.0:
            for start in range(0, out.shape[0], chunk):
                block = out[start : start + chunk]
                sign = np.sign(block)
                np.abs(block, out=block)
                if power == 0.5:
                    np.sqrt(block, out=block)
                else:
                    np.power(block, power, out=block)
                block *= sign
        return out

    def _fit_normalization(self, features):
        """Per-feature centring and scaling learned on training features."""
        self.normalize_rows_ = self.normalize == "l2-standard"
        f = features.astype(np.float64)
        if self.normalize_rows_:
            norms = np.sqrt(np.einsum("ij,ij->i", f, f))
            # Nearly blank images are not blown up to unit norm: norms are floored at
            # a thousandth of the training images' median norm.
            median = float(np.median(norms))
            self.normalize_norm_floor_ = 1e-3 * median if median > 0 else 1.0
            f /= np.maximum(norms, self.normalize_norm_floor_)[:, None]
        mean = f.mean(axis=0)
        std = f.std(axis=0)
        # Features that barely vary (e.g. image corners no stroke reaches) are not
        # blown up: their scale is floored at a hundredth of the mean scale.
        floor = 0.01 * std.mean() if std.mean() > 0 else 1.0
        std = np.maximum(std, floor)
        self.normalize_shift_ = mean.astype(np.float32)
        self.normalize_scale_ = (std / NORMALIZE_STD).astype(np.float32)

    def _apply_normalization(self, out, chunk=256):
        # In place, on blocks of rows that stay in cache; the norms are summed in
        # float64, but no float64 copy of the features is made (it cost as much as
        # a tenth of a 256/1024 network's forward pass).
        for start in range(0, out.shape[0], chunk):
            block = out[start : start + chunk]
            if getattr(self, "normalize_rows_", False):
                norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
                norms = np.maximum(norms, self.normalize_norm_floor_).astype(np.float32)
                block /= norms[:, None]
            block -= self.normalize_shift_
            block /= self.normalize_scale_
        return out

    def transform(self, X):
        """Compute the CKN features of images, batch by batch.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Images of the training images' size and channel count.

        Returns
        -------
        features : ndarray of shape (n, `n_features_out_`), dtype float32
            The flattened last map, in (channel, row, column) order, raised to the
            signed ``power``, then scaled as ``normalize`` says (see the attributes
            ``normalize_*_``).
        """
        check_is_fitted(self, "network_")
        if is_dask_array(X):  # lazy features, chunked like X
            return transform_dask(self, X)
        images = validate_images(self, X, reset=False, image_shape=self.image_shape)
        with torch_threads(self.n_jobs):
            out = self._raw_features(images)
        self._apply_power(out)
        if getattr(self, "normalize_shift_", None) is not None:
            self._apply_normalization(out)
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names ``ckn_c{channel}_y{row}_x{column}``.

        Parameters
        ----------
        input_features : array-like of str or None
            Ignored (checked against the fitted input names if given).

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``ckn_c{channel}_y{row}_x{column}`` for each output feature.
        """
        check_is_fitted(self, "network_")
        check_feature_names_in(self, input_features, generate_names=False)
        c, h, w = self.output_shape_
        cc, yy, xx = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
        names = [f"ckn_c{a}_y{b}_x{d}" for a, b, d in zip(cc.ravel(), yy.ravel(), xx.ravel())]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -- persistence: NumPy arrays and a constructor spec, never torch objects ---------
    def __getstate__(self):
        """The state to pickle: the fitted network as ``_network_state`` (NumPy arrays).

        The torch network is replaced by its constructor spec and its tensors as NumPy
        arrays (on the CPU), so that the state holds only builtins and arrays: it
        pickles anywhere, loads without a GPU, and skops can persist it (trust
        ``sklearn_ckn.ckn._transformer.CKNTransformer``). A ``torch.device`` given as
        ``device`` is stored as its string.
        """
        state = super().__getstate__()
        state = dict(state)
        if isinstance(state.get("device"), torch.device):
            state["device"] = str(state["device"])
        network = state.pop("network_", None)
        if network is not None:
            state["_network_state"] = {"spec": network.config, "tensors": state_to_numpy(network)}
        return state

    def __setstate__(self, state):
        state = dict(state)
        # Pickled before `power` existed: fitted (and to be applied) without it.
        state.setdefault("power", 1.0)
        saved = state.pop("_network_state", None)
        if saved is None and "network_" in state:  # pickled by an older version
            saved_net = state.pop("network_")
            saved = {"spec": saved_net.config, "tensors": state_to_numpy(saved_net)}
        super().__setstate__(state)
        if saved is not None:
            network = network_from_spec((CKNSequential.from_config, {"config": saved["spec"]}),
                                        saved["tensors"])
            self.network_ = network.eval()
