import pytest
import torch
import torch.nn.functional as F

from sklearn_ckn.core.patches import gather_patches, patch_norms


@pytest.mark.parametrize("p", [1, 2, 3, 5])
def test_gather_matches_unfold_and_norms_match(p):
    x = torch.randn(3, 2, 6, 7, dtype=torch.float64)
    pad = p // 2
    unf = F.unfold(F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad)), p)  # (B, C*p*p, H*W)
    b = torch.tensor([0, 2, 1, 2])
    r = torch.tensor([0, 5, 3, 2])
    c = torch.tensor([6, 0, 4, 2])
    got = gather_patches(x, b, r, c, p)
    expected = unf[b, :, r * 7 + c]
    assert torch.allclose(got, expected)
    norms = patch_norms(x, p)
    assert torch.allclose(norms[:, 0].reshape(3, -1), unf.norm(dim=1), atol=1e-12)


@pytest.mark.parametrize("channels, p", [(3, 3), (1, 2), (8, 3), (2, 5)])
def test_patch_products_equal_a_same_padded_convolution(channels, p):
    # Both routes (unfold + matmul for small patches, conv2d for large) and gradients.
    from sklearn_ckn.core.patches import patch_products

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, channels, 7, 6, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, channels * p * p, generator=g, dtype=torch.float64)
    pad = p // 2
    ref = F.conv2d(F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad)), weight.view(5, channels, p, p))
    out = patch_products(x, weight, p)
    torch.testing.assert_close(out, ref)
    (g_out,) = torch.autograd.grad(out.sum(), x)
    (g_ref,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g_out, g_ref)


def test_patch_products_without_autograd_equal_the_convolution():
    # Many channels on the CPU without autograd: the channels-last convolution route.
    from sklearn_ckn.core.patches import patch_products

    g = torch.Generator().manual_seed(1)
    for p in (3, 2, 4):  # symmetric padding done by the convolution, or a padded copy
        x = torch.randn(3, 8, 6, 5, generator=g)
        weight = torch.randn(7, 8 * p * p, generator=g)
        pad = p // 2
        ref = F.conv2d(F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad)), weight.view(7, 8, p, p))
        with torch.no_grad():
            out = patch_products(x, weight, p)
        assert out.shape == ref.shape == (3, 7, 6, 5)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, p", [((2, 3, 7, 6), 3), ((1, 2, 5, 5), 2), ((2, 1, 4, 9), 4)])
def test_unfold_valid_equals_unfold(shape, p):
    from sklearn_ckn.core.patches import unfold_valid

    x = torch.randn(*shape)
    with torch.no_grad():
        assert torch.equal(unfold_valid(x, p), F.unfold(x, p))
        strided = x.transpose(-1, -2).contiguous().transpose(-1, -2)
        assert torch.equal(unfold_valid(strided, p), F.unfold(x, p))
    xg = x.clone().requires_grad_(True)
    torch.testing.assert_close(unfold_valid(xg, p), F.unfold(x, p))


@pytest.mark.parametrize("p", [1, 3])
def test_patch_norms_gradient_is_autograds_with_zero_patches(p):
    # The one-pass backward of the channel norms against autograd's own (vector_norm,
    # then the box filter), float64, a zero patch included: its gradient is 0, not NaN.
    torch.manual_seed(0)
    x = torch.randn(3, 6, 7, 5, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    x[1, :, 2:5, 1:4] = 0.0  # a zero 3x3 patch centred at (3, 2): zero norm there for p = 1 and 3
    x.requires_grad_(True)
    eps = 1e-12 if p > 1 else 0.0
    norms = patch_norms(x, p, eps=eps)
    grad = torch.randn_like(norms)
    (ours,) = torch.autograd.grad(norms, x, grad)

    ref_x = x.detach().clone().requires_grad_(True)
    ref = torch.linalg.vector_norm(ref_x, dim=1, keepdim=True)
    if p > 1:
        box = torch.ones(1, 1, p, p, dtype=x.dtype)
        ref = F.conv2d(F.pad(ref.square(), (p // 2,) * 4), box).clamp_min(eps).sqrt()
    (expected,) = torch.autograd.grad(ref, ref_x, grad)

    torch.testing.assert_close(norms, ref.detach())
    torch.testing.assert_close(ours, expected)
    assert torch.isfinite(ours).all() and (ours[1, :, 3, 2] == 0).all()
    assert torch.autograd.gradcheck(lambda t: patch_norms(t, p, eps=1e-12),
                                    (torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True),))
