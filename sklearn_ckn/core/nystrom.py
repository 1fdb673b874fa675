"""The Nystrom normalisation ``kappa(Z Z^T)^(-1/2)`` of a CKN layer.

For anchors ``Z`` (rows on the unit sphere), a patch ``x`` is mapped to
``||x|| kappa(Z Z^T)^(-1/2) kappa(Z x / ||x||)``: the projection of its kernel feature
onto the span of the anchors' features, expressed in an orthonormal basis, so that
inner products of mapped patches approximate the kernel (and equal it on the span).
"""

import torch

__all__ = ["kernel_inverse_sqrt"]


def kernel_inverse_sqrt(anchors, kappa, *, reg=1e-3, rel_floor=1e-7):
    """Return ``(kappa(Z Z^T) + reg I)^(-1/2)`` as a float32 matrix on ``anchors.device``.

    Computed in float64 by a symmetric eigendecomposition; eigenvalues are clamped
    at ``rel_floor * max_eigenvalue`` (duplicate or nearly colinear anchors make the
    Gram matrix singular) before the small regulariser ``reg`` is added.
    """
    z = anchors.to(torch.float64)
    gram = kappa((z @ z.T).clamp(-1.0, 1.0))
    gram = 0.5 * (gram + gram.T)
    evals, evecs = torch.linalg.eigh(gram)
    floor = rel_floor * evals.max().clamp_min(1e-300)
    evals = evals.clamp_min(floor) + reg
    inv_sqrt = (evecs * evals.rsqrt()) @ evecs.T
    return inv_sqrt.to(anchors.dtype if anchors.dtype != torch.float64 else torch.float32)
