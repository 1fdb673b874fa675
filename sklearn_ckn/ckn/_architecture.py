"""The structure of a CKN from its estimator's parameters (no fitting here).

``n_filters``, ``patch_sizes``, ``subsamplings``, ``sigmas``, ``kernel`` and
``whitening`` of :class:`CKNTransformer` become the constructor arguments of every
layer (:func:`network_config`), with the ``"auto"`` choices made from the image size
(:func:`auto_subsamplings`, :func:`auto_n_filters`). Named architectures
(:data:`ARCHITECTURES`, Mairal's CIFAR-10 networks) are sets of these parameters.
"""

import math
import numbers

import numpy as np

from .._docstrings import fill_doc
from ..core.kernels import KERNELS
from ..core.pooling import pooled_size

__all__ = [
    "ARCHITECTURES",
    "LAYER_PARAMS",
    "auto_n_filters",
    "auto_subsamplings",
    "check_network_memory",
    "network_config",
    "network_memory",
]

#: Named CKN architectures: values of the per-layer parameters (:data:`LAYER_PARAMS`).
#: ``"ckn5"`` is the 5-layer CIFAR-10 network of Mairal (2016) (3x3 Gaussian-kernel
#: layers alternating with 1x1 polynomial ones); ``"ckn14"`` his 14-layer one. The
#: reference implementation's 1x1 kernel is ``u^2`` (``"square"``); ``((1 + u) / 2)^2``
#: (``"poly2"``) gave CKN-5 a better start and better first epochs on CIFAR-10 here
#: (docs/supervised.md), so it stays.
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

#: The parameters that a named architecture sets.
LAYER_PARAMS = ("n_filters", "patch_sizes", "subsamplings", "sigmas", "kernel")


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
        The filters (anchor points) of each layer, first to last.

    Examples
    --------
    >>> from sklearn_ckn.ckn._architecture import auto_n_filters
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
        One pooling factor per layer; the last map is about 4x4.

    Examples
    --------
    >>> from sklearn_ckn.ckn._architecture import auto_subsamplings
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



def network_config(params, height, width, n_channels):
    """The ``CKNSequential`` config of a CKN estimator's parameters for given images.

    Parameters
    ----------
    params : object
        Has the attributes ``n_filters``, ``patch_sizes``, ``subsamplings``,
        ``sigmas``, ``kernel`` and ``whitening`` (a ``CKNTransformer``).
    height, width, n_channels : int
        Size of the training images.

    Returns
    -------
    config : dict
        ``{"layers": [layer constructor arguments], "preprocess": ...}``, for
        :meth:`sklearn_ckn.core.sequential.CKNSequential.from_config`.

    Examples
    --------
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.ckn._architecture import network_config
    >>> config = network_config(CKNTransformer(), 28, 28, 1)
    >>> [(c["n_filters"], c["subsampling"]) for c in config["layers"]]
    [(64, 2), (256, 4)]
    """
    auto = isinstance(params.subsamplings, str) and params.subsamplings == "auto"
    auto_filters = isinstance(params.n_filters, str) and params.n_filters == "auto"
    per_layer = [params.patch_sizes, params.sigmas, params.kernel]
    if not auto:
        per_layer.append(params.subsamplings)
    if auto_filters:
        n_layers = max(len(AUTO_FILTERS), _n_layers(*per_layer))
    else:
        n_layers = _n_layers(params.n_filters, *per_layer)
    patches = _per_layer("patch_sizes", params.patch_sizes, n_layers, "int")
    if auto:
        subs = list(auto_subsamplings(height, width, n_layers))
    else:
        subs = _per_layer("subsamplings", params.subsamplings, n_layers, "int")
    if auto_filters:
        h, w = height, width
        for s in subs[:-1]:
            h, w = pooled_size(h, s), pooled_size(w, s)
        filters = list(auto_n_filters(h, w, n_layers))
    else:
        filters = _per_layer("n_filters", params.n_filters, n_layers, "int")
    sigmas = _per_layer("sigmas", params.sigmas, n_layers, "float")
    kernels = _per_layer("kernel", params.kernel, n_layers, "kernel")
    local = isinstance(params.whitening, str) and params.whitening == "local"
    # Whitening centres each patch channel by channel: nothing is left of a
    # 1x1 patch, so "auto" leaves such first layers unwhitened and True refuses them.
    if isinstance(params.whitening, str) and params.whitening == "auto":
        whiten = n_channels > 1 and patches[0] > 1
    else:
        whiten = not local and bool(params.whitening)
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
    config = {"layers": specs, "preprocess": preprocess}
    check_network_memory(config, height, width, params)
    return config


#: Parameters of the functions that size a built network for an image size.
_NETWORK_AND_SIZE = """\
config : dict
    A :func:`network_config` result.
height, width : int
    Image size.
"""
_sizing_doc = fill_doc(network_and_size=_NETWORK_AND_SIZE)


@_sizing_doc
def network_memory(config, height, width, batch_size=256, n_patches=100_000):
    """Estimated bytes to fit and apply a CKN (a lower bound of the peak), by layer.

    Per layer: its anchors, Nystrom map and ZCA map (float32), the float64
    eigendecomposition of the ``n_filters x n_filters`` Nystrom matrix, the
    sampled patches and their similarities to the anchors in k-means, the Gaussian
    pooling taps and matrices, and a batch of ``batch_size`` input and output maps
    (patch products, kernel values and pooled maps).

    Parameters
    ----------
    {network_and_size}
    batch_size : int, default=256
        Images per batch.
    n_patches : int, default=100_000
        Patches sampled per layer for k-means.

    Returns
    -------
    total : int
        The parameters of every layer plus the largest working set of one layer.
    per_layer : list of int
        Parameters plus working set of each layer.

    Examples
    --------
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.ckn._architecture import network_config, network_memory
    >>> total, per_layer = network_memory(network_config(CKNTransformer(), 28, 28, 1), 28, 28)
    >>> 10 * 2**20 < total < 2**30
    True
    """
    f32, f64 = 4, 8
    h, w = int(height), int(width)
    params, per_layer, working = 0, [], []
    for spec in config["layers"]:
        c, f, p, s = spec["in_channels"], spec["n_filters"], spec["patch_size"], spec["subsampling"]
        d = c * p * p
        layer_params = f32 * (f * d + f * f) + (f32 * (d * d + d) if spec["whitening"] else 0)
        oh, ow = pooled_size(h, s), pooled_size(w, s)
        work = (
            3 * f64 * f * f  # eigendecomposition of kappa(Z Z^T)
            + f32 * n_patches * (d + f)  # k-means: the patches and their similarities
            + 4 * f64 * (2 * s + 1) + f32 * (oh * h + ow * w)  # pooling taps and matrices
            + f32 * batch_size * (c * h * w + 3 * f * h * w + f * oh * ow)  # one batch
        )
        params += layer_params
        per_layer.append(layer_params + work)
        working.append(work)
        h, w = oh, ow
    return params + max(working, default=0), per_layer


def _available_memory(device):
    """Bytes of memory of ``device`` (this machine's RAM for the CPU) and its name."""
    import torch

    from .._device import device_memory, resolve_device

    try:
        device = resolve_device(device)
    except ValueError:  # an unknown device: validated elsewhere
        device = torch.device("cpu")
    return device_memory(device), str(device)


@_sizing_doc
def check_network_memory(config, height, width, params):
    """A clear ``ValueError`` when a CKN cannot fit in its device's memory.

    Called by :func:`network_config` before anything is allocated, so that huge
    ``n_filters`` or ``subsamplings`` get an error naming them and the memory they
    would need rather than an allocator failure deep inside torch.

    Parameters
    ----------
    {network_and_size}
    params : object
        The estimator: its ``batch_size``, ``n_patches`` and ``device``.
    """
    batch = getattr(params, "batch_size", 256)
    batch = int(batch) if isinstance(batch, numbers.Integral) else 256
    n_patches = getattr(params, "n_patches", 100_000)
    n_patches = int(n_patches) if isinstance(n_patches, numbers.Integral) else 100_000
    needed, per_layer = network_memory(config, height, width, batch, n_patches)
    available, device = _available_memory(getattr(params, "device", "cpu"))
    if available is None or needed <= available:
        return
    gib = 2.0**30
    worst = int(np.argmax(per_layer))
    layers = config["layers"]
    filters = tuple(spec["n_filters"] for spec in layers)
    patches = tuple(spec["patch_size"] for spec in layers)
    subs = tuple(spec["subsampling"] for spec in layers)
    raise ValueError(
        f"This CKN would need about {needed / gib:,.1f} GiB of memory, more than the "
        f"{available / gib:,.1f} GiB of the {device} device: n_filters={filters}, "
        f"patch_sizes={patches}, subsamplings={subs} (layer {worst + 1} alone: "
        f"{per_layer[worst] / gib:,.1f} GiB), batch_size={batch}, n_patches={n_patches}. "
        "Use fewer n_filters, smaller subsamplings or patch_sizes, or a smaller "
        "batch_size or n_patches."
    )
