"""One fitted CKN as one torch module: pixels -> CKN layers -> output steps [-> head].

:class:`CKNNetwork` maps images ``(b, C, H, W)`` to feature vectors
``output(flatten(ckn(x)))`` (the flattening in (channel, row, column) order), and to
class scores ``head(features)`` when it has a head. It is the fitted module of every
CKN use:

* ``CKNTransformer.module_``: kernel layers and output steps (signed power, row
  normalisation, standardisation); ``transform`` is its forward pass;
* ``CKNClassifier.module_``: the same, plus a linear head, trained end to end;
* Grad-CAM of a ``CKNTransformer -> [scalers] -> linear classifier`` pipeline: the
  transformer's module with the scalers and the classifier as its head.
"""

import torch
from torch import nn

from ._config import ConfigurableModule
from ._docstrings import NETWORK_IMPORTS, SIZE_PARAMETERS, fill_doc
from .sequential import CKNSequential
from .output import FeatureOutput

__all__ = ["CKNNetwork"]


def _dtype(module):
    """The floating dtype of ``module``'s first parameter or buffer (None if it has none)."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


@fill_doc(network_imports=NETWORK_IMPORTS)
class CKNNetwork(ConfigurableModule, nn.Module):
    """CKN layers, output steps and an optional head (see the module docstring).

    Parameters
    ----------
    ckn : CKNSequential
        The kernel layers.
    output : FeatureOutput or None, default=None
        The output steps applied to the flattened last map (None: none).
    head : nn.Module or None, default=None
        Maps ``(b, n_features)`` features to ``(b, n_classes)`` scores, e.g.
        ``nn.Linear``; features are cast to the dtype of its parameters. None: the
        network outputs the features.

    See Also
    --------
    sklearn_ckn.core.sequential.CKNSequential : The kernel layers.
    sklearn_ckn.core.output.FeatureOutput : The output steps.
    sklearn_ckn.CKNTransformer : Whose ``module_`` it is.

    Examples
    --------
    {network_imports}
    >>> from sklearn_ckn.core.network import CKNNetwork
    >>> ckn = CKNSequential([CKNLayer(1, 8, subsampling=4)])
    >>> CKNNetwork(ckn)(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5, 32])
    >>> CKNNetwork(ckn, head=torch.nn.Linear(8 * 2 * 2, 3))(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, ckn, output=None, head=None):
        super().__init__()
        self.ckn = ckn
        self.output = nn.Identity() if output is None else output
        self.head = head

    # -- construction and persistence ------------------------------------------------------
    @property
    def config(self):
        """Plain constructor arguments: :meth:`from_config` rebuilds the (untrained) network.

        Only an ``nn.Linear`` head (or none) can be described.
        """
        head = self.head
        if head is not None and not isinstance(head, nn.Linear):
            raise TypeError(f"Cannot describe a head of type {type(head).__name__}.")
        return {
            "ckn": self.ckn.config,
            "output": self.output.config if isinstance(self.output, FeatureOutput) else None,
            "head": None if head is None else {
                "in_features": head.in_features, "out_features": head.out_features,
            },
        }

    @classmethod
    def _init_arguments(cls, config):
        output, head = config.get("output"), config.get("head")
        return {
            "ckn": CKNSequential.from_config(config["ckn"]),
            "output": None if output is None else FeatureOutput.from_config(output),
            "head": None if head is None else nn.Linear(**head),
        }

    # -- forward passes ----------------------------------------------------------------------
    def features(self, x):
        """Return the feature vectors of images: the output steps of the flattened last map.

        Parameters
        ----------
        x : torch.Tensor of shape (b, C, H, W)
            Images.

        Returns
        -------
        features : torch.Tensor of shape (b, n_features)
            In (channel, row, column) order.
        """
        return self.output(self.ckn(x).flatten(1))

    def top(self, maps):
        """Return the network's output computed from last CKN maps.

        Parameters
        ----------
        maps : torch.Tensor of shape (b, F, h, w)
            Outputs of the last CKN layer.

        Returns
        -------
        out : torch.Tensor of shape (b, n_features) or (b, n_classes)
            The features, or the head's scores when there is a head.
        """
        features = self.output(maps.flatten(1))
        if self.head is None:
            return features
        dtype = _dtype(self.head)
        return self.head(features if dtype is None else features.to(dtype))

    def forward(self, x):
        return self.top(self.ckn(x))

    def forward_from_embedding(self, x, layer):
        """Return the output and the (leaf, gradient-requiring) embedding of a layer.

        The layers up to ``layer``'s embedding run without autograd; the rest of the
        network records a graph from the embedding on (what Grad-CAM needs, at the
        cost of one backward pass through the top).

        Parameters
        ----------
        x : torch.Tensor of shape (b, C, H, W)
            Images.
        layer : int
            Index of the CKN layer whose embedding is returned.

        Returns
        -------
        out : torch.Tensor of shape (b, n_features) or (b, n_classes)
            As :meth:`forward`, recorded by autograd from ``act`` on.
        act : torch.Tensor of shape (b, F, H_l, W_l)
            The layer's embedding before pooling, a leaf that requires grad.
        """
        maps, act = self.ckn.forward_from_embedding(x, layer)
        with torch.enable_grad():
            return self.top(maps), act

    def normalize_anchors_(self):
        """Bring every layer's anchors back onto the unit sphere (after a step)."""
        self.ckn.normalize_anchors_()

    @fill_doc(size_parameters=SIZE_PARAMETERS)
    def flops(self, height, width):
        """Count the matrix-product FLOPs of a forward pass for one image.

        {size_parameters}

        Returns
        -------
        flops : int
            Those of the kernel layers (:meth:`CKNSequential.flops`) and of a linear
            head.
        """
        head = self.head
        extra = 2 * head.in_features * head.out_features if isinstance(head, nn.Linear) else 0
        return self.ckn.flops(height, width) + extra

