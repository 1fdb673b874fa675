"""Tests of the stack of CKN layers (:mod:`sklearn_ckn.core.sequential`)."""

import torch

from sklearn_ckn.core.layers import CKNLayer
from sklearn_ckn.core.sequential import CKNSequential


def test_blocked_inference_forward_equals_the_whole_batch(monkeypatch, two_layer_network):
    # Without autograd on the CPU, CKNSequential.forward runs sub-batches of
    # _FORWARD_CHUNK images (cache blocking): same output as one pass over the batch
    # and as the autograd path, up to float32 rounding.
    from sklearn_ckn.core import sequential as sequential_module

    net, g = two_layer_network(0, local_whitening=True)
    x = torch.rand(11, 3, 8, 8, generator=g)
    monkeypatch.setattr(sequential_module, "_FORWARD_CHUNK", 4)  # 4 + 4 + 3 images
    with torch.no_grad():
        blocked = net(x)
        whole = net._forward(x, net.layers)
        first = net(x, n_layers=1)
        preprocessed = net(x, n_layers=0)  # no layer: the preprocessing alone, blocked too
    torch.testing.assert_close(preprocessed, net.preprocess(x))
    with torch.enable_grad():
        autograd = net(x)
    assert blocked.shape == whole.shape == (11, 16, 2, 2)
    assert first.shape == (11, 8, 4, 4)
    assert blocked.abs().max() > 0
    torch.testing.assert_close(blocked, whole, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(blocked, autograd.detach(), rtol=1e-5, atol=1e-6)


def test_inference_chunk_size_bounds_the_largest_map():
    layers = [CKNLayer(3, 256, 3, 2), CKNLayer(256, 1024, 3, 4)]
    # (b, 256, 32, 32) and (b, 1024, 16, 16) float32 maps: 1 MiB per image each
    assert CKNSequential.inference_chunk_size(32, 32, 4, layers) == 16
    assert CKNSequential.inference_chunk_size(32, 32, 4, layers[:1]) == 16
    assert CKNSequential.inference_chunk_size(8, 8, 4, layers) == 32
    assert CKNSequential.inference_chunk_size(512, 512, 8, layers) == 2


def test_inference_forward_of_one_image_equals_its_row_in_a_batch(two_layer_network):
    # A batch of one image takes another convolution path on the CPU; the network
    # runs it as a pair, so an image's features do not depend on its batch.
    net, g = two_layer_network(1)
    x = torch.rand(6, 3, 8, 8, generator=g)
    with torch.inference_mode():
        batch = net(x)
        alone = torch.cat([net(x[i : i + 1]) for i in range(6)])
    assert alone.shape == (6, 16, 2, 2)
    torch.testing.assert_close(alone, batch, rtol=0, atol=0)
