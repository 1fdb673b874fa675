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
def test_in_place_embedding_matches_the_definition(name):
    from sklearn_ckn.core.kernels import homogeneous_kernel_

    g = torch.Generator().manual_seed(2)
    norms = torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64) + 0.1
    dots = (torch.rand(3, 5, 4, 4, generator=g, dtype=torch.float64) * 2 - 1) * norms
    expected = norms * get_kernel(name, 0.5)((dots / norms).clamp(-1, 1))
    got = homogeneous_kernel_(dots.clone(), norms, name, 0.5)
    assert torch.allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_zero_patches_embed_to_exactly_zero(name):
    from sklearn_ckn.core.kernels import homogeneous_kernel_

    norms = torch.tensor([0.0, 2.0]).view(2, 1)
    dots = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, -1.0]])
    got = homogeneous_kernel_(dots.clone(), norms, name, 0.6)
    assert torch.isfinite(got).all()
    assert (got[0] == 0).all() and (got[1] != 0).any()
