import numpy as np
import pytest
import torch

from sklearn_ckn.core.kernels import KERNELS, get_kernel


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_is_one_at_one_and_positive_definite_on_the_sphere(name):
    kappa = get_kernel(name, sigma=0.6)
    assert kappa(torch.tensor(1.0, dtype=torch.float64)).item() == pytest.approx(1.0)
    g = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(40, 5, generator=g, dtype=torch.float64), dim=1)
    gram = kappa((z @ z.T).clamp(-1, 1))
    assert torch.linalg.eigvalsh(gram).min().item() > -1e-10


def test_exp_kernel_is_gaussian_on_unit_vectors():
    sigma = 0.7
    g = torch.Generator().manual_seed(1)
    x, z = torch.nn.functional.normalize(torch.randn(2, 6, generator=g, dtype=torch.float64), dim=1)
    expected = np.exp(-torch.sum((x - z) ** 2).item() / (2 * sigma**2))
    assert get_kernel("exp", sigma)(x @ z).item() == pytest.approx(expected)


def test_unknown_kernel_is_named_in_the_error():
    with pytest.raises(ValueError, match="Unknown kernel 'rbf'.*expected one of"):
        get_kernel("rbf")


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_embedding_matches_the_definition_in_place_and_out_of_place_alike(name):
    from sklearn_ckn.core.kernels import homogeneous_kernel

    g = torch.Generator().manual_seed(2)
    norms = torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64) + 0.1
    dots = (torch.rand(3, 5, 4, 4, generator=g, dtype=torch.float64) * 2 - 1) * norms
    expected = norms * get_kernel(name, 0.5)((dots / norms).clamp(-1, 1))
    buffer = dots.clone()
    got = homogeneous_kernel(buffer, norms, name, 0.5, out=buffer)
    assert got.data_ptr() == buffer.data_ptr()  # in place
    assert torch.allclose(got, expected, atol=1e-12)
    # The differentiable (out-of-place) path rounds exactly as the in-place one, in
    # float32 too: Grad-CAM's scores are transform's to the bit.
    torch.testing.assert_close(homogeneous_kernel(dots, norms, name, 0.5), got, rtol=0, atol=0)
    d32, n32 = dots.float(), norms.float()
    torch.testing.assert_close(homogeneous_kernel(d32, n32, name, 0.5),
                               homogeneous_kernel(d32.clone(), n32, name, 0.5, out=d32.clone()),
                               rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_zero_patches_embed_to_exactly_zero(name):
    from sklearn_ckn.core.kernels import homogeneous_kernel

    norms = torch.tensor([0.0, 2.0]).view(2, 1)
    dots = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, -1.0]])
    buffer = dots.clone()
    got = homogeneous_kernel(buffer, norms, name, 0.6, out=buffer)
    assert torch.isfinite(got).all()
    assert (got[0] == 0).all() and (got[1] != 0).any()


@pytest.mark.parametrize("name", ["exp", "poly2", "square"])
@pytest.mark.parametrize("norms_need_grad", [True, False])
@pytest.mark.parametrize("norms_shape", [(2, 1, 3, 3), (1, 1, 1, 3)])
def test_written_out_backward_passes_match_autograd_of_the_definition(name, norms_need_grad,
                                                                       norms_shape):
    # "exp", "poly2" and "square" have their own backward pass (fewer large tensors); it must
    # give the gradients of norms * kappa(dots / norms) for both inputs. A layer's norms
    # (B, 1, H, W) are summed over the channels by one reduction, other shapes by
    # sum_to_size.
    from sklearn_ckn.core.kernels import homogeneous_kernel

    g = torch.Generator().manual_seed(3)
    norms = (torch.rand(*norms_shape, generator=g, dtype=torch.float64) + 0.2)
    dots = (torch.rand(2, 4, 3, 3, generator=g, dtype=torch.float64) * 1.8 - 0.9) * norms
    weights = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64)
    grads = []
    for formula in ("package", "definition"):
        d = dots.clone().requires_grad_(True)
        n = norms.clone().requires_grad_(norms_need_grad)
        if formula == "package":
            out = homogeneous_kernel(d, n, name, 0.6)
        else:
            out = n * get_kernel(name, 0.6)(d / n)
        (out * weights).sum().backward()
        grads.append((d.grad, n.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-12)
    if norms_need_grad:
        torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)
    else:
        assert grads[0][1] is None
    assert torch.autograd.gradcheck(
        lambda d, n: homogeneous_kernel(d, n, name, 0.6),
        (dots.clone().requires_grad_(True), norms.clone().requires_grad_(norms_need_grad)),
    )
