import pytest
import torch
import torch.nn.functional as F

from sklearn_ckn.core.kernels import get_kernel
from sklearn_ckn.core.layers import CKNLayer
from sklearn_ckn.core.sequential import CKNSequential
from sklearn_ckn.core.unsupervised import fit_ckn_unsupervised
from sklearn_ckn.core.whitening import fit_patch_whitening


def _patches(x, p):
    pad = p // 2
    unf = F.unfold(F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad)), p)
    return unf.transpose(1, 2).reshape(-1, unf.shape[1])  # (B*H*W, C*p*p)


def _exact_kernel(P, kappa):
    n = P.norm(dim=1)
    cos = (P @ P.T) / (n[:, None] * n[None, :])
    return n[:, None] * n[None, :] * kappa(cos.clamp(-1, 1))


def _layer_with_anchors(anchors, in_channels, p, sigma=0.6, reg=0.0):
    layer = CKNLayer(in_channels, anchors.shape[0], p, 1, sigma=sigma, nystrom_reg=reg).double()
    layer.set_anchors(F.normalize(anchors, dim=1))
    return layer


def _features(layer, x):
    out = layer(x)  # (B, F, H, W)
    return out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])


def test_nystrom_is_exact_when_anchors_are_the_patches():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 3, 3, generator=g, dtype=torch.float64) + 0.1
    P = _patches(x, 3)  # 9 patches of dimension 18
    layer = _layer_with_anchors(P, 2, 3, reg=0.0)
    phi = _features(layer, x)
    exact = _exact_kernel(P, layer.kappa)
    assert torch.allclose(phi @ phi.T, exact, atol=1e-8)


def test_nystrom_error_decreases_as_filters_grow():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 8, 8, generator=g, dtype=torch.float64)
    P = _patches(x, 3)
    P = P[P.norm(dim=1) > 0]
    exact = _exact_kernel(P, get_kernel("exp", 0.6))
    errors = []
    for n_filters in (4, 16, 64):
        idx = torch.randperm(len(P), generator=g)[:n_filters]
        layer = _layer_with_anchors(P[idx], 1, 3, reg=1e-10)
        phi = _features(layer, x)
        phi = phi[(_patches(x, 3).norm(dim=1) > 0)]
        errors.append(((phi @ phi.T - exact).norm() / exact.norm()).item())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


def test_layer_output_is_positively_homogeneous():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 10, 10, generator=g, dtype=torch.float64)
    net = CKNSequential([CKNLayer(3, 8, 3, 2), CKNLayer(8, 16, 3, 2)]).double()
    for layer in net.layers:
        layer.set_anchors(torch.randn(layer.n_filters, layer.patch_dim, generator=g, dtype=torch.float64))
    out = net(x)
    for scale in (0.01, 3.0, 250.0):
        assert torch.allclose(net(scale * x), scale * out, rtol=1e-9, atol=1e-12)


def test_pooling_before_the_linear_map_equals_pooling_after():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 2, 9, 9, generator=g, dtype=torch.float64)
    layer = CKNLayer(2, 6, 3, 3).double()
    layer.set_anchors(torch.randn(6, 18, generator=g, dtype=torch.float64))
    after = layer.pool(layer.project(layer.embed(x)))
    assert torch.allclose(layer(x), after, atol=1e-12)


def test_whitened_layer_convolution_matches_whitened_patches():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 3, 6, 6, generator=g, dtype=torch.float64)
    raw = _patches(x, 3)
    layer = CKNLayer(3, 5, 3, 1, whitening=True, nystrom_reg=0.0).double()
    layer.set_whitening(*fit_patch_whitening(raw, 3, 3))
    white = layer.whiten_patches(raw)
    anchors = F.normalize(torch.randn(5, 27, generator=g, dtype=torch.float64), dim=1)
    layer.set_anchors(anchors)
    emb = layer.embed(x).permute(0, 2, 3, 1).reshape(-1, 5)
    n = white.norm(dim=1, keepdim=True)
    expected = n * layer.kappa((white @ anchors.T / n).clamp(-1, 1))
    assert torch.allclose(emb, expected, atol=1e-10)


def test_whitening_centres_patches_and_decorrelates_them():
    g = torch.Generator().manual_seed(5)
    mix = torch.randn(12, 12, generator=g, dtype=torch.float64)
    raw = torch.randn(20000, 12, generator=g, dtype=torch.float64) @ mix + 3.0
    weight, bias = fit_patch_whitening(raw, 3, 2, reg=1e-6)
    white = raw @ weight.reshape(12, -1).T + bias
    # Centring removes one direction per channel (3 of 12); the covariance is the
    # identity on the 9 others.
    cov = torch.cov(white.T)
    evals = torch.linalg.eigvalsh(cov)
    assert torch.allclose(evals[-9:], torch.ones(9, dtype=torch.float64), atol=1e-3)
    assert evals[:3].abs().max() < 1e-6


def test_unsupervised_fit_rejects_too_few_usable_patches():
    x = torch.zeros(5, 1, 4, 4)
    x[:, :, 1, 1] = 1.0  # only patches touching one pixel are non-zero: 9 per image
    net = CKNSequential([CKNLayer(1, 64, 3, 1)])
    with pytest.raises(ValueError, match="usable.*fewer than its 64 filters"):
        fit_ckn_unsupervised(net, lambda ids: x[ids], 5, n_patches=40)


def test_flop_count_of_a_plain_layer():
    layer = CKNLayer(4, 8, 3, 2)
    conv = 2 * 6 * 6 * 36 * 8
    pool = 2 * 8 * 3 * 3 * 5 * 5  # depthwise 5 x 5 taps at each of the 3 x 3 outputs
    assert layer.flops(6, 6) == conv + pool + 2 * 9 * 64
    net = CKNSequential([layer, CKNLayer(8, 4, 3, 1)])
    assert net.flops(6, 6) == layer.flops(6, 6) + net.layers[1].flops(3, 3)


def test_layer_is_differentiable_after_an_inference_mode_forward():
    # transform() runs in inference mode and fills the pooling cache first.
    layer = CKNLayer(1, 4, 3, 2)
    layer.set_anchors(torch.randn(4, 9))
    x = torch.rand(2, 1, 6, 6)
    with torch.inference_mode():
        layer(x)
    x.requires_grad_(True)
    layer(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# -- trainable anchors (supervised CKN) ---------------------------------------------
def _trainable_layer(seed=0, whitening=False):
    g = torch.Generator().manual_seed(seed)
    layer = CKNLayer(2, 4, patch_size=3, subsampling=2, nystrom_reg=1e-2).double()
    layer.set_anchors(F.normalize(torch.randn(4, 18, generator=g, dtype=torch.float64), dim=1))
    layer.anchors.requires_grad_(True)
    return layer.train()


def test_layer_gradcheck_through_anchors_and_input():
    layer = _trainable_layer()
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(2, 2, 5, 5, generator=g, dtype=torch.float64) + 0.1).requires_grad_(True)
    anchors = layer.anchors

    def run(a, inp):
        # The layer's anchors replaced by the gradcheck input.
        return torch.func.functional_call(layer, {"anchors": a}, (inp,))

    # Norms below 1 keep Z Z^T off the clamp at 1, where finite differences are one-sided.
    a = (0.9 * anchors.detach()).requires_grad_(True)
    assert torch.autograd.gradcheck(run, (a, x))


def test_lintrans_cache_follows_the_anchors():
    layer = _trainable_layer()
    x = torch.rand(2, 2, 6, 6, dtype=torch.float64)
    opt = torch.optim.SGD([layer.anchors], lr=0.5)
    layer(x).pow(2).sum().backward()
    opt.step()
    layer.normalize_anchors_()
    torch.testing.assert_close(layer.anchors.norm(dim=1), torch.ones(4, dtype=torch.float64))
    layer.eval()
    with torch.no_grad():
        cached = layer(x)
        fresh = layer.project(layer.pool(layer.embed(x)))  # same cached matrix
        expected = torch.matmul(
            kernel_inverse_sqrt_of(layer), layer.pool(layer.embed(x)).flatten(2)
        ).view(cached.shape)
    torch.testing.assert_close(cached, fresh)
    torch.testing.assert_close(cached, expected)


def kernel_inverse_sqrt_of(layer):
    from sklearn_ckn.core.nystrom import kernel_inverse_sqrt

    return kernel_inverse_sqrt(layer.anchors.detach(), layer.kappa, reg=layer.nystrom_reg)


def test_frozen_anchors_get_no_gradient_and_config_rebuilds():
    layer = CKNLayer(3, 4, patch_size=2, subsampling=2, whitening=True)
    assert not layer.anchors.requires_grad
    net = CKNSequential([layer, CKNLayer(4, 6, patch_size=1)])
    rebuilt = CKNSequential.from_config(net.config)
    assert rebuilt.config == net.config
    assert set(rebuilt.state_dict()) == set(net.state_dict())


def test_saved_state_holds_the_matrix_of_the_saved_anchors():
    layer = _trainable_layer()
    x = torch.rand(2, 2, 6, 6, dtype=torch.float64)
    opt = torch.optim.SGD([layer.anchors], lr=0.5)
    layer(x).pow(2).sum().backward()  # training forward: the cached matrix goes stale
    opt.step()
    layer.normalize_anchors_()
    state = layer.state_dict()
    torch.testing.assert_close(state["lintrans"], kernel_inverse_sqrt_of(layer))


def test_autocast_runs_only_the_patch_products_in_bfloat16(two_layer_network):
    # Mixed precision: the products of patches and anchors (most FLOPs) in bfloat16,
    # the kernel, pooling and Nystrom projection in float32 (they amplify rounding).
    from sklearn_ckn.core.kernels import homogeneous_kernel
    from sklearn_ckn.core.patches import patch_norms, patch_products

    net, g = two_layer_network(2, local_whitening=True)
    x = torch.rand(4, 3, 8, 8, generator=g)

    def by_hand(x):
        x = net.preprocess(x)
        for layer in net.layers:
            bf = torch.bfloat16
            dots = patch_products(x.to(bf), layer.anchors.to(bf), layer.patch_size).float()
            emb = homogeneous_kernel(dots, patch_norms(x, layer.patch_size, eps=1e-12),
                                     layer.kernel, layer.sigma)
            x = layer.project(layer.pool(emb))
        return x

    with torch.no_grad():
        exact = net(x)
        expected = by_hand(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = net(x)
            autograd_path = net._forward(x, net.layers)
    assert mixed.dtype == autograd_path.dtype == torch.float32
    torch.testing.assert_close(mixed, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(autograd_path, expected, rtol=1e-5, atol=1e-6)
    assert not torch.equal(mixed, exact)  # the products did run in bfloat16
    assert ((mixed - exact).norm() / exact.norm()).item() < 0.1


def test_autocast_training_forward_is_differentiable():
    g = torch.Generator().manual_seed(3)
    layer = CKNLayer(1, 4, 3, 2, whitening=True)
    layer.set_anchors(F.normalize(torch.randn(4, 9, generator=g), dim=1))
    layer.white_weight.copy_(torch.eye(9).reshape(9, 1, 3, 3))
    layer.anchors.requires_grad_(True)
    x = torch.rand(2, 1, 6, 6, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert torch.isfinite(layer.anchors.grad).all() and layer.anchors.grad.abs().sum() > 0


def test_autocast_keeps_a_float64_layer_in_float64():
    layer = CKNLayer(1, 4, 3, 2).double()
    layer.set_anchors(F.normalize(torch.randn(4, 9, dtype=torch.float64), dim=1))
    x = torch.rand(2, 1, 6, 6, dtype=torch.float64)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, layer(x).detach(), rtol=0.05, atol=0.05)


def test_autocast_pools_and_projects_a_bfloat16_map_in_float32(two_layer_network):
    net, g = two_layer_network(4)
    layer = net.layers[0]
    m = torch.rand(2, 8, 6, 6, generator=g)
    with torch.no_grad():
        expected_pool = layer.pool(m.bfloat16().float())
        expected_project = layer.project(m.bfloat16().float())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            pooled = layer.pool(m.bfloat16())
            projected = layer.project(m.bfloat16())
    assert pooled.dtype == projected.dtype == torch.float32
    torch.testing.assert_close(pooled, expected_pool, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(projected, expected_project, rtol=1e-5, atol=1e-6)
