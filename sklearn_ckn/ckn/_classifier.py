"""The supervised convolutional kernel network: :class:`CKNClassifier` (Mairal, NIPS 2016).

It is built around :class:`CKNTransformer` (its ``ckn`` parameter): the transformer's
fitted module (kernel layers and output steps) gets a linear head, and the whole is
trained end to end.
"""

import contextlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions
from .._dask import is_dask_array, transform_dask
from .._docstrings import IMAGES, with_parameters
from .._explainable import precision_context
from .._progress import progress
from .._threads import torch_threads
from .._torch_estimator import TorchImageClassifier
from ..core.network import CKNNetwork
from ..core.batching import PAD_MULTIPLE, pad_to_multiple
from ..core.training import LOSSES, augment_batch
from ._architecture import ARCHITECTURES
from ._feature_names import MapFeatureNamesMixin
from ._transformer import CKNTransformer

__all__ = ["ARCHITECTURES", "CKNClassifier"]


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


class CKNClassifier(MapFeatureNamesMixin, TransformerMixin, TorchImageClassifier):
    """Supervised convolutional kernel network: anchors and classifier learned end to end.

    The network starts as the fitted module of its unsupervised CKN, ``ckn`` (a
    :class:`CKNTransformer`: anchors learned by spherical k-means, layer by layer, on
    training patches, and the output steps fitted on the training features),
    followed by a linear head, solved exactly on those features. Training then minimises the loss
    over the anchors of every layer and the head jointly by stochastic gradient
    descent, back-propagating through the Nystrom normalisation
    :math:`\\kappa(Z Z^\\top)^{-1/2}`; after every step the anchors are projected back
    onto the
    unit sphere (Mairal, NIPS 2016). With ``alternate=True`` the head is solved
    exactly again at the start of every epoch, as in the paper. ``epochs=0`` gives
    the unsupervised CKN with an exactly solved linear head.

    Images are given as for :class:`CKNTransformer`: ``(n, H, W)``, ``(n, H, W, C)``
    or 2-D ``(n, H * W * C)`` rows with ``ckn__image_shape``; ``uint8`` is scaled to
    [0, 1].

    Parameters
    ----------
    architecture : {"ckn5", "ckn14"} or None, default=None
        A named network (:data:`ARCHITECTURES`; Mairal's CIFAR-10 networks) whose
        ``n_filters``, ``patch_sizes``, ``subsamplings``, ``sigmas`` and ``kernel``
        replace those of ``ckn``; None keeps ``ckn``'s.
    ckn : CKNTransformer or None, default=None
        The unsupervised CKN that starts the training, unfitted (it is cloned): its
        network, output steps (``power``, ``normalize``) and k-means settings; its
        parameters are tuned as ``ckn__n_filters`` etc. None: ``CKNTransformer()``
        with every default. Its ``device``, ``verbose`` and (when None)
        ``random_state`` are replaced by the classifier's.
    loss : {"cross_entropy", "squared_hinge"}, default="cross_entropy"
        Training loss: the multinomial cross-entropy, or the one-vs-rest squared
        hinge loss of the paper. On CIFAR-10 (10,000 training images, three epochs)
        the cross-entropy ended higher with CKN-5 and with a 32/128 network
        (docs/supervised.md).
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
    weight_decay : float, default=1e-4
        L2 penalty :math:`\\frac{\\lambda}{2} \\|W\\|^2` (:math:`\\lambda` =
        ``weight_decay``) of the head's weights, added to the
        mean training loss (the anchors, on the sphere, are not penalised); the exact
        head solves minimise the same objective. It plays the role of ``1 / (C n)``
        of a linear SVM on ``n`` samples of ``ckn``'s features (whose standard
        deviation is 0.08 with its default ``normalize``): too small a value fits the
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
        Seeds the unsupervised initialisation (unless ``ckn`` has its own
        ``random_state``), the batch order and the augmentation. With an integer,
        the initial network equals ``ckn``'s fitted with that ``random_state``.
    verbose : int, default=0
        Progress bars of the initialisation and of every epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : CKNNetwork
        The trained network from pixels to class scores
        (:class:`sklearn_ckn.core.network.CKNNetwork`: ``ckn``'s kernel layers and
        output steps, then the linear ``head``).
    network_ : CKNNetwork
        Another name of ``module_``.
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
    n_filters_, subsamplings_ : tuple of int
        The resolved per-layer filters and pooling factors.
    output_shape_ : tuple of int
        ``(channels, height, width)`` of the last CKN map.
    n_features_out_ : int
        Length of the feature vectors of :meth:`transform`.
    fit_stats_ : list of dict
        Per layer of the unsupervised start: usable patches and k-means objectives.
    n_features_in_ : int
        Number of input features (pixels times channels).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input columns, when ``X`` was a DataFrame.

    See Also
    --------
    CKNTransformer : The unsupervised CKN (features for any estimator).
    CNNClassifier : A CNN trained with the same loop.
    sklearn_ckn.explain.plot_grad_cam : Class activation maps of the fitted classifier.

    References
    ----------
    J. Mairal. End-to-End Kernel Learning with Supervised Convolutional Kernel
    Networks. NIPS 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn_ckn import CKNClassifier, CKNTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> ckn = CKNTransformer(n_filters=(16, 32), subsamplings=(2, 2), image_shape=(8, 8))
    >>> clf = CKNClassifier(ckn=ckn, epochs=3, random_state=0).fit(X_train, y_train)
    >>> clf.transform(X_test).shape
    (450, 128)
    >>> bool(clf.score(X_test, y_test) > 0.9)
    True
    """

    _memory_format = torch.contiguous_format
    _explain_family = "ckn"
    _explain_name = "Supervised CKN"

    _parameter_constraints = {
        **{k: v for k, v in TorchImageClassifier._common_constraints.items()
           if k != "image_shape"},
        "architecture": [StrOptions(set(ARCHITECTURES)), None],
        "ckn": [CKNTransformer, None],
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
        ckn=None,
        loss="cross_entropy",
        epochs=10,
        batch_size=128,
        optimizer="adam",
        learning_rate=1e-3,
        anchor_lr_scale=1.0,
        momentum=0.9,
        weight_decay=1e-4,
        alternate=False,
        augment=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        warm_start=False,
        mixed_precision=False,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.ckn = ckn
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
        self.mixed_precision = mixed_precision
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ network
    def _image_shape_param(self):
        return None if self.ckn is None else self.ckn.image_shape

    def _unsupervised_transformer(self):
        """The :class:`CKNTransformer` whose fitted module starts the training."""
        ckn = CKNTransformer() if self.ckn is None else clone(self.ckn)
        if self.architecture is not None:
            ckn.set_params(**ARCHITECTURES[self.architecture])
        if ckn.random_state is None:
            seed = self.random_state if isinstance(self.random_state, Integral) else self._rng_seed_
            ckn.set_params(random_state=seed)
        return ckn.set_params(
            batch_size=max(int(ckn.batch_size), 256), device=str(self.device_),
            mixed_precision=self.mixed_precision, verbose=self.verbose,
        )

    def _build_module(self, config):
        return CKNNetwork.from_config(config)

    def _install_module(self, module):
        module.ckn.train_anchors_(True)
        self.module_ = module.to(self.device_).eval()

    def _feature_batches(self, data, augment_seed=None):
        """``(start, features)`` of every batch of ``data`` (an ImageBatches).

        Eval mode, no autograd, and autocast with ``mixed_precision``; batches are
        zero-padded to a multiple of ``PAD_MULTIPLE`` so that an image's features do
        not depend on the batch it is computed in (the same in ``transform`` and in
        the head solves). With an ``augment_seed``, the features of one randomly
        shifted (and flipped) copy of every image, as training draws them, from a
        generator seeded with it.
        """
        net = self.module_
        was_training = net.training
        net.eval()
        batch = max(int(self.batch_size), 256)
        crop, flip = self._augmentation()
        generator = None if augment_seed is None else torch.Generator().manual_seed(augment_seed)
        mixed = precision_context(self.device_, self.mixed_precision)
        try:
            with torch.no_grad(), mixed:
                for start in range(0, len(data), batch):
                    xb = data.get(slice(start, start + batch))
                    if generator is not None:
                        xb = augment_batch(xb, crop=crop, flip=flip, generator=generator)
                        xb = xb.contiguous(memory_format=self._memory_format)
                    xb, n = pad_to_multiple(xb, PAD_MULTIPLE, self._memory_format)
                    yield start, net.features(xb)[:n].float()
        finally:
            net.train(was_training)

    def _features(self, data, augment_seed=None):
        """Features of every image of ``data`` as one tensor; of a shifted copy of
        every image with an ``augment_seed``."""
        return torch.cat([f for _, f in self._feature_batches(data, augment_seed)])

    def _solve_head(self, data, y_idx, augment_seed, features=None):
        """Solve the head exactly on the features of ``data``; with augmentation on,
        on those and on the features of one shifted (and flipped) copy of every image
        too, so that the head suits the shifted batches training sees (see
        docs/supervised.md). ``features``: those of ``data`` when already computed.
        Returns the features of ``data``."""
        if features is None:
            features = self._features(data)
        head_x, head_y = features, y_idx.to(features.device)
        if self._augmentation() != ((0, 0), False):
            shifted = self._features(data, augment_seed=augment_seed)
            head_x, head_y = torch.cat([features, shifted]), torch.cat([head_y, head_y])
        weight, bias = _fit_linear_head(head_x, head_y, len(self.classes_), self.loss,
                                        self.weight_decay)
        with torch.no_grad():
            self.module_.head.weight.copy_(weight)
            self.module_.head.bias.copy_(bias)
        return features

    def _initialize_network(self, images, y_idx):
        transformer = self._unsupervised_transformer().fit(images)
        for name in ("n_filters_", "subsamplings_", "output_shape_", "n_features_out_",
                     "fit_stats_"):
            setattr(self, name, getattr(transformer, name))
        fitted = transformer.module_
        # The head's weights come from the exact solve below: built without drawing
        # from torch's global generator (nothing of this start does; see
        # _initialization_context).
        head = torch.nn.utils.skip_init(torch.nn.Linear, self.n_features_out_,
                                        len(self.classes_))
        with torch.no_grad():
            head.weight.zero_()
            head.bias.zero_()
        module = CKNNetwork(fitted.ckn, fitted.output, head)
        self._module_config_ = module.config
        self._install_module(module)
        features = self._solve_head(self._batches(images), y_idx,
                                    augment_seed=self._rng_seed_ + 2)
        with torch.no_grad():
            pred = self.module_.head(features).argmax(1).cpu()
        self.initial_train_accuracy_ = float((pred == y_idx).double().mean())
        if self.verbose:
            print(f"[CKNClassifier] unsupervised start: train accuracy "
                  f"{self.initial_train_accuracy_:.4f}")

    def _initialization_context(self):
        # The unsupervised start samples patches and runs k-means with its own
        # generators, and the head is solved exactly: no draw from torch's global
        # generator, so no lock (fits in several threads run side by side).
        return contextlib.nullcontext()

    def _trainer_options(self):
        net = self.module_
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

    # ------------------------------------------------------------------ features
    @with_parameters(IMAGES)
    def transform(self, X):
        """Return the features of the trained network: the input of its head.

        {parameters}

        Returns
        -------
        features : ndarray of shape (n, `n_features_out_`), dtype float32
            ``module_.features``: the flattened last CKN map, in (channel, row,
            column) order, after ``ckn``'s output steps (power, normalisation). For
            a dask array ``X``, a lazy dask array chunked like ``X`` along the
            samples (see :func:`sklearn_ckn.transform_dask`).
        """
        check_is_fitted(self, "module_")
        if is_dask_array(X):  # lazy features, chunked like X
            return transform_dask(self, X)
        images = self._validate_X(X, reset=False)
        out = np.empty((images.shape[0], self.n_features_out_), dtype=np.float32)
        n_batches = -(-images.shape[0] // max(int(self.batch_size), 256))
        with torch_threads(self.n_jobs):
            batches = self._feature_batches(self._batches(images))
            for start, feats in progress(batches, verbose=self.verbose, total=n_batches,
                                         desc="CKN transform"):
                out[start:start + feats.shape[0]] = feats.cpu().numpy()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
