"""The unsupervised convolutional kernel network as a scikit-learn transformer."""

import copy
import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, check_feature_names_in, fit_context
from .._device import resolve_device
from .._images import images_to_tensor, iter_batches, validate_images
from .._progress import progress
from ..core.kernels import KERNELS
from ..core.layers import CKNLayer, CKNSequential
from ..core.local_whitening import LocalPatchWhitening
from ..core.unsupervised import fit_ckn_unsupervised

__all__ = ["CKNTransformer"]


def _per_layer(name, value, n_layers, kind):
    """Broadcast a scalar (or 1-tuple) to ``n_layers`` values and check their type."""
    values = list(value) if isinstance(value, (tuple, list, np.ndarray)) else [value]
    if len(values) == 1:
        values = values * n_layers
    if len(values) != n_layers:
        raise ValueError(
            f"{name} has {len(values)} values but the network has {n_layers} layers "
            "(set by the longest per-layer parameter); give one value or one per layer."
        )
    for v in values:
        if kind == "int" and not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1):
            raise ValueError(f"{name} must hold integers >= 1, got {value!r}.")
        if kind == "float" and not (isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0):
            raise ValueError(f"{name} must hold positive numbers, got {value!r}.")
        if kind == "kernel" and v not in KERNELS:
            raise ValueError(f"{name} must hold kernel names among {sorted(KERNELS)}, got {value!r}.")
    return [int(v) for v in values] if kind == "int" else list(values)


class CKNTransformer(TransformerMixin, BaseEstimator):
    """Unsupervised convolutional kernel network (CKN) features for images.

    Each layer maps every ``p x p`` patch ``x`` of its input map to
    ``||x|| kappa(Z Z^T)^(-1/2) kappa(Z x / ||x||)``, the Nystrom approximation of the
    dot-product kernel ``kappa(<x, z>)`` on the sphere (by default
    ``kappa(u) = exp((u - 1) / sigma^2)``, a Gaussian kernel on normalised patches)
    with anchor points ``Z`` learned by spherical k-means on patches sampled from the
    training images. The map is then Gaussian-pooled with a subsampling factor, and
    layers are stacked (Mairal, NIPS 2016, unsupervised CKN). The flattened last map
    is a feature vector for any scikit-learn estimator, typically a linear classifier.

    Parameters
    ----------
    n_filters : int or tuple of int, default=(64, 256)
        Anchor points (output channels) per layer. The number of layers is the length
        of the longest per-layer parameter; scalars are broadcast.
    patch_sizes : int or tuple of int, default=3
        Side of the square patches of each layer (zero padding keeps map sizes).
    subsamplings : int or tuple of int, default=(2, 4)
        Pooling factor of each layer; a map of size ``n`` becomes ``ceil(n / s)``,
        never smaller than 1x1 (so 8x8 digits work with the defaults).
    sigmas : float or tuple of float, default=0.6
        Bandwidth of the ``"exp"`` kernel of each layer.
    kernel : str or tuple of str, default="exp"
        Dot-product kernel of each layer: ``"exp"``, ``"arccos0"``, ``"arccos1"``,
        ``"poly2"`` or ``"linear"``.
    whitening : {"auto", "local"} or bool, default="auto"
        ``True``: centre each first-layer patch and whiten it with a ZCA map fitted on
        training patches. ``"local"``: whiten every image with its own patches, as in
        Mairal's CIFAR-10 experiments (per-patch mean removal, then half-whitening of
        the image's 3x3 patches; nothing is fitted, see
        :mod:`sklearn_ckn.core.local_whitening`). ``"auto"``: ``True`` for colour
        images (more than one channel), ``False`` for grey ones.
    whitening_reg : float, default=0.1
        Regulariser of the ZCA map (``whitening=True``), relative to the mean
        eigenvalue of the patch covariance: small values whiten fully (and amplify
        noise), large values approach plain centring.
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
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The
        whole fit and transform run on that device.
    random_state : int, RandomState instance or None, default=None
        Controls the patch sampling and the k-means initialisation.
    verbose : int, default=0
        Print per-layer information and show progress bars.

    Attributes
    ----------
    network_ : CKNSequential
        The fitted torch network (kept on the CPU when pickled).
    n_layers_ : int
        Number of layers.
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
    feature_names_in_ : ndarray of shape (n_features_in_,)
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
    (500, 128)
    >>> model = make_pipeline(ckn, LinearSVC()).fit(X[:1000], y[:1000])
    >>> bool(model.score(X[1000:], y[1000:]) > 0.9)
    True
    """

    _parameter_constraints = {
        "n_filters": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
        "patch_sizes": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
        "subsamplings": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
        "sigmas": [Interval(numbers.Real, 0, None, closed="neither"), tuple, list],
        "kernel": [StrOptions(set(KERNELS)), tuple, list],
        "whitening": [StrOptions({"auto", "local"}), "boolean"],
        "whitening_reg": [Interval(numbers.Real, 0, None, closed="left")],
        "n_patches": [Interval(numbers.Integral, 1, None, closed="left")],
        "kmeans_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_filters=(64, 256),
        patch_sizes=3,
        subsamplings=(2, 4),
        sigmas=0.6,
        kernel="exp",
        whitening="auto",
        whitening_reg=0.1,
        n_patches=100_000,
        kmeans_max_iter=20,
        image_shape=None,
        batch_size=256,
        device="auto",
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
        self.n_patches = n_patches
        self.kmeans_max_iter = kmeans_max_iter
        self.image_shape = image_shape
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- construction ----------------------------------------------------------------
    def _build_network(self, n_channels):
        params = {
            "n_filters": self.n_filters,
            "patch_sizes": self.patch_sizes,
            "subsamplings": self.subsamplings,
            "sigmas": self.sigmas,
            "kernel": self.kernel,
        }
        n_layers = max(
            len(v) if isinstance(v, (tuple, list, np.ndarray)) else 1 for v in params.values()
        )
        filters = _per_layer("n_filters", self.n_filters, n_layers, "int")
        patches = _per_layer("patch_sizes", self.patch_sizes, n_layers, "int")
        subs = _per_layer("subsamplings", self.subsamplings, n_layers, "int")
        sigmas = _per_layer("sigmas", self.sigmas, n_layers, "float")
        kernels = _per_layer("kernel", self.kernel, n_layers, "kernel")
        local = self.whitening == "local"
        whiten = n_channels > 1 if self.whitening == "auto" else (not local and bool(self.whitening))
        layers, in_channels = [], n_channels
        for i in range(n_layers):
            layers.append(
                CKNLayer(
                    in_channels,
                    filters[i],
                    patch_size=patches[i],
                    subsampling=subs[i],
                    kernel=kernels[i],
                    sigma=sigmas[i],
                    whitening=whiten and i == 0,
                )
            )
            in_channels = filters[i]
        preprocess = LocalPatchWhitening(patch_size=3) if local else None
        return CKNSequential(layers, preprocess=preprocess)

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
        """Learn the whitening (optional) and the anchors of every layer.

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
        start = time.perf_counter()
        device = resolve_device(self.device)
        images = validate_images(self, X, reset=True, image_shape=self.image_shape)
        n, height, width, channels = images.shape
        network = self._build_network(channels)
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

        self.fit_stats_ = fit_ckn_unsupervised(
            network,
            load_batch,
            n,
            n_patches=self.n_patches,
            kmeans_max_iter=self.kmeans_max_iter,
            whitening_reg=self.whitening_reg,
            batch_size=self.batch_size,
            seed=int(rng.randint(np.iinfo(np.int32).max)),
            verbose=self.verbose,
        )
        self.network_ = network.eval()
        self.n_layers_ = len(network)
        self.output_shape_ = tuple(int(s) for s in network.output_shape(height, width))
        self.n_features_out_ = int(np.prod(self.output_shape_))
        self.fit_time_ = time.perf_counter() - start
        return self

    def transform(self, X):
        """Compute the CKN features of images, batch by batch.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Images of the training images' size and channel count.

        Returns
        -------
        features : ndarray of shape (n, n_features_out_), dtype float32
            The flattened last map, in (channel, row, column) order.
        """
        check_is_fitted(self, "network_")
        images = validate_images(self, X, reset=False, image_shape=self.image_shape)
        device = self._transform_device()
        network = self.network_
        if next(network.buffers()).device != device:
            network = self.network_ = network.to(device)
        out = np.empty((images.shape[0], self.n_features_out_), dtype=np.float32)
        batches = list(iter_batches(images.shape[0], self.batch_size))
        with torch.inference_mode():
            for sl in progress(batches, verbose=self.verbose, desc="CKN transform"):
                feats = network(images_to_tensor(images[sl], device))
                out[sl] = feats.reshape(feats.shape[0], -1).cpu().numpy()
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

    # -- pickling: fitted tensors always travel on the CPU -------------------------------
    def __getstate__(self):
        state = super().__getstate__()
        if "network_" in state:
            state["network_"] = copy.deepcopy(state["network_"]).to("cpu")
        return state
