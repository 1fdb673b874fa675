"""The Nystrom normalisation: values, and a gradient that survives near-equal eigenvalues."""

import pytest
import torch
import torch.nn.functional as F

from sklearn_ckn.core.kernels import get_kernel
from sklearn_ckn.core.nystrom import kernel_inverse_sqrt, symmetric_inverse_sqrt


def _spd(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    return a @ a.T + 0.5 * torch.eye(n, dtype=torch.float64)


def test_inverse_sqrt_value():
    a = _spd(7)
    r = symmetric_inverse_sqrt(a, reg=0.1)
    eye = torch.eye(7, dtype=torch.float64)
    torch.testing.assert_close(r @ (a + 0.1 * eye) @ r, eye, atol=1e-10, rtol=0)


def test_inverse_sqrt_gradcheck():
    a = _spd(6).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda m: symmetric_inverse_sqrt(m, reg=0.01), (a,))


def test_inverse_sqrt_gradient_finite_with_repeated_eigenvalues():
    # eigh's own backward divides by eigenvalue gaps: here they are exactly zero.
    a = (2.0 * torch.eye(5, dtype=torch.float64)).requires_grad_(True)
    out = symmetric_inverse_sqrt(a, reg=0.0)
    (out * torch.arange(25.0, dtype=torch.float64).reshape(5, 5)).sum().backward()
    assert torch.isfinite(a.grad).all()
    # f(a) = a^-1/2 on multiples of the identity: d/da trace(W f(a)) = -1/2 a^-3/2 W_sym.
    w = torch.arange(25.0, dtype=torch.float64).reshape(5, 5)
    torch.testing.assert_close(a.grad, -0.5 * 2.0**-1.5 * 0.5 * (w + w.T))


def test_kernel_inverse_sqrt_gradcheck_through_anchors():
    g = torch.Generator().manual_seed(1)
    # Norms below 1 keep Z Z^T off the clamp at 1, where finite differences are one-sided.
    z = 0.9 * F.normalize(torch.randn(5, 4, generator=g, dtype=torch.float64), dim=1)
    kappa = get_kernel("exp", 0.6)
    assert torch.autograd.gradcheck(
        lambda a: kernel_inverse_sqrt(a, kappa, reg=1e-2), (z.requires_grad_(True),)
    )


def test_non_finite_anchors_raise_a_clear_error():
    z = torch.full((3, 4), float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        kernel_inverse_sqrt(z, get_kernel("exp", 0.6))


def test_float64_inside_autocast():
    g = torch.Generator().manual_seed(2)
    z = F.normalize(torch.randn(6, 5, generator=g), dim=1)
    kappa = get_kernel("exp", 0.6)
    plain = kernel_inverse_sqrt(z, kappa)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = kernel_inverse_sqrt(z, kappa)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, plain)
