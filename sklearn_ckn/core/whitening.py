"""Patch centring and ZCA whitening of the first layer, folded into one linear map.

Centring each patch per channel (subtracting its mean) and ZCA whitening are both
linear, so ``y = W (C x - m)`` is one affine map ``A x + b`` of the raw patch. Applied
as a convolution it whitens every patch of an image at once.
"""

import torch

from .linalg import eigh

__all__ = ["centering_matrix", "fit_patch_whitening"]


def centering_matrix(n_channels, patch_size, dtype=torch.float64):
    """Return the matrix subtracting each channel's mean over a ``p x p`` patch.

    Parameters
    ----------
    n_channels : int
        Channels ``C`` of the patches.
    patch_size : int
        Side ``p`` of the patches.
    dtype : torch.dtype, default=torch.float64
        Data type of the matrix.

    Returns
    -------
    matrix : torch.Tensor of shape (d, d)
        Block-diagonal, ``d = C * p * p``, for patches flattened in ``(C, p, p)``
        order.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.whitening import centering_matrix
    >>> centering_matrix(1, 2) @ torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    tensor([-2., -1.,  0.,  3.], dtype=torch.float64)
    """
    q = patch_size * patch_size
    block = torch.eye(q, dtype=dtype) - torch.full((q, q), 1.0 / q, dtype=dtype)
    return torch.block_diag(*([block] * n_channels))


def fit_patch_whitening(patches, n_channels, patch_size, *, reg=0.1):
    """Fit centring + ZCA on raw ``(K, C*p*p)`` patches.

    ``reg`` is added to the covariance eigenvalues relative to their mean, which keeps
    the near-null directions (e.g. the constant direction removed by centring) from
    being amplified into noise.

    Parameters
    ----------
    patches : torch.Tensor of shape (K, C * p * p)
        Training patches flattened in ``(C, p, p)`` order.
    n_channels : int
        Channels ``C``.
    patch_size : int
        Side ``p`` of the patches.
    reg : float, default=0.1
        Regulariser, relative to the mean eigenvalue of the patch covariance.

    Returns
    -------
    weight : torch.Tensor of shape (d, C, p, p)
        The linear part ``A = W C`` as a convolution weight.
    bias : torch.Tensor of shape (d,)
        ``b = -W m``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.whitening import fit_patch_whitening
    >>> patches = torch.randn(500, 3 * 3 * 3, generator=torch.Generator().manual_seed(0))
    >>> weight, bias = fit_patch_whitening(patches, n_channels=3, patch_size=3)
    >>> weight.shape, bias.shape
    (torch.Size([27, 3, 3, 3]), torch.Size([27]))
    """
    dev, dtype = patches.device, patches.dtype
    x = patches.to(torch.float64)
    cen = centering_matrix(n_channels, patch_size).to(x.device)
    xc = x @ cen.T
    mean = xc.mean(dim=0)
    xc = xc - mean
    cov = xc.T @ xc / max(1, xc.shape[0] - 1)
    evals, evecs = eigh(cov)
    evals = evals.clamp_min(0.0)
    # The floor keeps reg=0 finite in the null directions that centring creates.
    evals = evals.clamp_min(1e-10 * evals.max().clamp_min(1e-30)) + reg * evals.mean()
    zca = (evecs * evals.rsqrt()) @ evecs.T
    linear = zca @ cen
    bias = -(zca @ mean)
    d = linear.shape[0]
    weight = linear.reshape(d, n_channels, patch_size, patch_size)
    return weight.to(device=dev, dtype=dtype), bias.to(device=dev, dtype=dtype)
