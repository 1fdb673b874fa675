"""The unsupervised convolutional kernel network as a scikit-learn transformer."""

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
    doc_link_url_params,
    fit_context,
)
from .._dask import is_dask_array, transform_dask
from .._device import resolve_device
from .._explainable import Explainable, inference_context, precision_context
from .._images import check_no_bool_params, images_to_tensor, iter_batches, validate_images
from .._progress import progress
from .._threads import torch_threads
from .._torch_module import TorchModuleMixin
from ..core.kernels import KERNELS
from ..core.sequential import CKNSequential
from ..core.network import CKNNetwork
from ..core.output import MIN_POWER, FeatureOutput, fit_feature_output
from ..core.unsupervised import TooFewPatchesError, fit_ckn_unsupervised
from ._architecture import network_config
from ._diagnostics import check_kernel_underflow
from ._feature_names import MapFeatureNamesMixin
from ._legacy import upgrade_pickled_state

__all__ = ["CKNTransformer"]

#: Images whose features ``normalize`` learns its statistics from.
NORMALIZE_SAMPLE = 4096

#: Training images on which ``fit`` checks that the kernel values do not underflow.
SIGMA_CHECK_IMAGES = 64

#: ``n_patches="auto"``: patches drawn per anchor of a layer, and at most per layer.
AUTO_PATCHES_PER_ANCHOR = 64
AUTO_MAX_PATCHES = 100_000

#: The constraint ``n_filters`` and ``subsamplings`` share: ``"auto"``, or positive
#: counts (one int for every layer, or a sequence of one per layer).
_AUTO_OR_PER_LAYER_COUNTS = [
    StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left"), tuple, list,
    np.ndarray,
]


class CKNTransformer(MapFeatureNamesMixin, TorchModuleMixin, TransformerMixin, BaseEstimator):
    """Unsupervised convolutional kernel network (CKN) features for images.

    Each layer maps every :math:`p \\times p` patch :math:`x` of its input map to
    :math:`\\|x\\| \\, \\kappa(Z Z^\\top)^{-1/2} \\kappa(Z x / \\|x\\|)`, the Nystrom
    approximation of the dot-product kernel :math:`\\kappa(\\langle x, z \\rangle)` on the
    sphere (by default :math:`\\kappa(u) = e^{(u - 1) / \\sigma^2}`, a Gaussian kernel on
    normalised patches) with anchor points :math:`Z` learned by spherical k-means on
    patches sampled from the
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
        the last map is about 4x4 (see :func:`~sklearn_ckn.ckn._architecture.auto_subsamplings`): with two layers,
        8x8 -> (1, 2), 28x28 and 32x32 -> (2, 4), 64x64 -> (4, 4), 100x100 -> (6, 4)
        (a 5x5 map); the choice is in ``subsamplings_``.
    sigmas : float or tuple of float, default=0.6
        Bandwidth of the ``"exp"`` kernel of each layer, at least ``1e-3``. ``fit``
        checks on training patches that the kernel does not underflow: a
        ``ValueError`` when most patches of a layer would get all-zero features, a
        ``UserWarning`` when more than 1% would, each naming a bandwidth to use.
    kernel : str or tuple of str, default="exp"
        Dot-product kernel of each layer: ``"exp"``, ``"arccos0"``, ``"arccos1"``,
        ``"poly2"``, ``"square"`` or ``"linear"``.
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
    power : float in [0.01, 1], default=1.0
        Exponent of the signed power :math:`\\mathrm{sign}(f) |f|^{power}` applied to
        every feature :math:`f` of the last map before ``normalize`` (the power
        normalisation of
        Perronnin et al., 2010), which damps the few large activations that dominate
        a linear model's dot products; ``1``: none. Smaller exponents are refused:
        in float32 they round every non-zero feature towards +-1 (below about 1e-7,
        exactly), and the standardised features become all zero (see
        :data:`sklearn_ckn.core.output.MIN_POWER`). A parameter to tune: with
        ``LinearSVC()``, ``0.5`` scored 98.99% instead of 98.85% on MNIST (10,000
        training images) but 0.984 instead of 0.987 on scikit-learn's digits.
    normalize : {"l2-standard", "standard"} or None, default="l2-standard"
        Scaling of the output, learned in ``fit`` on (at most 4,096) training
        images, after ``power``. ``"standard"``: centre every output feature and scale
        it to a standard deviation of 0.08, which suits scikit-learn's linear models at
        their default ``C`` (it is ``StandardScaler()`` followed by ``C=0.0064`` in
        their terms: close to the ``C=0.01`` tuned for CKN features, and
        ``LinearSVC()`` converges within its iteration limit). ``"l2-standard"``: divide each
        image's map by its L2 norm first (the per-image normalisation of the
        reference implementation), then as ``"standard"``. None: the last map after
        ``power`` only.
    n_patches : "auto" or int, default="auto"
        Patches sampled per layer, uniformly over images and positions, for k-means.
        ``"auto"``: 64 per anchor of the layer, at most 100,000 (as many as the
        anchors need rather than a fixed number; 100,000 for every layer before
        0.1.0).
    kmeans_max_iter : int, default=20
        Maximum spherical k-means iterations per layer.
    kmeans_tol : float, default=1e-4
        Each layer's k-means stops when its objective (the mean cosine of the patches
        to their nearest anchor) improves by less than this in an iteration (on the
        digits the second layer then stops after 18 iterations instead of 20, the
        first after 11; ``1e-5`` before 0.1.0, same accuracy).
    kmeans_precision : {"auto", "float32"}, default="auto"
        Precision of the k-means assignment products, most of ``fit``'s time:
        ``"auto"`` runs them in bfloat16 where the device computes it natively (a GPU,
        a CPU with AVX512-BF16 or AMX units) and the patches have at least 128
        dimensions; the anchors are averaged in float32 either way.
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
    module_ : CKNNetwork
        The fitted network from pixels to features
        (:class:`sklearn_ckn.core.network.CKNNetwork`: the kernel layers ``ckn``, then
        the output steps ``output``, power and normalisation); ``transform`` is its
        forward pass. Pickled as NumPy arrays and rebuilt on loading, on the CPU.
    network_ : CKNNetwork
        Another name of ``module_``.
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
        when ``normalize_rows_``. These attributes are absent with ``normalize=None``;
        they are read from ``module_.output``.
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
    sklearn_ckn.ckn.CKNClassifier : The supervised CKN, trained end to end from this network.
    sklearn_ckn.transform_to : Features written batch by batch into a memmap or zarr array.
    sklearn_ckn.svm.TorchLinearSVC : A linear SVM for wide CKN features.

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
        "n_filters": _AUTO_OR_PER_LAYER_COUNTS,
        "patch_sizes": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "subsamplings": _AUTO_OR_PER_LAYER_COUNTS,
        "sigmas": [Interval(numbers.Real, 0, None, closed="neither"), tuple, list, np.ndarray],
        "kernel": [StrOptions(set(KERNELS)), tuple, list],
        "whitening": [StrOptions({"auto", "local"}), "boolean"],
        "whitening_reg": [Interval(numbers.Real, 0, None, closed="left")],
        "power": [Interval(numbers.Real, MIN_POWER, 1, closed="both")],
        "normalize": [StrOptions({"standard", "l2-standard"}), None],
        "n_patches": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "kmeans_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "kmeans_tol": [Interval(numbers.Real, 0, None, closed="left")],
        "kmeans_precision": [StrOptions({"auto", "float32"})],
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
        n_patches="auto",
        kmeans_max_iter=20,
        kmeans_tol=1e-4,
        kmeans_precision="auto",
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
        self.kmeans_tol = kmeans_tol
        self.kmeans_precision = kmeans_precision
        self.image_shape = image_shape
        self.batch_size = batch_size
        self.device = device
        self.mixed_precision = mixed_precision
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- construction ----------------------------------------------------------------
    def _build_module(self, config):
        return CKNNetwork.from_config(config)

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
                self._fit_output(self._forward(images[sample], raw=True))
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
        if is_dask_array(X):  # fitted on a sample of the chunks, transformed lazily
            return self.fit(X).transform(X)
        with torch_threads(self.n_jobs):
            images, sample = self._fit(X)
            out = self._forward(images, raw=True)
            self._fit_output(out[sample])
            self.module_.output.apply_(out)
        return out

    def _fit(self, X):
        """Fit the kernel layers; return the validated images and the normalisation sample."""
        start = time.perf_counter()
        check_no_bool_params(self)
        device = resolve_device(self.device)
        images = validate_images(self, X, reset=True, image_shape=self.image_shape)
        n, height, width, channels = images.shape
        config = network_config(self, height, width, channels)
        ckn = CKNSequential.from_config(config)
        p = ckn.layers[0].patch_size
        # A 1-pixel-high map (1-D signal) is the one case where patches are taller
        # than the image: its zero-padded patches are 1-D patches.
        if width < p or (height < p and height != 1):
            raise ValueError(
                f"Images of size {height}x{width} ({height * width * channels} feature(s)) "
                f"are smaller than the first layer's {p}x{p} patches; use smaller "
                "patch_sizes or larger images."
            )
        ckn.to(device)
        rng = check_random_state(self.random_state)

        def load_batch(ids):
            return images_to_tensor(images[ids], device)

        seed = int(rng.randint(np.iinfo(np.int32).max))
        sample = np.sort(rng.permutation(n)[:NORMALIZE_SAMPLE]) if n > NORMALIZE_SAMPLE else np.arange(n)
        check = load_batch(sample[:SIGMA_CHECK_IMAGES])
        try:
            self.fit_stats_ = fit_ckn_unsupervised(
                ckn, load_batch, n, n_patches=self._n_patches(config),
                kmeans_max_iter=self.kmeans_max_iter, kmeans_tol=self.kmeans_tol,
                kmeans_precision=self.kmeans_precision,
                whitening_reg=self.whitening_reg, progress=progress,
                batch_size=self.batch_size, seed=seed, verbose=self.verbose,
            )
        except TooFewPatchesError as exc:
            # A later layer without usable patches is often an earlier layer whose
            # kernel underflowed (too small a sigma): say so rather than "n_patches".
            check_kernel_underflow(ckn, check, cause=exc)
            raise
        check_kernel_underflow(ckn, check, stacklevel=4)
        self.n_layers_ = len(ckn)
        self.n_filters_ = tuple(layer["n_filters"] for layer in config["layers"])
        self.subsamplings_ = tuple(layer["subsampling"] for layer in config["layers"])
        self.output_shape_ = tuple(int(s) for s in ckn.output_shape(height, width))
        self.n_features_out_ = int(np.prod(self.output_shape_))
        output = FeatureOutput(self.n_features_out_, power=self.power,
                               row_normalize=self.normalize == "l2-standard",
                               standardize=self.normalize is not None)
        self.module_ = CKNNetwork(ckn, output).to(device).eval()
        self._module_config_ = self.module_.config
        self.fit_time_ = time.perf_counter() - start
        return images, sample

    def _n_patches(self, config):
        """Patches drawn per layer: ``n_patches``, or ``"auto"``'s per-layer count."""
        if isinstance(self.n_patches, str):  # "auto"
            return [min(AUTO_MAX_PATCHES, AUTO_PATCHES_PER_ANCHOR * layer["n_filters"])
                    for layer in config["layers"]]
        return self.n_patches

    def _fit_output(self, raw):
        """Fit the output steps' statistics on raw features (a NumPy array)."""
        fit_feature_output(self.module_.output, torch.from_numpy(raw))

    def _module_on(self, device):
        """``module_``, moved to ``device`` if it lives elsewhere."""
        if next(self.module_.buffers()).device != device:
            self.module_ = self.module_.to(device)
        return self.module_

    def _explainable(self):
        """The fitted module and how ``transform`` runs it (for :mod:`sklearn_ckn.explain`)."""
        check_is_fitted(self, "module_")
        device = self._transform_device()
        return Explainable(
            module=self._module_on(device), family="ckn", name="CKN", device=device,
            context=lambda: inference_context(self.n_jobs, device, self.mixed_precision),
        )

    def _forward(self, images, raw=False):
        """Features of validated ``images`` by batches (the flattened last maps if ``raw``)."""
        device = self._transform_device()
        module = self._module_on(device)
        forward = (lambda x: module.ckn(x).flatten(1)) if raw else module
        out = np.empty((images.shape[0], self.n_features_out_), dtype=np.float32)
        batches = list(iter_batches(images.shape[0], self.batch_size))
        # Under autocast the layers run only their patch products in bfloat16.
        mixed = precision_context(device, getattr(self, "mixed_precision", False))
        with torch.inference_mode(), mixed:
            for sl in progress(batches, verbose=self.verbose, desc="CKN transform"):
                out[sl] = forward(images_to_tensor(images[sl], device)).float().cpu().numpy()
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
            ``module_``'s output: the flattened last map, in (channel, row, column)
            order, raised to the signed ``power``, then scaled as ``normalize`` says
            (see the attributes ``normalize_*_``). For a dask array ``X``, a lazy
            dask array chunked like ``X`` along the samples.
        """
        check_is_fitted(self, "module_")
        if is_dask_array(X):  # lazy features, chunked like X
            return transform_dask(self, X)
        images = validate_images(self, X, reset=False, image_shape=self.image_shape)
        with torch_threads(self.n_jobs):
            return self._forward(images)

    # -- the fitted output steps, read from module_ ------------------------------------
    def _output_step(self, name):
        step = getattr(self.__dict__.get("module_"), "output", None)
        step = getattr(step, name, None)
        if step is None:
            raise AttributeError(f"This CKNTransformer has no fitted {name} step.")
        return step

    @property
    def normalize_rows_(self):
        """Whether each image's map is divided by its floored L2 norm."""
        self._output_step("standardize")
        return getattr(self.module_.output, "row_normalize", None) is not None

    @property
    def normalize_norm_floor_(self):
        """The floor of the L2 norms (with ``normalize_rows_``)."""
        return float(self._output_step("row_normalize").floor)

    @property
    def normalize_shift_(self):
        """The per-feature shift of the output (float32)."""
        return self._output_step("standardize").shift.detach().cpu().numpy().copy()

    @property
    def normalize_scale_(self):
        """The per-feature scale of the output (float32)."""
        return self._output_step("standardize").scale.detach().cpu().numpy().copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def __setstate__(self, state):
        super().__setstate__(upgrade_pickled_state(dict(state)))
