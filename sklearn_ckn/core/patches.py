"""Patches of feature maps: gathering sampled patches and their norms, vectorised."""

import torch
import torch.nn.functional as F

__all__ = ["gather_patches", "patch_norms"]


def gather_patches(x, batch_idx, rows, cols, patch_size):
    """Patches of the zero-padded ``(B, C, H, W)`` map ``x`` at the given centres.

    ``batch_idx``, ``rows`` and ``cols`` are 1-D long tensors of equal length ``K``
    (centres in unpadded coordinates). Returns ``(K, C * p * p)`` patches flattened in
    ``(C, p, p)`` order, the layout of a ``conv2d`` weight.
    """
    p = patch_size
    pad = p // 2
    xp = F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad))
    offsets = torch.arange(p, device=x.device)
    r = (rows[:, None] + offsets)[:, None, :, None]  # (K, 1, p, 1)
    c = (cols[:, None] + offsets)[:, None, None, :]  # (K, 1, 1, p)
    ch = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    patches = xp[batch_idx[:, None, None, None], ch, r, c]  # (K, C, p, p)
    return patches.reshape(patches.shape[0], -1)


def patch_norms(x, patch_size, eps=0.0):
    """Euclidean norm of every ``p x p`` patch (all channels) of ``x``: ``(B, 1, H, W)``.

    Sums squares over channels first, then over the window with a box filter, which is
    far cheaper than a convolution with ``C * p * p`` ones.
    """
    p = patch_size
    sq = x.pow(2).sum(dim=1, keepdim=True)
    if p > 1:
        pad = p // 2
        sq = F.pad(sq, (pad, p - 1 - pad, pad, p - 1 - pad))
        box = torch.ones(1, 1, p, p, dtype=x.dtype, device=x.device)
        sq = F.conv2d(sq, box)
    return sq.clamp_min(eps).sqrt()
