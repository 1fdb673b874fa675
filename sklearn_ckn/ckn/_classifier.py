"""The supervised convolutional kernel network: :class:`CKNClassifier` (Mairal, NIPS 2016)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions
from .._dask import is_dask_array, transform_dask
from .._progress import progress
from .._threads import torch_threads
from .._torch_estimator import TorchImageClassifier
from ..core.kernels import KERNELS
from ..core.network import build_ckn_network
from ..core.training import LOSSES, PAD_MULTIPLE, augment_batch, pad_batch
from ._transformer import CKNTransformer

__all__ = ["ARCHITECTURES", "CKNClassifier"]

#: Named CKN architectures: per-layer parameters that replace ``n_filters``,
#: ``patch_sizes``, ``subsamplings``, ``sigmas`` and ``kernel``. ``"ckn5"`` is the
#: 5-layer CIFAR-10 network of Mairal (2016) (3x3 Gaussian-kernel layers alternating
#: with 1x1 polynomial ones); ``"ckn14"`` his 14-layer one.
ARCHITECTURES = {
    "ckn5": {
        "n_filters": (128, 128, 128, 128, 128),
        "patch_sizes": (3, 1, 3, 1, 3),
        "subsamplings": (2, 1, 2, 1, 3),
        "sigmas": 0.5,
        "kernel": ("exp", "poly2", "exp", "poly2", "exp"),
    },
    "ckn14": {
        "n_filters": (256, 128, 256, 128, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256),
        "patch_sizes": (3, 1) * 7,
        "subsamplings": (1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 2),
        "sigmas": 0.5,
        "kernel": ("exp", "poly2") * 7,
    },
}

_LAYER_PARAMS = ("n_filters", "patch_sizes", "subsamplings", "sigmas", "kernel")


def _fit_linear_head(features, y_idx, n_classes, loss, weight_decay, max_iter=200):
    """The linear head minimising the mean ``loss`` + ``weight_decay / 2 ||W||^2``.

    Full-batch L-BFGS (strong Wolfe line search) on fixed features: the exact convex
    solve that starts (and, with ``alternate``, repeats) the supervised training.
    """
    d = features.shape[1]
    weight = torch.zeros(n_classes, d, dtype=features.dtype, device=features.device,
                         requires_grad=True)
    bias = torch.zeros(n_classes, dtype=features.dtype, device=features.device,
                       requires_grad=True)
    loss_fn = LOSSES[loss]
    opt = torch.optim.LBFGS([weight, bias], max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6,
                            tolerance_change=1e-10)

    def closure():
        opt.zero_grad()
        value = loss_fn(features @ weight.T + bias, y_idx)
        value = value + 0.5 * weight_decay * (weight * weight).sum()
        value.backward()
        return value

    with torch.enable_grad():
        opt.step(closure)
    return weight.detach(), bias.detach()


class CKNClassifier(TransformerMixin, TorchImageClassifier):
    """Supervised convolutional kernel network: anchors and classifier learned end to end.

    The network starts as the unsupervised CKN of :class:`CKNTransformer` (anchors
    learned by spherical k-means, layer by layer, on training patches) followed by a
    standardisation of its features (fixed, fitted on the training features) and a
    linear head, solved exactly on those features. Training then minimises the loss
    over the anchors of every layer and the head jointly by stochastic gradient
    descent, back-propagating through the Nystrom normalisation
    ``kappa(Z Z^T)^(-1/2)``; after every step the anchors are projected back onto the
    unit sphere (Mairal, NIPS 2016). With ``alternate=True`` the head is solved
    exactly again at the start of every epoch, as in the paper. ``epochs=0`` gives
    the unsupervised CKN with an exactly solved linear head.

    Images are given as for :class:`CKNTransformer`: ``(n, H, W)``, ``(n, H, W, C)``
    or 2-D ``(n, H * W * C)`` rows with ``image_shape``; ``uint8`` is scaled to
    [0, 1].

    Parameters
    ----------
    architecture : {"ckn5", "ckn14"} or None, default=None
        A named network (:data:`ARCHITECTURES`; Mairal's CIFAR-10 networks), which
        replaces ``n_filters``, ``patch_sizes``, ``subsamplings``, ``sigmas`` and
        ``kernel``; None uses those parameters.
    n_filters : int or tuple of int, default=(64, 256)
        Anchor points per layer (as in :class:`CKNTransformer`).
    patch_sizes : int or tuple of int, default=3
        Side of each layer's square patches.
    subsamplings : "auto", int or tuple of int, default="auto"
        Pooling factor of each layer; ``"auto"`` chooses them from the image size so
        that the last map is about 4x4 (as :class:`CKNTransformer` does).
    sigmas : float or tuple of float, default=0.6
        Bandwidth of each ``"exp"`` kernel.
    kernel : str or tuple of str, default="exp"
        Dot-product kernel of each layer.
    whitening : {"auto", "local"} or bool, default="auto"
        First-layer patch whitening (see :class:`CKNTransformer`).
    n_patches : int, default=100_000
        Patches sampled per layer for the k-means initialisation.
    kmeans_max_iter : int, default=20
        Spherical k-means iterations per layer.
    loss : {"squared_hinge", "cross_entropy"}, default="squared_hinge"
        Training loss: the one-vs-rest squared hinge loss of the paper, or the
        multinomial cross-entropy.
    epochs : int, default=10
        Passes over the training data by stochastic gradient descent (0: no
        supervised training).
    batch_size : int, default=128
        Mini-batch size (and, at least 256, the batch of prediction and of the
        unsupervised initialisation).
    optimizer : {"adam", "sgd", "adamw"}, default="adam"
        Adam (weight decay as an L2 penalty, the objective of the exact head solve),
        SGD with Nesterov momentum, or AdamW (decoupled weight decay). Adam's steps
        are bounded per coordinate, which keeps the anchors stable where the Nystrom
        normalisation is steep; plain SGD needs a much smaller ``learning_rate``.
    learning_rate : float, default=1e-3
        Peak learning rate of the one-cycle schedule (warm-up during the first 20%
        of the steps, then linear decay), for the head; the anchors use
        ``learning_rate * anchor_lr_scale``.
    anchor_lr_scale : float, default=1.0
        Learning-rate factor of the anchors.
    momentum : float, default=0.9
        SGD momentum (AdamW: first beta).
    weight_decay : float, default=1e-2
        L2 penalty ``weight_decay / 2 ||W||^2`` of the head's weights, added to the
        mean training loss (the anchors, on the sphere, are not penalised); the exact
        head solves minimise the same objective. It plays the role of ``1 / (C n)``
        of a linear SVM on ``n`` standardised samples: too small a value fits the
        training set perfectly at the start and leaves the anchors no signal.
    alternate : bool, default=False
        Solve the head exactly on the current features at the start of every epoch.
    augment : {"auto"} or bool, default=False
        Random translations by up to 1/8 of the image size (and horizontal flips for
        colour images) of the training batches; ``"auto"``: on for colour images.
        With augmentation, the head's exact solves (at the start, and with
        ``alternate``) use the training images and one shifted (and flipped) copy of
        each, so that the start suits the batches training sees.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data, stop when
        its loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep
        the best epoch's network.
    validation_fraction : float, default=0.1
        Fraction held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Minimal decrease of the validation loss counted as an improvement.
    warm_start : bool, default=False
        Continue training the current network in ``fit`` instead of starting afresh.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of the images when ``X`` is 2-D.
    mixed_precision : bool, default=False
        Whether to run the forward passes under bfloat16 autocast (for GPUs and CPUs
        with bfloat16 units). The CKN layers then compute their patch-anchor
        products, most of the work, in bfloat16 and the kernel, pooling and Nystrom
        projection in float32 (see ``CKNTransformer``'s ``mixed_precision``).
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    n_jobs : int or None, default=None
        CPU threads (torch and BLAS) of ``fit``, prediction and ``transform``,
        restored afterwards. None: one thread inside a joblib worker, where the
        workers already share the cores, and torch's current setting elsewhere;
        ``k``: ``k`` threads; -1: all cores.
    random_state : int, RandomState instance or None, default=None
        Seeds the unsupervised initialisation, the batch order and the augmentation.
        With an integer, the initial network equals ``CKNTransformer(...,
        random_state=random_state, normalize=None)``'s.
    verbose : int, default=0
        Progress bars of the initialisation and of every epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    network_ : CKNNetwork
        The trained network (:class:`sklearn_ckn.core.network.CKNNetwork`).
    device_ : torch.device
        Device the network lives on.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``lr``, ``seconds``
        and, with a validation set, ``valid_loss`` and ``valid_accuracy``.
    initial_train_accuracy_ : float
        Training accuracy of the unsupervised network with its exactly solved head,
        before any gradient step.
    n_iter_ : int
        Epochs run.
    image_shape_ : tuple of int
        ``(H, W, C)`` of the training images.
    output_shape_ : tuple of int
        ``(channels, height, width)`` of the last CKN map.
    n_features_out_ : int
        Length of the feature vectors of :meth:`transform`.
    n_features_in_ : int
        Number of input features (pixels times channels).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input columns, when ``X`` was a DataFrame.

    See Also
    --------
    CKNTransformer : The unsupervised CKN (features for any estimator).
    CNNClassifier : A CNN trained with the same loop.

    References
    ----------
    J. Mairal. End-to-End Kernel Learning with Supervised Convolutional Kernel
    Networks. NIPS 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn_ckn import CKNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = CKNClassifier(n_filters=(16, 32), subsamplings=(2, 2), epochs=3,
    ...                     image_shape=(8, 8), random_state=0).fit(X_train, y_train)
    >>> clf.transform(X_test).shape
    (450, 128)
    >>> bool(clf.score(X_test, y_test) > 0.9)
    True
    """

    _memory_format = torch.contiguous_format

    _parameter_constraints = {
        **TorchImageClassifier._common_constraints,
        "architecture": [StrOptions(set(ARCHITECTURES)), None],
        "n_filters": [Interval(Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "patch_sizes": [Interval(Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "subsamplings": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"),
                         tuple, list, np.ndarray],
        "sigmas": [Interval(Real, 0, None, closed="neither"), tuple, list, np.ndarray],
        "kernel": [StrOptions(set(KERNELS)), tuple, list],
        "whitening": [StrOptions({"auto", "local"}), "boolean"],
        "n_patches": [Interval(Integral, 1, None, closed="left")],
        "kmeans_max_iter": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions(set(LOSSES))],
        "optimizer": [StrOptions({"sgd", "adam", "adamw"})],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "anchor_lr_scale": [Interval(Real, 0, None, closed="left")],
        "alternate": ["boolean"],
    }

    def __init__(
        self,
        architecture=None,
        *,
        n_filters=(64, 256),
        patch_sizes=3,
        subsamplings="auto",
        sigmas=0.6,
        kernel="exp",
        whitening="auto",
        n_patches=100_000,
        kmeans_max_iter=20,
        loss="squared_hinge",
        epochs=10,
        batch_size=128,
        optimizer="adam",
        learning_rate=1e-3,
        anchor_lr_scale=1.0,
        momentum=0.9,
        weight_decay=1e-2,
        alternate=False,
        augment=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        warm_start=False,
        image_shape=None,
        mixed_precision=False,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.n_filters = n_filters
        self.patch_sizes = patch_sizes
        self.subsamplings = subsamplings
        self.sigmas = sigmas
        self.kernel = kernel
        self.whitening = whitening
        self.n_patches = n_patches
        self.kmeans_max_iter = kmeans_max_iter
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.anchor_lr_scale = anchor_lr_scale
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.alternate = alternate
        self.augment = augment
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.image_shape = image_shape
        self.mixed_precision = mixed_precision
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ network
    def _unsupervised_transformer(self):
        """The :class:`CKNTransformer` whose fitted network starts the training."""
        layers = {name: getattr(self, name) for name in _LAYER_PARAMS}
        if self.architecture is not None:
            layers = dict(ARCHITECTURES[self.architecture])
        seed = self.random_state if isinstance(self.random_state, Integral) else self._rng_seed_
        return CKNTransformer(
            **layers, whitening=self.whitening, n_patches=self.n_patches,
            kmeans_max_iter=self.kmeans_max_iter, batch_size=max(int(self.batch_size), 256),
            normalize=None,  # the network standardises its features itself
            device=str(self.device_), random_state=seed, verbose=self.verbose,
        )

    def _feature_batches(self, data, augment_seed=None):
        """``(start, features)`` of every batch of ``data`` (an ImageBatches).

        Eval mode and no autograd; batches are zero-padded to a multiple of
        ``PAD_MULTIPLE`` so that an image's features do not depend on the batch it
        is computed in (the same in ``transform`` and in the head solves). With an
        ``augment_seed``, the features of one randomly shifted (and flipped) copy of
        every image, as training draws them, from a generator seeded with it.
        """
        net = self.network_
        was_training = net.training
        net.eval()
        batch = max(int(self.batch_size), 256)
        crop, flip = self._augmentation()
        generator = None if augment_seed is None else torch.Generator().manual_seed(augment_seed)
        try:
            with torch.no_grad():
                for start in range(0, len(data), batch):
                    xb = data.get(slice(start, start + batch))
                    if generator is not None:
                        xb = augment_batch(xb, crop=crop, flip=flip, generator=generator)
                        xb = xb.contiguous(memory_format=self._memory_format)
                    n = xb.shape[0]
                    if n % PAD_MULTIPLE:
                        xb = pad_batch(xb, PAD_MULTIPLE - n % PAD_MULTIPLE)
                    yield start, net.features(xb)[:n]
        finally:
            net.train(was_training)

    def _features(self, data, standardized=True, augment_seed=None):
        """Features of every image of ``data`` as one tensor (standardised for the head);
        of a shifted copy of every image with an ``augment_seed``."""
        feats = torch.cat([f for _, f in self._feature_batches(data, augment_seed)])
        if standardized:
            feats = self.network_.feature_map(feats.to(self.network_.head.weight.dtype))
        return feats

    def _solve_head(self, data, y_idx, augment_seed, features=None):
        """Solve the head exactly on the features of ``data``; with augmentation on,
        on those and on the features of one shifted (and flipped) copy of every image
        too, so that the head suits the shifted batches training sees (see
        docs/supervised.md). ``features``: the standardised features of ``data`` when
        already computed. Returns the features of ``data``."""
        if features is None:
            features = self._features(data)
        head_x, head_y = features, y_idx.to(features.device)
        if self._augmentation() != ((0, 0), False):
            shifted = self._features(data, augment_seed=augment_seed)
            head_x, head_y = torch.cat([features, shifted]), torch.cat([head_y, head_y])
        weight, bias = _fit_linear_head(head_x, head_y, len(self.classes_), self.loss,
                                        self.weight_decay)
        with torch.no_grad():
            self.network_.head.weight.copy_(weight)
            self.network_.head.bias.copy_(bias)
        return features

    def _initialize_network(self, images, y_idx):
        transformer = self._unsupervised_transformer().fit(images)
        ckn = transformer.network_
        self.output_shape_ = transformer.output_shape_
        self.n_features_out_ = transformer.n_features_out_
        self.fit_stats_ = transformer.fit_stats_
        spec = dict(ckn_config=ckn.config, n_features=self.n_features_out_,
                    n_classes=len(self.classes_))
        net = build_ckn_network(**spec)
        net.ckn = ckn
        self._net_spec_ = (build_ckn_network, spec)
        self._set_network(net)
        data = self._batches(images)
        raw = self._features(data, standardized=False)
        mean = raw.double().mean(0)
        std = raw.double().std(0, unbiased=False)
        scale = torch.where(std > 1e-6 * mean.abs().clamp_min(1.0), std, torch.ones_like(std))
        net.feature_map.set_statistics(mean.float(), scale.float())
        # The standardised features of the same forward pass: no second pass for the head.
        features = self._solve_head(data, y_idx, augment_seed=self._rng_seed_ + 2,
                                    features=net.feature_map(raw.to(net.head.weight.dtype)))
        with torch.no_grad():
            pred = self.network_.head(features).argmax(1).cpu()
        self.initial_train_accuracy_ = float((pred == y_idx).double().mean())
        if self.verbose:
            print(f"[CKNClassifier] unsupervised start: train accuracy "
                  f"{self.initial_train_accuracy_:.4f}")

    def _set_network(self, net):
        net.ckn.train_anchors_(True)
        self.network_ = net.to(self.device_).eval()

    def _trainer_options(self):
        net = self.network_
        options = {
            "loss": self.loss,
            "param_groups": [
                {"params": list(net.ckn.parameters()), "weight_decay": 0.0,
                 "lr_scale": self.anchor_lr_scale},
                {"params": [net.head.weight], "weight_decay": self.weight_decay},
                {"params": [net.head.bias], "weight_decay": 0.0},
            ],
            "after_step": net.normalize_anchors_,
        }
        if self.alternate:
            options["before_epoch"] = lambda epoch, data, y: self._solve_head(
                data, y, augment_seed=self._rng_seed_ + 3 + self.n_iter_ + epoch)
        return options

    # ------------------------------------------------------------------ prediction
    def _logits(self, X):
        # The head in float64 on the CPU, as scikit-learn's linear models: scores that
        # do not depend (in float32 rounding) on the batch an image is predicted in.
        features = self.transform(X).astype(np.float64)
        net = self.network_
        shift = net.feature_map.shift.detach().cpu().double().numpy()
        scale = net.feature_map.scale.detach().cpu().double().numpy()
        weight = net.head.weight.detach().cpu().double().numpy()
        bias = net.head.bias.detach().cpu().double().numpy()
        return ((features - shift) / scale) @ weight.T + bias

    # ------------------------------------------------------------------ features
    def transform(self, X):
        """Return the features of the trained network: its flattened last CKN map.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H * W * C)
            Images.

        Returns
        -------
        features : ndarray of shape (n, `n_features_out_`), dtype float32
            In (channel, row, column) order, before the head's standardisation. For
            a dask array ``X``, a lazy dask array chunked like ``X`` along the samples
            (see :func:`sklearn_ckn.transform_dask`).
        """
        check_is_fitted(self, "network_")
        if is_dask_array(X):  # lazy features, chunked like X
            return transform_dask(self, X)
        images = self._validate_X(X, reset=False)
        out = np.empty((images.shape[0], self.n_features_out_), dtype=np.float32)
        n_batches = -(-images.shape[0] // max(int(self.batch_size), 256))
        with torch_threads(self.n_jobs):
            batches = self._feature_batches(self._batches(images))
            for start, feats in progress(batches, verbose=self.verbose, total=n_batches,
                                         desc="CKN transform"):
                out[start:start + feats.shape[0]] = feats.float().cpu().numpy()
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
            One name per column of :meth:`transform`.
        """
        return CKNTransformer.get_feature_names_out(self, input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

