"""Plain PyTorch CNN architectures used by :class:`~sklearn_ckn.CNNClassifier`.

Every network built here has the same layout, which transfer learning and Grad-CAM
rely on:

``normalize``
    :class:`Standardize`, per-channel ``(x - mean) / std`` with the statistics stored
    as buffers (learned by the estimator in ``fit``, identity until then).
``features``
    The convolutional part, an :class:`torch.nn.Sequential`, mapping
    ``(n, C, H, W)`` images to ``(n, C', H', W')`` feature maps.
``head``
    The classifier part, mapping feature maps to ``(n, n_classes)`` logits.
``last_conv_block``
    (property) The last convolutional block inside ``features``, whose output
    feature maps are the usual Grad-CAM target; ``last_conv_block_name`` is its
    qualified name for :meth:`torch.nn.Module.get_submodule`.
``config``
    The constructor's keyword arguments, enough to rebuild the network (its weights
    come from a ``state_dict``): ``build_architecture(name, **net.config)``.

The networks adapt to the image size and channel count they are built for: pooling
never reduces a side below 1 pixel (a side of 1 is left alone, odd sides are rounded
up), so anything from 1x1 up to 100x100 and larger images works.

No scikit-learn in this module.
"""

import math
import numbers

import torch
from torch import nn

from .._docstrings import fill_doc

__all__ = [
    "ARCHITECTURES",
    "Standardize",
    "ImageClassifierNet",
    "LeNet5",
    "ResNetSmall",
    "build_architecture",
    "count_parameters",
]



def _is_int(v):
    """An integer that is not a boolean (``numpy.bool_`` is no ``Integral``)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _sizes(name, values, length=None):
    """Layer sizes as a tuple of ints, or a clear error.

    A string is refused (``tuple("48")`` would be ``("4", "8")``), and so are
    booleans (``True`` is an ``int`` in Python), floats and other non-integers.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(
            f"{name} must be a sequence of positive integers (one per layer), got {values!r}."
        )
    values = tuple(values)
    if not all(_is_int(v) for v in values):
        raise ValueError(f"{name} must hold positive integers, got {values!r}.")
    values = tuple(int(v) for v in values)
    _check_positive(name, values, length)
    return values


def _size(name, value):
    """One positive integer size, or a clear error."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_positive(name, values, length=None):
    """A clear error for layer sizes that are not positive integers (or miscounted)."""
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must hold {length} layer sizes, got {values!r}.")
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must hold positive layer sizes, got {values!r}.")


def _network_config(in_channels, n_classes, image_size, dropout):
    """The arguments every network takes, checked in this order, as the first entries of
    its ``config`` (the network adds its own)."""
    return dict(
        in_channels=_size("in_channels", in_channels), n_classes=_size("n_classes", n_classes),
        image_size=_sizes("image_size", image_size, 2), dropout=float(dropout),
    )


#: Parameters of every network's constructor and of :func:`build_architecture`.
_NETWORK_PARAMETERS = """\
in_channels : int
    Number of image channels.
n_classes : int
    Number of outputs (logits).
image_size : tuple of int
    ``(H, W)`` of the input images.
"""
_network_doc = fill_doc(network_parameters=_NETWORK_PARAMETERS)


class Standardize(nn.Module):
    """Per-channel standardisation ``(x - mean) / std`` with buffers (state-dict saved)."""

    def __init__(self, n_channels):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, n_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, n_channels, 1, 1))

    @torch.no_grad()
    def set_statistics(self, mean, std):
        """Set the statistics from two length-``C`` sequences or tensors."""
        mean = torch.as_tensor(mean, dtype=self.mean.dtype).reshape(self.mean.shape)
        std = torch.as_tensor(std, dtype=self.std.dtype).reshape(self.std.shape)
        self.mean.copy_(mean)
        self.std.copy_(std)

    def forward(self, x):
        return (x - self.mean) / self.std


def _pool_kernel(size):
    """2x2 pooling where a side allows it, 1 (no pooling) along a side of 1."""
    return tuple(2 if s >= 2 else 1 for s in size)


def _pooled(size, kernel):
    # ceil_mode=True: odd sides are rounded up (7 -> 4), never below 1.
    return tuple(math.ceil(s / k) for s, k in zip(size, kernel))


def _max_pool(size):
    """A MaxPool2d halving ``size`` (H, W) where possible, and the size after it."""
    kernel = _pool_kernel(size)
    if kernel == (1, 1):
        return nn.Identity(), tuple(size)
    return nn.MaxPool2d(kernel, stride=kernel, ceil_mode=True), _pooled(size, kernel)


class ImageClassifierNet(nn.Module):
    """Base class: ``forward(x) = head(features(normalize(x)))``.

    Subclasses set ``normalize``, ``features``, ``head``, ``last_conv_block_name``
    and ``config`` in their constructor.
    """

    last_conv_block_name = None

    @property
    def last_conv_block(self):
        """The last convolutional block of ``features`` (default Grad-CAM target)."""
        return self.get_submodule(self.last_conv_block_name)

    def forward_features(self, x):
        """Feature maps of standardised inputs: ``features(normalize(x))``."""
        return self.features(self.normalize(x))

    def forward(self, x):
        return self.head(self.forward_features(x))


@_network_doc
class LeNet5(ImageClassifierNet):
    """LeNet-5 style network (LeCun et al., 1998), with ReLU and max pooling.

    ``conv5x5(6) - ReLU - pool - conv5x5(16) - ReLU - pool - fc120 - ReLU - fc84 -
    ReLU - fc(n_classes)``. The first convolution is zero-padded ("same"), as is usual
    for 28x28 MNIST, so that 28x28 and 32x32 inputs both give 5x5 maps before the
    fully connected layers; the second one is padded too when its input is smaller
    than 5 pixels. Larger inputs are average-pooled to at most 5x5 before the fully
    connected part.

    Parameters
    ----------
    {network_parameters}
    dropout : float, default=0.0
        Dropout probability before each fully connected layer but the first.
    widths : tuple of int, default=(6, 16)
        Channels of the two convolutions.
    hidden : tuple of int, default=(120, 84)
        Sizes of the two hidden fully connected layers.
    """

    def __init__(self, in_channels, n_classes, image_size, dropout=0.0, widths=(6, 16),
                 hidden=(120, 84)):
        super().__init__()
        self.config = dict(
            _network_config(in_channels, n_classes, image_size, dropout),
            widths=_sizes("widths", widths, 2), hidden=_sizes("hidden", hidden, 2),
        )
        w1, w2 = self.config["widths"]
        h1, h2 = self.config["hidden"]
        size = self.config["image_size"]
        in_channels = self.config["in_channels"]
        self.normalize = Standardize(in_channels)

        conv1 = nn.Sequential(nn.Conv2d(in_channels, w1, 5, padding=2), nn.ReLU(inplace=True))
        pool1, size = _max_pool(size)
        pad2 = 0 if min(size) >= 5 else 2
        conv2 = nn.Sequential(nn.Conv2d(w1, w2, 5, padding=pad2), nn.ReLU(inplace=True))
        size = tuple(s + 2 * pad2 - 4 for s in size)
        pool2, size = _max_pool(size)
        out = (min(size[0], 5), min(size[1], 5))
        reduce = nn.Identity() if out == size else nn.AdaptiveAvgPool2d(out)
        self.features = nn.Sequential()
        for name, module in [("conv1", conv1), ("pool1", pool1), ("conv2", conv2),
                             ("pool2", pool2), ("reduce", reduce)]:
            self.features.add_module(name, module)
        self.last_conv_block_name = "features.conv2"
        self.feature_shape = (w2,) + out
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(w2 * out[0] * out[1], h1), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(h1, h2), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(h2, n_classes),
        )


class ConvBNReLU(nn.Sequential):
    """``conv3x3 (no bias) - [max pool] - batch norm - ReLU``.

    Pooling right after the convolution (as in airbench) makes batch norm and ReLU
    run on 4x fewer pixels.
    """

    def __init__(self, in_channels, out_channels, pool=None):
        layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
        if pool is not None and not isinstance(pool, nn.Identity):
            layers.append(pool)
        layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class Residual(nn.Module):
    """``x + branch(x)``."""

    def __init__(self, branch):
        super().__init__()
        self.branch = branch

    def forward(self, x):
        return x + self.branch(x)


@_network_doc
class ResNetSmall(ImageClassifierNet):
    """Compact residual network with batch norm (airbench / ResNet-8 style).

    ``stem: conv3x3 - BN - ReLU``, then one stage per entry of ``widths``:
    ``conv3x3 - maxpool2 - BN - ReLU`` followed by a residual unit
    ``x + ReLU(BN(conv3x3(x)))``; then global average pooling, dropout and a linear
    layer. With the default widths ``(64, 128, 256)`` it has about 1.17 M
    parameters (for 10 classes; 0.29 M with ``widths=(32, 64, 128)``), and maps 32x32
    images to 4x4 feature maps.

    Adapting to the input: large images (a side over 64 pixels) are first halved by
    max pooling in the stem until both sides are at most 64 (100x100 -> 50x50, ending
    at 7x7); stages never pool a side of 1 pixel, so 8x8 digits end at 1x1 and 1x2
    "images" work.

    Parameters
    ----------
    {network_parameters}
    dropout : float, default=0.0
        Dropout probability before the linear layer.
    widths : tuple of int, default=(64, 128, 256)
        Channels of each stage.
    stem_width : int or None, default=None
        Channels of the stem; ``widths[0] // 2`` when None.
    max_stem_size : int, default=64
        The stem max-pools by 2 until both sides are at most this.
    """

    def __init__(self, in_channels, n_classes, image_size, dropout=0.0,
                 widths=(64, 128, 256), stem_width=None, max_stem_size=64):
        super().__init__()
        widths = _sizes("widths", widths)
        if not widths:
            raise ValueError("widths must hold at least one stage width for ResNetSmall, got ().")
        if stem_width is None:
            stem_width = max(widths[0] // 2, 1)
        self.config = dict(
            _network_config(in_channels, n_classes, image_size, dropout),
            widths=widths, stem_width=_size("stem_width", stem_width),
            max_stem_size=_size("max_stem_size", max_stem_size),
        )
        size = self.config["image_size"]
        in_channels, stem_width = self.config["in_channels"], self.config["stem_width"]
        self.normalize = Standardize(in_channels)

        stem = [nn.Conv2d(in_channels, stem_width, 3, padding=1, bias=False)]
        while max(size) > max_stem_size:
            pool, size = _max_pool(size)
            stem.append(pool)
        stem += [nn.BatchNorm2d(stem_width), nn.ReLU(inplace=True)]
        self.features = nn.Sequential()
        self.features.add_module("stem", nn.Sequential(*stem))
        previous = stem_width
        for i, width in enumerate(widths):
            pool, size = _max_pool(size)
            stage = nn.Sequential(
                ConvBNReLU(previous, width, pool=pool),
                Residual(ConvBNReLU(width, width)),
            )
            self.features.add_module(f"stage{i + 1}", stage)
            previous = width
        self.last_conv_block_name = f"features.stage{len(widths)}"
        self.feature_shape = (previous,) + tuple(size)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(previous, n_classes),
        )


ARCHITECTURES = {
    "lenet5": LeNet5,
    "resnet-small": ResNetSmall,
}


@_network_doc
def build_architecture(architecture, *, in_channels, n_classes, image_size, dropout=0.0,
                       **params):
    """Build a network by name (a key of :data:`ARCHITECTURES`) or from a callable.

    A callable is called as ``architecture(in_channels=..., n_classes=...,
    image_size=..., dropout=..., **params)`` and must return an ``nn.Module``; to be
    usable for transfer learning and Grad-CAM it should follow the layout of
    ``ImageClassifierNet`` (``forward_features`` then ``head``).

    Parameters
    ----------
    architecture : str or callable
        ``"lenet5"``, ``"resnet-small"`` or a callable returning an ``nn.Module``.
    {network_parameters}
    dropout : float, default=0.0
        Dropout probability of the network's head.
    **params : dict
        Further keyword arguments of the architecture (e.g. ``widths``).

    Returns
    -------
    network : torch.nn.Module
        The untrained network, mapping ``(n, in_channels, H, W)`` tensors to
        ``(n, n_classes)`` logits.

    See Also
    --------
    sklearn_ckn.cnn.CNNClassifier : Trains these networks with the scikit-learn API.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.cnn import build_architecture
    >>> net = build_architecture("lenet5", in_channels=1, n_classes=10, image_size=(28, 28))
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    if isinstance(architecture, str):
        try:
            cls = ARCHITECTURES[architecture]
        except KeyError:
            raise ValueError(
                f"Unknown architecture {architecture!r}; expected one of "
                f"{sorted(ARCHITECTURES)} or a callable."
            ) from None
    elif callable(architecture):
        cls = architecture
    else:
        raise ValueError(f"architecture must be a name or a callable, got {architecture!r}.")
    return cls(in_channels=in_channels, n_classes=n_classes, image_size=tuple(image_size),
               dropout=dropout, **params)


def count_parameters(module, trainable_only=False):
    """Number of (trainable) parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
