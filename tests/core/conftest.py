"""Shared helpers of the tests of :mod:`sklearn_ckn.core`."""

import pytest
import torch
import torch.nn.functional as F

from sklearn_ckn.core.layers import CKNLayer
from sklearn_ckn.core.sequential import CKNSequential


def _two_layer_network(seed, local_whitening=False):
    """A 3 -> 8 -> 16 channel network with random unit-norm anchors."""
    from sklearn_ckn.core.local_whitening import LocalPatchWhitening

    g = torch.Generator().manual_seed(seed)
    net = CKNSequential(
        [CKNLayer(3, 8, 3, 2), CKNLayer(8, 16, 3, 2)],
        preprocess=LocalPatchWhitening() if local_whitening else None,
    ).eval()
    for layer in net.layers:
        layer.set_anchors(F.normalize(torch.randn(layer.n_filters, layer.patch_dim, generator=g), dim=1))
    return net, g


@pytest.fixture
def two_layer_network():
    """``two_layer_network(seed, local_whitening=False) -> (network, generator)``."""
    return _two_layer_network
