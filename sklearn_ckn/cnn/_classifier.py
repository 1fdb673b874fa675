"""scikit-learn front end of the CNN baselines: :class:`CNNClassifier`."""

import copy
import math
import threading
from numbers import Real

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from torch import nn

from .._compat import Interval, StrOptions
from .._device import device_memory, to_cpu_state
from .._torch_estimator import TorchImageClassifier
from ._architectures import ARCHITECTURES, ImageClassifierNet

__all__ = ["CNNClassifier"]

#: A channel whose standard deviation is at most this many float32 rounding steps of
#: its largest magnitude is constant: the network computes in float32, where such a
#: spread is rounding noise, not signal.
CONSTANT_CHANNEL_ULPS = 8


def _channel_statistics(images, batch=4096):
    """Per-channel mean and std of ``(n, H, W, C)`` images (uint8 scaled to [0, 1]).

    The variance is accumulated batch by batch around each batch's mean (Chan et
    al.'s update), so that a constant channel gets exactly zero rather than the
    cancellation error of ``E[x^2] - E[x]^2``. A channel counts as constant (its std
    set to 1, so that standardisation only centres it) when its std is at most
    :data:`CONSTANT_CHANNEL_ULPS` float32 rounding steps of its largest magnitude:
    the threshold is relative, so images at any scale (1e-6 or 1e6) are
    standardised alike.
    """
    c = images.shape[-1]
    mean = np.zeros(c)
    m2 = np.zeros(c)
    peak = np.zeros(c)
    count = 0
    for start in range(0, images.shape[0], batch):
        part = images[start:start + batch].reshape(-1, c).astype(np.float64)
        n = part.shape[0]
        if n == 0:
            continue
        part_mean = part.mean(0)
        part_m2 = ((part - part_mean) ** 2).sum(0)
        delta = part_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        m2 = m2 + part_m2 + delta**2 * (count * n / total)
        peak = np.maximum(peak, np.abs(part).max(0))
        count = total
    std = np.sqrt(m2 / max(count, 1))
    if images.dtype == np.uint8:
        mean, std, peak = mean / 255.0, std / 255.0, peak / 255.0
    f32 = np.finfo(np.float32)
    threshold = np.maximum(CONSTANT_CHANNEL_ULPS * f32.eps * peak, f32.tiny)
    std = np.where(std > threshold, std, 1.0)
    return mean, std


#: Serialises the seeded construction of networks: torch's global generator (weight
#: initialisation) is shared by every thread of the process.
_BUILD_LOCK = threading.Lock()


@torch.no_grad()
def _initialize_weights(net, seed):
    """Draw the convolution and linear weights of ``net`` from a private generator.

    The same distributions as torch's defaults (``kaiming_uniform_(a=sqrt(5))``, biases
    uniform in ``+-1/sqrt(fan_in)``), but from ``torch.Generator().manual_seed(seed)``:
    torch's global generator is shared by the threads of the process, and another
    fit seeding or restoring it (``fork_rng``) at the same time would change the
    weights, so that fits in threads differed from sequential ones.
    """
    generator = torch.Generator().manual_seed(int(seed))
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            weight = module.weight
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = weight.shape[1] * math.prod(weight.shape[2:])
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)


def _training_bytes(builder, kwargs, batch_size, in_shape):
    """Estimated bytes to train the network ``builder(**kwargs)``, built on "meta".

    Parameters, their gradients and two optimizer buffers (4 copies), plus the
    outputs of every module for one batch (kept for the backward pass) and their
    gradients. None when the network cannot be built or run without memory (a
    callable that needs real tensors).
    """
    try:
        with torch.device("meta"):
            probe = builder(**kwargs)
            n_params = sum(p.numel() for p in probe.parameters())
            param_bytes = sum(p.numel() * p.element_size() for p in probe.parameters())
            buffer_bytes = sum(b.numel() * b.element_size() for b in probe.buffers())
            activations = [0]

            def count(module, inputs, output):
                if isinstance(output, torch.Tensor):
                    activations[0] += output.numel() * output.element_size()

            hooks = [m.register_forward_hook(count) for m in probe.modules()
                     if next(m.children(), None) is None]  # leaves: no double count
            try:
                probe(torch.empty((batch_size,) + tuple(in_shape), device="meta"))
            finally:
                for h in hooks:
                    h.remove()
    except Exception:
        return None, None
    return 4 * param_bytes + buffer_bytes + 2 * activations[0], n_params


def _check_memory(estimator, builder, kwargs, n_images):
    """A clear ``ValueError`` when training the network cannot fit in memory."""
    h, w, c = estimator.image_shape_
    batch = max(1, min(int(estimator.batch_size), int(n_images)))
    needed, n_params = _training_bytes(builder, kwargs, batch, (c, h, w))
    available = device_memory(estimator.device_)
    if needed is None or available is None or needed <= available:
        return
    gib = 2.0**30
    shown = {k: v for k, v in kwargs.items() if k not in ("in_channels", "n_classes", "dropout")}
    raise ValueError(
        f"{type(estimator).__name__} would need about {needed / gib:,.1f} GiB of memory to "
        f"train this network ({n_params:,} parameters, {shown}, batches of {batch} "
        f"images), more than the {available / gib:,.1f} GiB of the {estimator.device_} "
        "device: use smaller widths (architecture_params), a smaller batch_size or "
        "smaller images."
    )


def _module_config(builder, kwargs):
    """``_module_config_`` of a network: a registered architecture by name (builtins
    only, so skops needs no trusted function), else the callable itself."""
    for name, registered in ARCHITECTURES.items():
        if builder is registered:
            builder = name
            break
    return {"architecture": builder, "kwargs": dict(kwargs)}


def _builder(config):
    """The callable that builds the network of a ``_module_config_``."""
    builder = config["architecture"]
    return ARCHITECTURES[builder] if isinstance(builder, str) else builder


class CNNClassifier(TorchImageClassifier):
    """Convolutional neural network classifier for images, trained with PyTorch.

    A strong, plain CNN baseline with the scikit-learn API: a LeNet-5 or a compact
    residual network (batch norm, global average pooling) is trained end to end by
    mini-batch stochastic gradient descent with a one-cycle learning-rate schedule,
    on-the-fly data augmentation and per-channel input standardisation. Fitted
    networks can be reused for transfer learning (``init_from``).

    Images are given as ``(n, H, W)`` grey images, ``(n, H, W, C)`` channels-last
    images, or 2-D ``(n, H * W * C)`` rows with ``image_shape`` (without it, rows are
    read as square grey images when their length is a perfect square, else as
    1-pixel-high images). ``uint8`` pixels are scaled to [0, 1].

    Parameters
    ----------
    architecture : {"resnet-small", "lenet5"} or callable, default="resnet-small"
        The network. ``"resnet-small"``: conv-BN-ReLU stem, three stages
        ``conv-pool-BN-ReLU + residual conv-BN-ReLU`` of widths (64, 128, 256),
        global average pooling, linear head (about 1.2 M parameters; airbench /
        ResNet-8 style, meant for 32x32 colour images, adapts to 1x1 up to 100x100
        and larger images). ``"lenet5"``: LeNet-5 (conv5-pool-conv5-pool-fc120-fc84-fc,
        ReLU; about 62 k parameters on 28x28 images). A callable is called as
        ``architecture(in_channels=, n_classes=, image_size=(H, W), dropout=,
        **architecture_params)`` and returns an ``nn.Module``; see
        :mod:`sklearn_ckn.cnn._architectures` for the layout (``normalize``,
        ``features``, ``head``) that transfer learning and Grad-CAM expect.
    architecture_params : dict or None, default=None
        Extra constructor arguments of the architecture, e.g.
        ``{"widths": (32, 64, 128)}`` for a 4x cheaper "resnet-small".
    epochs : int, default=20
        Number of passes over the training data (per call to ``fit``).
    batch_size : int, default=128
        Mini-batch size for training (and, at least 256, for prediction).
    optimizer : {"sgd", "adamw"}, default="sgd"
        ``"sgd"``: SGD with Nesterov momentum; ``"adamw"``: AdamW (use a learning
        rate around 1e-3 to 3e-3 and a weight decay around 0.05 with it).
    learning_rate : float, default=0.05
        Peak learning rate of the one-cycle schedule: linear warm-up from a tenth of
        it during the first 20% of the steps, then linear decay to zero.
        ``partial_fit`` uses it as a constant rate.
    momentum : float, default=0.9
        SGD momentum (AdamW: first beta).
    weight_decay : float, default=5e-4
        Weight decay of convolution and linear weights (biases and batch-norm
        parameters are not decayed): an L2 penalty with SGD, decoupled with AdamW.
    dropout : float, default=0.0
        Dropout probability in the classifier head.
    label_smoothing : float, default=0.0
        Label smoothing of the training cross-entropy (0.1 to 0.2 helps on
        CIFAR-like data; it makes ``predict_proba`` less confident).
    augment : {"auto"} or bool, default="auto"
        On-the-fly data augmentation of the training batches: random translations by
        up to 1/8 of the image size with zero padding ("random crops"), plus random
        horizontal flips for colour images (3 or more channels) only, since flipping
        digits or characters changes them. ``"auto"``: on for colour images, off for
        grey images.
    test_time_augmentation : bool, default=False
        Average the logits of each test image and of its mirror image (use with
        colour images trained with flips).
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data, stop when
        its loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep
        the weights of the best epoch. When False no data is held out (unless
        ``validation_data`` is given to ``fit``, which is then only scored).
    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Minimal decrease of the validation loss counted as an improvement.
    init_from : CNNClassifier, FrozenEstimator, nn.Module or None, default=None
        Transfer learning: a fitted ``CNNClassifier`` (or ``FrozenEstimator`` wrapping
        one, or its ``module_``) whose architecture, input standardisation and
        feature layers (``module_.features``) are copied; a new head is built for
        the classes of ``y``. ``architecture`` and ``architecture_params`` are then
        ignored, and the images must have the source's shape. Note that
        :func:`~sklearn.base.clone` (e.g. in ``GridSearchCV``) un-fits an estimator
        given here: pass ``FrozenEstimator(fitted)`` or ``fitted.module_`` there.
    freeze_features : bool, default=False
        With ``init_from``: do not train the copied feature layers (their parameters
        get ``requires_grad=False`` and their batch norms stay in eval mode), only the
        head.
    warm_start : bool, default=False
        When True, ``fit`` continues training the current network (with a new
        optimizer and schedule over ``epochs``) instead of starting afresh;
        ``n_iter_`` and ``history_`` keep growing.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of the images when ``X`` is 2-D.
    mixed_precision : bool, default=False
        Run the forward passes in bfloat16 autocast (about 2x faster on GPUs and on
        CPUs with AVX-512 BF16 / AMX; slower on CPUs without them).
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    n_jobs : int or None, default=None
        CPU threads (torch and BLAS) of ``fit`` and prediction, restored afterwards.
        None: one thread inside a joblib worker (``GridSearchCV(n_jobs=2)``...), where
        the workers already share the cores, and torch's current setting elsewhere;
        ``k``: ``k`` threads; -1: all cores.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, augmentation and dropout. On the CPU
        two fits with the same integer give identical networks, also when they run
        at the same time in two threads (the convolution and linear weights are drawn
        from a generator of their own, not torch's global one).
    verbose : int, default=0
        When > 0, a progress bar per epoch with the training loss and accuracy and the
        validation accuracy.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : torch.nn.Module
        The fitted network (in eval mode), with ``normalize``, ``features``,
        ``head`` and ``last_conv_block`` (the default Grad-CAM target layer).
    network_ : torch.nn.Module
        Another name of ``module_``.
    device_ : torch.device
        Device the network lives on.
    history_ : list of dict
        One dict per epoch: ``epoch``, ``train_loss`` (with label smoothing),
        ``train_accuracy`` (on augmented batches), ``valid_loss`` and
        ``valid_accuracy`` when a validation set is used, ``lr`` (learning rate of the
        last step) and ``seconds``. ``pandas.DataFrame(clf.history_)`` tabulates it.
    n_iter_ : int
        Number of epochs run (over all ``fit`` calls with ``warm_start`` and
        ``partial_fit`` calls).
    input_mean_ : ndarray of shape (n_channels,)
        Per-channel mean of the training images (after uint8 scaling).
    input_std_ : ndarray of shape (n_channels,)
        Per-channel standard deviation of the training images.
    image_shape_ : tuple of int
        ``(H, W, C)`` of the training images.
    n_features_in_ : int
        Number of features (``H * W * C``) seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : Fully connected networks.
    sklearn_ckn.ckn.CKNClassifier : The supervised CKN, trained with the same loop.
    sklearn_ckn.cnn.build_architecture : The torch modules named by ``architecture``.
    sklearn_ckn.explain.plot_grad_cam : Class activation maps of the fitted network.

    Notes
    -----
    ``fit`` raises a ``ValueError`` naming the learning rate when training diverges
    (weights, batch-norm statistics or class scores no longer finite), and leaves the
    estimator unfitted; prediction raises rather than return NaN. A network too
    large for the memory of its device is refused before anything is allocated.

    The fitted network pickles as a CPU state dict plus its constructor arguments, so
    a model trained on a GPU loads and predicts on a machine without one (an unpickled
    model lives on the CPU). The optimizer state is not pickled: ``partial_fit`` after
    unpickling starts a new optimizer.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn_ckn import CNNClassifier
    >>> digits = load_digits()
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     digits.images, digits.target, random_state=0)
    >>> clf = CNNClassifier(architecture="lenet5", epochs=15, random_state=0)
    >>> clf.fit(X_train, y_train)
    CNNClassifier(architecture='lenet5', epochs=15, random_state=0)
    >>> clf.predict(X_test[:5])
    array([2, 8, 2, 6, 6])
    >>> bool(clf.score(X_test, y_test) > 0.9)
    True
    """

    _explain_family = "cnn"
    _explain_name = "CNN"

    _parameter_constraints = {
        **TorchImageClassifier._common_constraints,
        "architecture": [StrOptions(set(ARCHITECTURES)), callable],
        "architecture_params": [dict, None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "test_time_augmentation": ["boolean"],
        "init_from": "no_validation",
        "freeze_features": ["boolean"],
    }

    def __init__(
        self,
        architecture="resnet-small",
        *,
        architecture_params=None,
        epochs=20,
        batch_size=128,
        optimizer="sgd",
        learning_rate=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        dropout=0.0,
        label_smoothing=0.0,
        augment="auto",
        test_time_augmentation=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        init_from=None,
        freeze_features=False,
        warm_start=False,
        image_shape=None,
        mixed_precision=False,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.architecture_params = architecture_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.augment = augment
        self.test_time_augmentation = test_time_augmentation
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.init_from = init_from
        self.freeze_features = freeze_features
        self.warm_start = warm_start
        self.image_shape = image_shape
        self.mixed_precision = mixed_precision
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ network
    def _source_network(self):
        """The network to transfer from (``init_from``), or None."""
        src = self.init_from
        if src is None:
            if self.freeze_features:
                raise ValueError(
                    "freeze_features=True needs init_from (the fitted network whose "
                    "features are reused)."
                )
            return None
        if isinstance(src, FrozenEstimator):
            src = src.estimator
        if isinstance(src, CNNClassifier):
            if not hasattr(src, "module_"):
                raise ValueError(
                    "init_from must be a fitted CNNClassifier (clone(), e.g. in "
                    "GridSearchCV, un-fits it: pass FrozenEstimator(fitted) or "
                    "fitted.module_ instead)."
                )
            return src.module_, src._module_config_
        if isinstance(src, nn.Module):
            if not all(hasattr(src, a) for a in ("normalize", "features", "head")):
                raise ValueError(
                    "init_from must be a fitted CNNClassifier or a network with "
                    "'normalize', 'features' and 'head' sub-modules."
                )
            if isinstance(src, ImageClassifierNet) and hasattr(src, "config"):
                return src, _module_config(type(src), dict(src.config))
            raise ValueError(
                "init_from as an nn.Module must be an ImageClassifierNet (it must be "
                "rebuilt with its constructor arguments): pass the fitted CNNClassifier."
            )
        raise ValueError(
            "init_from must be None, a fitted CNNClassifier, a FrozenEstimator of one, "
            f"or its module_; got {type(src).__name__}."
        )

    def _initialize_network(self, images, y_idx):
        """Build ``module_`` (and ``_module_config_``) for images ``(n, H, W, C)``."""
        n_classes = len(self.classes_)
        h, w, c = self.image_shape_
        source = self._source_network()
        if source is None:
            params = dict(self.architecture_params or {})
            if isinstance(self.architecture, str):
                builder = ARCHITECTURES[self.architecture]
            else:
                builder = self.architecture
            kwargs = dict(in_channels=c, n_classes=n_classes, image_size=(h, w),
                          dropout=float(self.dropout), **params)
            net = self._build_seeded(builder, kwargs, len(images))
            missing = [a for a in ("normalize", "features", "head") if not hasattr(net, a)]
            if missing or not isinstance(net, nn.Module):
                raise ValueError(
                    "The architecture callable must return an nn.Module with "
                    f"'normalize', 'features' and 'head' sub-modules (missing: {missing}); "
                    "subclass sklearn_ckn.cnn._architectures.ImageClassifierNet."
                )
            mean, std = _channel_statistics(images)
            net.normalize.set_statistics(mean, std)
        else:
            src_net, src_config = source
            builder, src_kwargs = _builder(src_config), src_config["kwargs"]
            src_shape = tuple(src_kwargs["image_size"]) + (src_kwargs["in_channels"],)
            if src_shape != (h, w, c):
                raise ValueError(
                    f"init_from was fitted on images of shape {src_shape} (H, W, C), "
                    f"but X has images of shape {(h, w, c)}."
                )
            kwargs = dict(src_kwargs, n_classes=n_classes, dropout=float(self.dropout))
            net = self._build_seeded(builder, kwargs, len(images))
            net.normalize.load_state_dict(to_cpu_state(src_net.normalize))
            net.features.load_state_dict(to_cpu_state(src_net.features))
        # The statistics actually used (float32 buffers of the network).
        self.input_mean_ = net.normalize.mean.reshape(-1).double().numpy().copy()
        self.input_std_ = net.normalize.std.reshape(-1).double().numpy().copy()
        self._module_config_ = _module_config(builder, kwargs)
        self._frozen_ = bool(self.freeze_features and source is not None)
        self._install_module(net)

    def _build_seeded(self, builder, kwargs, n_images):
        """``builder(**kwargs)`` after a memory check, its weights drawn from this fit's seed.

        torch's global generator is shared by the threads of the process: two fits
        building networks at the same time in two threads would interleave their
        draws. The construction is serialised and seeded here (for the parameters of
        an ``architecture`` callable's own layers), and the convolution and linear
        weights are then drawn again from a private generator
        (:func:`_initialize_weights`), which no other thread can disturb. A network
        too large for the device's memory is refused first (:func:`_check_memory`).
        """
        _check_memory(self, builder, kwargs, n_images)
        with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._rng_seed_)
            net = builder(**kwargs)
        _initialize_weights(net, self._rng_seed_)
        return net

    def _build_module(self, config):
        return _builder(config)(**config["kwargs"])

    def _install_module(self, net):
        if getattr(self, "_frozen_", False):
            for p in net.features.parameters():
                p.requires_grad_(False)
        # Channels-last memory: 1.2-1.5x faster convolutions on the CPU (oneDNN), and
        # what tensor cores want on GPUs; batches come in that layout (ImageBatches).
        self.module_ = net.to(self.device_, memory_format=torch.channels_last).eval()

    def _trainer_options(self):
        return {
            "label_smoothing": self.label_smoothing,
            "frozen": (self.module_.features,) if self._frozen_ else (),
        }

    def _prediction_options(self):
        return {"flip_tta": self.test_time_augmentation, "mixed_precision": self.mixed_precision}

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("init_from"), nn.Module):
            # A network given as init_from may live on a GPU: pickle a CPU copy.
            state["init_from"] = copy.deepcopy(state["init_from"]).to("cpu")
        return state
