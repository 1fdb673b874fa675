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
