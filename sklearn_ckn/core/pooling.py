"""Gaussian linear pooling with subsampling, written as two small matrix products.

Pooling with factor ``s`` convolves each channel with a Gaussian of standard deviation
``s / sqrt(2)`` truncated to ``2 s + 1`` taps (zero padding) and keeps every ``s``-th
position, as in Mairal (2016). Written as ``P_h @ X @ P_w^T`` it is separable, costs
far less than a depthwise convolution on the CPU, and its output size ``ceil(H / s)``
never drops below 1.
"""

import math

import torch

__all__ = ["pooling_matrix", "pooled_size", "gaussian_pool"]


def pooled_size(size, subsampling):
    """Return the spatial size after pooling: ``ceil(size / subsampling)``, at least 1.

    Parameters
    ----------
    size : int
        Side of the map.
    subsampling : int
        Pooling factor.

    Returns
    -------
    pooled : int
        Side of the pooled map.

    Examples
    --------
    >>> from sklearn_ckn.core.pooling import pooled_size
    >>> pooled_size(28, 2), pooled_size(7, 4), pooled_size(1, 4)
    (14, 2, 1)
    """
    return max(1, -(-size // subsampling))


def pooling_matrix(size, subsampling, *, dtype=torch.float32, device=None):
    """Return the matrix of 1-D Gaussian pooling with stride ``subsampling``.

    The Gaussian has standard deviation ``subsampling / sqrt(2)`` and is truncated at
    ``subsampling`` pixels from its centre; ``subsampling=1`` gives the identity.

    Parameters
    ----------
    size : int
        Length of the input.
    subsampling : int
        Stride (pooling factor).
    dtype : torch.dtype, default=torch.float32
        Data type of the matrix.
    device : torch.device or str, default=None
        Device of the matrix (the CPU if None).

    Returns
    -------
    matrix : torch.Tensor of shape (pooled_size(size, subsampling), size)
        Row ``i`` holds the weights of output ``i``.

    Examples
    --------
    >>> from sklearn_ckn.core.pooling import pooling_matrix
    >>> pooling_matrix(8, 2).shape
    torch.Size([4, 8])
    """
    s = int(subsampling)
    n_out = pooled_size(size, s)
    if s == 1:
        return torch.eye(size, dtype=dtype, device=device)
    sigma = s / math.sqrt(2.0)
    taps = torch.arange(-s, s + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (taps / sigma) ** 2)
    g = g / g.sum()
    centers = torch.arange(n_out, dtype=torch.float64) * s
    offset = torch.arange(size, dtype=torch.float64)[None, :] - centers[:, None]
    idx = (offset + s).long()
    inside = offset.abs() <= s
    mat = torch.where(inside, g[idx.clamp(0, 2 * s)], torch.zeros((), dtype=torch.float64))
    return mat.to(dtype=dtype, device=device)


def gaussian_pool(x, subsampling, matrices=None):
    """Gaussian-pool a ``(B, C, H, W)`` map along both spatial axes.

    Small outputs (see ``_KRON_MAX_EXTRA_FLOPS``) are pooled
    by one product with the ``(H' W', H W)`` Kronecker product of the two matrices:
    a single large matrix product over all ``B * C`` maps, where the separable form's
    second step is ``B * C`` tiny products. Larger outputs use the separable form,
    whose FLOPs are then far fewer.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        The map.
    subsampling : int
        Pooling factor of both axes.
    matrices : tuple of torch.Tensor, default=None
        Cached ``(P_h, P_w)`` from :func:`pooling_matrix`; computed if None.

    Returns
    -------
    pooled : torch.Tensor of shape (B, C, H', W')
        The pooled map, ``H' = pooled_size(H, subsampling)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.pooling import gaussian_pool
    >>> gaussian_pool(torch.ones(2, 3, 8, 8), 2).shape
    torch.Size([2, 3, 4, 4])
    """
    if subsampling == 1:
        return x
    h, w = x.shape[-2:]
    if matrices is None:
        matrices = (
            pooling_matrix(h, subsampling, dtype=x.dtype, device=x.device),
            pooling_matrix(w, subsampling, dtype=x.dtype, device=x.device),
        )
    p_h, p_w = matrices
    ho, wo = p_h.shape[0], p_w.shape[0]
    separable = h * w * wo + ho * h * wo
    kron = h * w * ho * wo <= _KRON_MAX_EXTRA_FLOPS * separable
    if kron and x.dim() == 4:
        # (B, H W, C) channels-last rows: one batched product, no layout copy for the
        # channels-last maps of the CPU inference path. A contiguous map (autograd
        # path) is copied to that layout rather than pooled by another product: the
        # sums then run in one order whatever the layout, and Grad-CAM's scores are
        # transform's to the last bit.
        b, c = x.shape[:2]
        full = torch.kron(p_h, p_w)  # (H' W', H W), row (i, j) = P_h[i] outer P_w[j]
        out = torch.matmul(full, x.permute(0, 2, 3, 1).reshape(b, h * w, c))
        return out.view(b, ho, wo, c).permute(0, 3, 1, 2)
    if kron:
        out = torch.mm(x.reshape(-1, h * w), torch.kron(p_h, p_w).T)
        return out.view(*x.shape[:-2], ho, wo)
    # (B, C, H, W) @ (W, W') -> (B, C, H, W'), then (H', H) @ ... -> (B, C, H', W')
    return torch.matmul(p_h, torch.matmul(x, p_w.T))


# The Kronecker form is used while it costs at most this many times the separable
# form's FLOPs: e.g. 3.2x for 16x16 -> 4x4 (layer 2 of the CIFAR-10 networks, one
# product instead of B*C tiny ones), not for 32x32 -> 16x16 (10.7x).
_KRON_MAX_EXTRA_FLOPS = 4
