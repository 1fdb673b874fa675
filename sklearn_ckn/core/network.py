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
    """``(x - shift) / scale`` per feature, with fixed (fitted) ``shift`` and ``scale``."""

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    @torch.no_grad()
    def set_statistics(self, shift, scale):
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
    """

    def __init__(self, ckn, head, feature_map=None):
        super().__init__()
        self.ckn = ckn
        self.feature_map = nn.Identity() if feature_map is None else feature_map
        self.head = head

    def features(self, x):
        """The flattened last CKN map, ``(b, n_features)``."""
        return self.ckn(x).flatten(1)

    def classify(self, maps):
        """Class scores of last CKN maps ``(b, F, h, w)``."""
        return self.head(self.feature_map(maps.flatten(1).to(self.head.weight.dtype)))

    def forward(self, x):
        return self.classify(self.ckn(x))

    def normalize_anchors_(self):
        """Bring every layer's anchors back onto the unit sphere (after a step)."""
        self.ckn.normalize_anchors_()

    def forward_from_embedding(self, x, layer):
        """Scores and the (leaf, gradient-requiring) embedding of layer ``layer``.

        Layers before ``layer`` and its ``embed`` run without autograd; the rest of
        the network records a graph from the embedding ``(b, F, H_l, W_l)`` on
        (what Grad-CAM needs, at the cost of one backward pass through the top).
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
    """An untrained :class:`CKNNetwork` of plain arguments (what pickling stores).

    ``ckn_config`` is :attr:`CKNSequential.config`; the head is ``nn.Linear(n_features,
    n_classes)``, preceded by :class:`Standardize` when ``standardize``.
    """
    return CKNNetwork(
        CKNSequential.from_config(ckn_config),
        nn.Linear(n_features, n_classes),
        Standardize(n_features) if standardize else None,
    )
