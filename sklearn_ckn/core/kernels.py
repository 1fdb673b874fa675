"""Dot-product kernels on the sphere, ``k(x, z) = kappa(<x, z>)`` for unit vectors.

Each ``kappa`` maps cosines ``u`` in [-1, 1] to kernel values, is positive definite on
the sphere and has ``kappa(1) = 1``, so that ``k(x, x) = 1`` for unit vectors and the
homogeneous extension ``||x|| ||z|| kappa(<x, z> / (||x|| ||z||))`` scales linearly.
"""

import functools
import math

import torch

__all__ = ["KERNELS", "get_kernel", "homogeneous_kernel"]


def _exp(u, sigma):
    # Gaussian kernel restricted to the sphere: exp(-||x - z||^2 / (2 sigma^2)).
    return torch.exp((u - 1.0) / (sigma * sigma))


def _arccos0(u, sigma):
    # Arc-cosine kernel of order 0 (Cho & Saul), normalised so that kappa(1) = 1.
    return 1.0 - torch.arccos(u.clamp(-1.0, 1.0)) / math.pi


def _arccos1(u, sigma):
    # Arc-cosine kernel of order 1: the kernel of an infinitely wide ReLU layer.
    u = u.clamp(-1.0, 1.0)
    return (torch.sqrt(1.0 - u * u) + (math.pi - torch.arccos(u)) * u) / math.pi


def _poly2(u, sigma):
    # Inhomogeneous polynomial kernel of degree 2, normalised: ((1 + u) / 2)^2.
    return (0.5 * (1.0 + u)) ** 2


def _square(u, sigma):
    # Homogeneous polynomial kernel of degree 2, (<x, z>)^2 on the sphere: the 1 x 1
    # layers of Mairal's CIFAR-10 networks (the reference implementation's "poly").
    return u * u


def _linear(u, sigma):
    return u


KERNELS = {
    "exp": _exp,
    "arccos0": _arccos0,
    "arccos1": _arccos1,
    "poly2": _poly2,
    "square": _square,
    "linear": _linear,
}


def get_kernel(name, sigma=0.6):
    """Return ``kappa(u)`` for the kernel called ``name`` (``sigma`` is used by ``"exp"``).

    Parameters
    ----------
    name : str
        A key of :data:`KERNELS`: ``"exp"``, ``"arccos0"``, ``"arccos1"``,
        ``"poly2"``, ``"square"`` or ``"linear"``.
    sigma : float, default=0.6
        Bandwidth of ``"exp"``: ``kappa(u) = exp((u - 1) / sigma^2)``.

    Returns
    -------
    kappa : callable
        Maps a tensor of cosines in [-1, 1] to kernel values, elementwise.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.kernels import get_kernel
    >>> get_kernel("exp", sigma=0.5)(torch.tensor([1.0, 0.75]))
    tensor([1.0000, 0.3679])
    """
    try:
        fn = KERNELS[name]
    except KeyError:
        raise ValueError(f"Unknown kernel {name!r}; expected one of {sorted(KERNELS)}.") from None
    return functools.partial(fn, sigma=float(sigma))


def homogeneous_kernel(dots, norms, name, sigma, out=None):
    """Return ``norms * kappa(dots / norms)``, differentiable; in place with ``out=dots``.

    The one formula of a patch embedding: the inference path (in place) and the
    training and Grad-CAM paths (out of place, differentiable) round alike, so that
    an explained score is the score ``transform`` computes.

    Parameters
    ----------
    dots : torch.Tensor
        Inner products ``<z, x>`` of unit-norm anchors and patches.
    norms : torch.Tensor
        Patch norms ``||x||``, broadcastable to ``dots``.
    name : str
        Kernel name, a key of :data:`KERNELS`.
    sigma : float
        Bandwidth of ``"exp"``.
    out : torch.Tensor or None, default=None
        ``dots`` itself to work in place: it saves several passes over the largest
        tensor of a layer, where no gradient is needed.

    Returns
    -------
    embedded : torch.Tensor
        ``||x|| kappa(<z, x> / ||x||)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.kernels import homogeneous_kernel
    >>> homogeneous_kernel(torch.tensor([2.0, -2.0]), torch.tensor(2.0), "linear", 1.0)
    tensor([ 2., -2.])
    """
    # Divisions use norms floored at 1e-30; the factor ``norms`` itself is exact, so a
    # zero patch (whose products are exactly 0) embeds to exactly 0.
    differentiable = out is None and torch.is_grad_enabled() and (
        dots.requires_grad or norms.requires_grad
    )
    if name == "exp":
        # norms * exp(a (u - 1)) = exp(a / norms * dots + log(norms) - a): one fused
        # multiply-add and one exp over the large tensor, the rest on the small
        # ``norms``. (u <= 1 up to rounding, so the clamp of the generic path is
        # not needed: an excess of ~1e-7 changes the value by as little.) log(0) is
        # -inf and exp(-inf) is 0.
        a = 1.0 / (sigma * sigma)
        if differentiable:
            return _ExpEmbedding.apply(dots, norms, a)
        scale, shift = _exp_coefficients(norms, a)
        return torch.addcmul(shift, dots, scale, out=out).exp_()
    if name in _QUADRATIC:
        # "poly2": norms ((1 + dots / norms) / 2)^2 = (norms + dots)^2 / (4 norms);
        # "square": norms (dots / norms)^2 = dots^2 / norms. An add (poly2), a square
        # and a product with a small factor of the norms: no division over the large
        # tensor (|dots| <= norms, so the clamp of the generic path is not needed).
        shifted, factor = _QUADRATIC[name]
        if differentiable:
            return _QuadraticEmbedding.apply(dots, norms, shifted, factor)
        scale = _quadratic_coefficient(norms, factor)
        if out is None:  # one new tensor: the sum (squared in place) or the square
            t = torch.add(dots, norms).square_() if shifted else dots.square()
        else:
            t = (out.add_(norms) if shifted else out).square_()
        return t.mul_(scale)
    safe = norms.clamp_min(1e-30)
    if out is None:
        return norms * KERNELS[name]((dots / safe).clamp(-1.0, 1.0), sigma)
    out.div_(safe).clamp_(-1.0, 1.0)
    out.copy_(KERNELS[name](out, sigma))
    return out.mul_(norms)


# The kernels of the CKN architectures get a backward pass written out: autograd's
# own, op by op, allocates three or four tensors the size of a layer's embedding per
# pass, and on the CPU fresh memory costs page faults (with a first layer of 128
# filters on 32 x 32 images, these tensors are 64 MiB a batch of 128). The forward
# passes run the same operations as the in-place (inference) path, so they round
# alike: an explained score is the score ``transform`` computes.
def _exp_coefficients(norms, a):
    """``scale = a / norms`` and ``shift = log(norms) - a`` of the ``"exp"`` embedding."""
    return norms.clamp_min(1e-30).reciprocal().mul(a), norms.log().sub(a)


#: Quadratic kernels: (whether the norms are added to the products, the factor of
#: 1 / norms).
_QUADRATIC = {"poly2": (True, 0.25), "square": (False, 1.0)}


def _quadratic_coefficient(norms, factor):
    """``factor / norms`` of a quadratic embedding."""
    return norms.clamp_min(1e-30).reciprocal().mul(factor)


def _summed_product(a, b, shape):
    """``(a * b).sum_to_size(shape)``; over the channels by one fused reduction.

    The norms of a layer have shape ``(B, 1, H, W)``: ``vecdot`` over the channels
    reads ``a`` and ``b`` once and builds no tensor of their size.
    """
    if a.dim() == 4 and tuple(shape) == (a.shape[0], 1, *a.shape[2:]):
        return torch.linalg.vecdot(a, b, dim=1).unsqueeze(1)
    return (a * b).sum_to_size(shape)


class _ExpEmbedding(torch.autograd.Function):
    """``e = exp(scale * dots + shift)``, ``scale = a / norms``, ``shift = log(norms) - a``."""

    @staticmethod
    def forward(ctx, dots, norms, a):
        scale, shift = _exp_coefficients(norms, a)
        e = torch.addcmul(shift, dots, scale).exp_()
        ctx.save_for_backward(e, dots if ctx.needs_input_grad[1] else None, scale, norms)
        return e

    @staticmethod
    def backward(ctx, grad):
        e, dots, scale, norms = ctx.saved_tensors
        ge = grad * e
        grad_norms = None
        if ctx.needs_input_grad[1]:
            # de / dnorms = e (1 - scale dots) / norms, summed over the broadcast axes.
            shape = norms.shape
            sums = ge.sum_to_size(shape) - _summed_product(ge, dots, shape) * scale
            grad_norms = sums / norms.clamp_min(1e-30)
        grad_dots = ge.mul_(scale) if ctx.needs_input_grad[0] else None
        return grad_dots, grad_norms, None


class _QuadraticEmbedding(torch.autograd.Function):
    """``out = t^2 q``, ``t = dots + norms`` (shifted) or ``dots``, ``q = factor / norms``."""

    @staticmethod
    def forward(ctx, dots, norms, shifted, factor):
        scale = _quadratic_coefficient(norms, factor)
        t = torch.add(dots, norms) if shifted else dots
        out = t.square().mul_(scale)
        ctx.shifted = shifted
        ctx.save_for_backward(t, out if ctx.needs_input_grad[1] else None, scale, norms)
        return out

    @staticmethod
    def backward(ctx, grad):
        t, out, scale, norms = ctx.saved_tensors
        # dout / ddots = 2 t q; dout / dnorms = (2 t q if shifted) - out / norms.
        grad_dots = (grad * t).mul_(scale.mul(2.0))
        grad_norms = None
        if ctx.needs_input_grad[1]:
            shape = norms.shape
            grad_norms = -_summed_product(grad, out, shape) / norms.clamp_min(1e-30)
            if ctx.shifted:
                grad_norms = grad_norms + grad_dots.sum_to_size(shape)
        return (grad_dots if ctx.needs_input_grad[0] else None), grad_norms, None, None
