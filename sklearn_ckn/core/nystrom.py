"""The Nystrom normalisation ``kappa(Z Z^T)^(-1/2)`` of a CKN layer.

For anchors ``Z`` (rows on the unit sphere), a patch ``x`` is mapped to
``||x|| kappa(Z Z^T)^(-1/2) kappa(Z x / ||x||)``: the projection of its kernel feature
onto the span of the anchors' features, expressed in an orthonormal basis, so that
inner products of mapped patches approximate the kernel (and equal it on the span).

When the anchors are trained (supervised CKN) the matrix is differentiated through.
Back-propagating through ``torch.linalg.eigh`` divides by eigenvalue gaps, which
blows up for the near-equal eigenvalues that anchor Gram matrices have; the
derivative of the matrix function ``f(A) = A^(-1/2)`` only needs the divided
differences ``(f(l_i) - f(l_j)) / (l_i - l_j) = -f_i^2 f_j^2 / (f_i + f_j)``, which
are bounded, so :class:`_InverseSqrt` writes that backward pass out (Daleckii-Krein).
"""

import torch

from .linalg import eigh

__all__ = ["kernel_inverse_sqrt", "symmetric_inverse_sqrt"]


class _InverseSqrt(torch.autograd.Function):
    """``(A + reg I)^(-1/2)`` of a symmetric matrix, eigenvalues floored, stable backward."""

    @staticmethod
    def forward(ctx, gram, reg, rel_floor):
        evals, evecs = eigh(gram)
        floor = rel_floor * evals.max().clamp_min(1e-300)
        f = (evals.clamp_min(floor) + reg).rsqrt()
        ctx.save_for_backward(evecs, f)
        return (evecs * f) @ evecs.T

    @staticmethod
    def backward(ctx, grad):
        evecs, f = ctx.saved_tensors
        g = evecs.T @ (0.5 * (grad + grad.T)) @ evecs
        f2 = f * f
        divided = -(f2[:, None] * f2[None, :]) / (f[:, None] + f[None, :])
        return evecs @ (g * divided) @ evecs.T, None, None


def symmetric_inverse_sqrt(matrix, *, reg=0.0, rel_floor=1e-7):
    """Return ``(A + reg I)^(-1/2)`` of a symmetric ``A``, with a stable gradient.

    Eigenvalues are clamped at ``rel_floor`` times the largest before ``reg`` is
    added (the gradient treats the clamp as the identity). Compute in float64.

    Parameters
    ----------
    matrix : torch.Tensor of shape (k, k)
        The symmetric matrix ``A`` (symmetrised as ``(A + A^T) / 2``).
    reg : float, default=0.0
        Added to the eigenvalues after the clamp.
    rel_floor : float, default=1e-7
        Smallest eigenvalue kept, relative to the largest.

    Returns
    -------
    inv_sqrt : torch.Tensor of shape (k, k)
        The symmetric inverse square root, differentiable with respect to ``A``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.nystrom import symmetric_inverse_sqrt
    >>> symmetric_inverse_sqrt(torch.diag(torch.tensor([4.0, 16.0], dtype=torch.float64)))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]], dtype=torch.float64)
    """
    sym = 0.5 * (matrix + matrix.T)
    return _InverseSqrt.apply(sym, float(reg), float(rel_floor))


def kernel_inverse_sqrt(anchors, kappa, *, reg=1e-3, rel_floor=1e-7):
    """Return ``(kappa(Z Z^T) + reg I)^(-1/2)`` in ``anchors``' dtype.

    Computed in float64 by a symmetric eigendecomposition; eigenvalues are clamped
    at ``rel_floor * max_eigenvalue`` (duplicate or nearly colinear anchors make the
    Gram matrix singular) before the small regulariser ``reg`` is added. Gradients
    flow to ``anchors`` when they require them.

    Parameters
    ----------
    anchors : torch.Tensor of shape (k, d)
        The unit-norm anchors ``Z``, one per row.
    kappa : callable
        The kernel function on cosines (see :func:`sklearn_ckn.core.kernels.get_kernel`).
    reg : float, default=1e-3
        Regulariser added to the eigenvalues.
    rel_floor : float, default=1e-7
        Smallest eigenvalue kept, relative to the largest.

    Returns
    -------
    inv_sqrt : torch.Tensor of shape (k, k)
        The Nystrom normalisation matrix, in ``anchors``' dtype.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.kernels import get_kernel
    >>> from sklearn_ckn.core.nystrom import kernel_inverse_sqrt
    >>> Z = torch.eye(3)  # orthogonal anchors: kappa(Z Z^T) is close to the identity
    >>> kernel_inverse_sqrt(Z, get_kernel("linear"), reg=0.0)
    tensor([[1., 0., 0.],
            [0., 1., 0.],
            [0., 0., 1.]])
    """
    # float64 throughout, also inside a mixed-precision (autocast) forward pass.
    with torch.autocast(anchors.device.type, enabled=False):
        z = anchors.to(torch.float64)
        if not torch.isfinite(z).all():
            raise ValueError(
                "The anchors hold NaN or infinite values: training diverged; use a smaller "
                "learning rate."
            )
        gram = kappa((z @ z.T).clamp(-1.0, 1.0))
        inv_sqrt = symmetric_inverse_sqrt(gram, reg=reg, rel_floor=rel_floor)
    return inv_sqrt.to(anchors.dtype)
