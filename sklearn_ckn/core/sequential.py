"""A stack of CKN layers as one :class:`torch.nn.Module` (:class:`CKNSequential`).

The stack applies an optional fixed preprocessing (per-image local whitening), then
its :class:`~sklearn_ckn.core.layers.CKNLayer` objects in order. Without autograd on
the CPU, a forward pass runs by sub-batches small enough to stay in the cache (see
:meth:`CKNSequential.inference_chunk_size`), never leaving one image alone (another
convolution path: see :mod:`.batching`).
"""

import torch
from torch import nn

from ._config import ConfigurableModule
from ._docstrings import NETWORK_IMPORTS, SIZE_PARAMETERS, fill_doc
from .batching import split_sizes
from ._autocast import full_precision
from .layers import CKNLayer

__all__ = ["CKNSequential"]

# Images per sub-batch of an inference forward pass on the CPU (cache blocking), and
# the most bytes of one layer's largest map per sub-batch: 32 images for the 64/256
# CIFAR-10 network, 16 for 256/1024, the fastest sizes measured (bench_transform.py).
_FORWARD_CHUNK = 32
_FORWARD_CHUNK_BYTES = 16 * 2**20

_doc = fill_doc(network_imports=NETWORK_IMPORTS, size_parameters=SIZE_PARAMETERS)


@_doc
class CKNSequential(ConfigurableModule, nn.Module):
    """A stack of :class:`CKNLayer` objects; ``forward`` returns the last map.

    ``preprocess`` (a module without fitted state, e.g.
    :class:`.local_whitening.LocalPatchWhitening`) is applied to the input first.

    Parameters
    ----------
    layers : list of CKNLayer
        The layers, first to last.
    preprocess : torch.nn.Module, default=None
        Applied to the input before the first layer.

    See Also
    --------
    sklearn_ckn.core.layers.CKNLayer : One layer.
    sklearn_ckn.core.network.CKNNetwork : The layers with output steps and a head.

    Examples
    --------
    {network_imports}
    >>> net = CKNSequential([CKNLayer(1, 8, subsampling=2), CKNLayer(8, 16, subsampling=4)])
    >>> net.output_shape(28, 28)
    (16, 4, 4)
    """

    def __init__(self, layers, preprocess=None):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.preprocess = preprocess

    def __len__(self):
        return len(self.layers)

    @property
    def config(self):
        """Plain data: ``CKNSequential.from_config(net.config)`` rebuilds the structure."""
        pre = self.preprocess
        return {
            "layers": [layer.config for layer in self.layers],
            "preprocess": None if pre is None else {
                "patch_size": pre.patch_size, "power": pre.power,
            },
        }

    @classmethod
    def _init_arguments(cls, config):
        from .local_whitening import LocalPatchWhitening

        pre = config.get("preprocess")
        return {
            "layers": [CKNLayer.from_config(c) for c in config["layers"]],
            "preprocess": None if pre is None else LocalPatchWhitening(**pre),
        }

    def preprocess_input(self, x):
        """Return the input of the first layer.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W)
            The images.

        Returns
        -------
        x : torch.Tensor of shape (B, C, H, W)
            The images after ``preprocess`` (unchanged without it).
        """
        if self.preprocess is None:
            return x
        with full_precision(x):
            return self.preprocess(x)

    def forward(self, x, n_layers=None):
        layers = self.layers[: len(self.layers) if n_layers is None else n_layers]
        if torch.is_grad_enabled() or x.dim() != 4:
            return self._forward(x, layers)
        if x.shape[0] == 1:
            # A batch of one takes another convolution path (see .batching): a pair
            # keeps an image's features the same whatever the batch it comes in.
            return self._forward(x.expand(2, *x.shape[1:]), layers)[:1]
        if x.device.type != "cpu":
            return self._forward(x, layers)
        chunk = self.inference_chunk_size(x.shape[-2], x.shape[-1], x.element_size(), layers)
        if x.shape[0] <= chunk:
            return self._forward(x, layers)
        # Cache blocking on the CPU: each sub-batch goes through every layer with
        # (b, F, H, W) embeddings small enough to stay in the cache and below the
        # allocator's 32 MiB mmap threshold (a fresh 32 MiB tensor costs its page
        # faults: a (32, 256, 32, 32) product took 15 ms fresh, 3 ms into a reused
        # buffer). Forward of the 64/256 CIFAR-10 network 0.65x the time of the whole
        # batch at once (bench_transform.py). Images are processed independently, so
        # only float rounding can differ.
        parts = x.split(split_sizes(x.shape[0], chunk))
        if not layers:  # the preprocessing alone (patch sampling for the first layer)
            return torch.cat([self._forward(part, layers) for part in parts])
        # The last layer's Nystrom projection runs once on the whole batch's pooled
        # maps: per sub-batch it is a product with few columns that reads the whole
        # F x F matrix each time (512/8192 CIFAR-10 network: 256 MiB per sub-batch of 2
        # images; forward 10-20% faster, same values).
        *first, last = layers
        pooled = torch.cat([last.pool(last.embed(self._forward(part, first))) for part in parts])
        return last.project(pooled)

    @staticmethod
    @_doc
    def inference_chunk_size(height, width, element_size, layers):
        """Return how many images each sub-batch of an inference forward pass on the CPU holds.

        At most ``_FORWARD_CHUNK`` images, and few enough that the largest map a
        layer builds, ``(b, max(F, C p^2), H, W)``, takes at most
        ``_FORWARD_CHUNK_BYTES``.

        {size_parameters}
        element_size : int
            Bytes per value.
        layers : sequence of CKNLayer
            The layers the images go through.

        Returns
        -------
        chunk : int
            At least 2 (see :func:`.batching.split_sizes`).
        """
        per_image = 1
        for layer in layers:
            channels = max(layer.n_filters, layer.patch_dim if layer.whitening else 0)
            per_image = max(per_image, channels * height * width * element_size)
            height, width = layer.output_size(height, width)
        return max(2, min(_FORWARD_CHUNK, _FORWARD_CHUNK_BYTES // per_image))

    def _forward(self, x, layers):
        return self._run(self.preprocess_input(x), layers)

    @staticmethod
    def _run(x, layers):
        for layer in layers:
            x = layer(x)
        return x

    def forward_from_embedding(self, x, layer):
        """Return the last map and the (leaf, gradient-requiring) embedding of a layer.

        The preprocessing, the layers before ``layer`` and its ``embed`` run without
        autograd; the rest records a graph from the embedding on (Grad-CAM).

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W)
            Images.
        layer : int
            Index of the layer whose embedding is returned.

        Returns
        -------
        maps : torch.Tensor of shape (B, F, h, w)
            The last layer's output, recorded by autograd from ``act`` on.
        act : torch.Tensor of shape (B, F_l, H_l, W_l)
            The layer's embedding before pooling, a leaf that requires grad.
        """
        target = self.layers[layer]
        with torch.no_grad():
            act = target.embed(self._forward(x, self.layers[:layer]))
        act = act.detach().requires_grad_(True)
        with torch.enable_grad():
            maps = self._run(target.project(target.pool(act)), self.layers[layer + 1:])
        return maps, act

    def normalize_anchors_(self):
        """Project every layer's anchors back onto the unit sphere."""
        for layer in self.layers:
            layer.normalize_anchors_()

    def train_anchors_(self, mode=True):
        """Make the anchors trainable (``mode=True``) or frozen.

        Parameters
        ----------
        mode : bool, default=True
            Whether the anchors require gradients.

        Returns
        -------
        self : CKNSequential
            The network.
        """
        for layer in self.layers:
            layer.anchors.requires_grad_(mode)
        return self

    @_doc
    def map_sizes(self, height, width):
        """Return the input spatial size of each layer, then the output size.

        {size_parameters}

        Returns
        -------
        sizes : list of tuple of int
            ``L + 1`` ``(height, width)`` pairs for ``L`` layers.
        """
        sizes = [(height, width)]
        for layer in self.layers:
            sizes.append(layer.output_size(*sizes[-1]))
        return sizes

    @_doc
    def flops(self, height, width):
        """Count the matrix-product FLOPs of a forward pass for one image.

        {size_parameters}

        Returns
        -------
        flops : int
            The sum of :meth:`CKNLayer.flops` over the layers.
        """
        sizes = self.map_sizes(height, width)
        return sum(layer.flops(*hw) for layer, hw in zip(self.layers, sizes))

    @_doc
    def output_shape(self, height, width):
        """Return the shape of the output for a given input size.

        {size_parameters}

        Returns
        -------
        shape : tuple of int
            ``(channels, height, width)`` of the last map.
        """
        h, w = self.map_sizes(height, width)[-1]
        return self.layers[-1].n_filters, h, w
