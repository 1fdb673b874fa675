"""Patches of feature maps: gathering sampled patches and their norms, vectorised."""

import torch
import torch.nn.functional as F

__all__ = ["gather_patches", "patch_norms", "patch_products"]


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


# Up to this patch dimension, an unfold and one batched matrix product beat
# ``conv2d``: with 3 input channels (first layers, d=27) oneDNN's convolution ran at
# half the speed of unfold + matmul on a 2-core Xeon; with 64 channels (d=576) the
# convolution was faster (benchmarks/bench_transform.py times the embeddings).
_UNFOLD_MAX_PATCH_DIM = 32


def patch_products(x, weight, patch_size):
    """Inner products of every ``p x p`` patch of ``x`` (zero "same" padding) with rows of ``weight``.

    ``x`` is ``(B, C, H, W)``, ``weight`` is ``(F, C * p * p)`` in ``(C, p, p)`` order;
    returns ``(B, F, H, W)``, the same as ``conv2d`` of the padded map with ``weight``
    as ``F`` filters, and differentiable like it. Few-channel inputs go through an
    unfold and one batched product instead (faster on the CPU).
    """
    p = patch_size
    pad = p // 2
    xp = F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad))
    b, c, h, w = x.shape
    if weight.shape[1] <= _UNFOLD_MAX_PATCH_DIM:
        return torch.matmul(weight, F.unfold(xp, p)).view(b, weight.shape[0], h, w)
    return F.conv2d(xp, weight.reshape(weight.shape[0], c, p, p))
