import pytest
import torch

from sklearn_ckn.core.layers import CKNLayer
from sklearn_ckn.core.recompute import RECOMPUTE_MIN_BYTES, embed_pool, recompute_chunk


def _layer(whitening=False):
    torch.manual_seed(0)
    layer = CKNLayer(3, 6, patch_size=3, subsampling=2, whitening=whitening)
    layer.set_anchors(torch.nn.functional.normalize(torch.randn(6, 27), dim=1))
    if whitening:
        layer.set_whitening(torch.randn(27, 3, 3, 3) * 0.3, torch.randn(27) * 0.1)
    layer.anchors.requires_grad_(True)
    return layer


@pytest.mark.parametrize("whitening", [False, True])
@pytest.mark.parametrize("input_needs_grad", [False, True])
def test_recomputed_sub_batches_give_the_plain_pass_and_its_gradients(whitening, input_needs_grad):
    layer = _layer(whitening)
    x = torch.rand(7, 3, 8, 8)
    weights = torch.randn(7, 6, 4, 4)
    results = []
    for chunked in (False, True):
        xi = x.clone().requires_grad_(input_needs_grad)
        layer.anchors.grad = None
        out = embed_pool(layer, xi, 3) if chunked else layer.pool(layer.embed(xi))
        (out * weights).sum().backward()
        results.append((out.detach(), layer.anchors.grad.clone(),
                        xi.grad.clone() if input_needs_grad else None))
    (out0, ga0, gx0), (out1, ga1, gx1) = results
    torch.testing.assert_close(out1, out0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ga1, ga0, rtol=1e-4, atol=1e-6)
    if input_needs_grad:
        torch.testing.assert_close(gx1, gx0, rtol=1e-4, atol=1e-6)


def test_training_forward_recomputes_only_large_embeddings():
    small = CKNLayer(128, 128, subsampling=2)
    assert recompute_chunk(small, 8, 8) == 0  # 32 KiB an image: not worth it
    large = CKNLayer(3, 128, subsampling=2)
    per_image = 128 * 32 * 32 * 4
    assert per_image >= RECOMPUTE_MIN_BYTES
    assert recompute_chunk(large, 32, 32) >= 2


def test_recomputation_keeps_the_autocast_of_the_forward_pass():
    layer = _layer()
    x = torch.rand(6, 3, 8, 8)
    grads = []
    for chunked in (False, True):
        layer.anchors.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = embed_pool(layer, x, 2) if chunked else layer.pool(layer.embed(x))
        out.sum().backward()
        grads.append(layer.anchors.grad.clone())
    # Both passes run the products in bfloat16: the same rounding, not float32's.
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-2, atol=1e-4)
    layer.anchors.grad = None
    layer.pool(layer.embed(x)).sum().backward()
    assert not torch.allclose(layer.anchors.grad, grads[1], rtol=1e-4, atol=1e-7)
