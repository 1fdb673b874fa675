"""A CKN classifier as one torch module: CKN layers, a feature map and a linear head.

:class:`CKNNetwork` maps images ``(b, C, H, W)`` to class scores
``head(feature_map(flatten(ckn(x))))``, the flattening in (channel, row, column)
order. The same module serves the supervised CKN (trained end to end: anchors and
head) and Grad-CAM on an unsupervised CKN pipeline (whose scalers and linear
classifier become the feature map and the head).
"""

import torch
from torch import nn

from .layers import CKNSequential

__all__ = ["CKNNetwork", "Standardize", "build_ckn_network"]


class Standardize(nn.Module):
    """``(x - shift) / scale`` per feature, with fixed (fitted) ``shift`` and ``scale``.

    Parameters
    ----------
    n_features : int
        Number of features; ``shift`` starts at 0 and ``scale`` at 1.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.network import Standardize
    >>> std = Standardize(2)
    >>> std.set_statistics([1.0, 2.0], [2.0, 4.0])
    >>> std(torch.tensor([[3.0, 6.0]]))
    tensor([[1., 1.]])
    """

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    @torch.no_grad()
    def set_statistics(self, shift, scale):
        """Install fitted statistics.

        Parameters
        ----------
        shift : array-like of shape (n_features,)
            Subtracted from each feature.
        scale : array-like of shape (n_features,)
            Divides each centred feature.
        """
        self.shift.copy_(torch.as_tensor(shift))
        self.scale.copy_(torch.as_tensor(scale))

    def forward(self, x):
        return (x - self.shift) / self.scale


class CKNNetwork(nn.Module):
    """CKN layers followed by a feature map and a linear head (see the module docstring).

    Parameters
    ----------
    ckn : CKNSequential
        The kernel layers.
    head : nn.Module
        Maps ``(b, n_features)`` to ``(b, n_classes)`` scores, e.g. ``nn.Linear``; its
        ``weight`` dtype is the dtype of the feature map and the head.
    feature_map : nn.Module or None
        Applied to the flattened features before the head (None: identity).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.layers import CKNLayer, CKNSequential
    >>> from sklearn_ckn.core.network import CKNNetwork
    >>> ckn = CKNSequential([CKNLayer(1, 8, subsampling=4)])
    >>> net = CKNNetwork(ckn, torch.nn.Linear(8 * 2 * 2, 3))
    >>> net(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, ckn, head, feature_map=None):
        super().__init__()
        self.ckn = ckn
        self.feature_map = nn.Identity() if feature_map is None else feature_map
        self.head = head

    def features(self, x):
        """Return the flattened last CKN map.

        Parameters
        ----------
        x : torch.Tensor of shape (b, C, H, W)
            Images.

        Returns
        -------
        features : torch.Tensor of shape (b, n_features)
            The last map flattened in (channel, row, column) order.
        """
        return self.ckn(x).flatten(1)

    def classify(self, maps):
        """Return the class scores of last CKN maps.

        Parameters
        ----------
        maps : torch.Tensor of shape (b, F, h, w)
            Outputs of the last CKN layer.

        Returns
        -------
        scores : torch.Tensor of shape (b, n_classes)
            The head's output on the mapped, flattened features.
        """
        return self.head(self.feature_map(maps.flatten(1).to(self.head.weight.dtype)))

    def forward(self, x):
        return self.classify(self.ckn(x))

    def normalize_anchors_(self):
        """Bring every layer's anchors back onto the unit sphere (after a step)."""
        self.ckn.normalize_anchors_()

    def forward_from_embedding(self, x, layer):
        """Return the scores and the (leaf, gradient-requiring) embedding of a layer.

        Layers before ``layer`` and its ``embed`` run without autograd; the rest of
        the network records a graph from the embedding ``(b, F, H_l, W_l)`` on
        (what Grad-CAM needs, at the cost of one backward pass through the top).

        Parameters
        ----------
        x : torch.Tensor of shape (b, C, H, W)
            Images.
        layer : int
            Index of the CKN layer whose embedding is returned.

        Returns
        -------
        scores : torch.Tensor of shape (b, n_classes)
            Class scores, recorded by autograd from ``act`` on.
        act : torch.Tensor of shape (b, F, H_l, W_l)
            The layer's embedding before pooling, a leaf that requires grad.
        """
        layers = self.ckn.layers
        with torch.no_grad():
            x = self.ckn.preprocess_input(x)
            for lay in layers[:layer]:
                x = lay(x)
            act = layers[layer].embed(x)
        act = act.detach().requires_grad_(True)
        with torch.enable_grad():
            y = layers[layer].project(layers[layer].pool(act))
            for lay in layers[layer + 1:]:
                y = lay(y)
            scores = self.classify(y)
        return scores, act


def build_ckn_network(ckn_config, n_features, n_classes, standardize=True):
    """Build an untrained :class:`CKNNetwork` from plain arguments (what pickling stores).

    Parameters
    ----------
    ckn_config : dict
        ``CKNSequential.config`` of the kernel layers.
    n_features : int
        Size of the flattened last map.
    n_classes : int
        Number of class scores; the head is ``nn.Linear(n_features, n_classes)``.
    standardize : bool, default=True
        Put a :class:`Standardize` feature map before the head.

    Returns
    -------
    network : CKNNetwork
        With untrained anchors and head.

    Examples
    --------
    >>> from sklearn_ckn.core.layers import CKNLayer, CKNSequential
    >>> from sklearn_ckn.core.network import build_ckn_network
    >>> config = CKNSequential([CKNLayer(1, 8, subsampling=4)]).config
    >>> build_ckn_network(config, n_features=32, n_classes=10).head
    Linear(in_features=32, out_features=10, bias=True)
    """
    return CKNNetwork(
        CKNSequential.from_config(ckn_config),
        nn.Linear(n_features, n_classes),
        Standardize(n_features) if standardize else None,
    )
