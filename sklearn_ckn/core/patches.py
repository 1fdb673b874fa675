"""Patches of feature maps: gathering sampled patches and their norms, vectorised."""

import torch
import torch.nn.functional as F

__all__ = ["gather_patches", "patch_norms", "patch_products", "unfold_valid"]


def gather_patches(x, batch_idx, rows, cols, patch_size):
    """Return the patches of the zero-padded map ``x`` at the given centres.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        The maps.
    batch_idx, rows, cols : torch.Tensor of shape (K,), dtype long
        Image index and centre of each patch (unpadded coordinates).
    patch_size : int
        Side ``p`` of the square patches.

    Returns
    -------
    patches : torch.Tensor of shape (K, C * p * p)
        The patches flattened in ``(C, p, p)`` order, the layout of a ``conv2d``
        weight.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.patches import gather_patches
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> gather_patches(x, torch.tensor([0]), torch.tensor([1]), torch.tensor([1]), 3)
    tensor([[ 0.,  1.,  2.,  4.,  5.,  6.,  8.,  9., 10.]])
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

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        The maps; patches past the border are zero-padded (the output keeps the
        size of the map).
    patch_size : int
        Side ``p`` of the square patches.
    eps : float, default=0.0
        Added to the sums of squares before the square root.

    Returns
    -------
    norms : torch.Tensor of shape (B, 1, H, W)
        The norm of the patch centred at each position.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.patches import patch_norms
    >>> patch_norms(torch.ones(1, 2, 3, 3), 3)[0, 0, 1, 1]  # 2 channels x 9 ones
    tensor(4.2426)
    """
    p = patch_size
    sq = x.pow(2).sum(dim=1, keepdim=True)
    if p > 1:
        pad = p // 2
        sq = F.pad(sq, (pad, p - 1 - pad, pad, p - 1 - pad))
        box = torch.ones(1, 1, p, p, dtype=x.dtype, device=x.device)
        sq = F.conv2d(sq, box)
    return sq.clamp_min(eps).sqrt()


def unfold_valid(x, patch_size):
    """``F.unfold(x, patch_size)``: the valid patches of ``(B, C, H, W)`` as ``(B, C p^2, L)``.

    Without autograd, one copy of a strided view (6x faster than ``F.unfold`` on
    ``(32, 3, 34, 34)`` float32 maps on the CPU); ``F.unfold`` otherwise.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        The maps (no padding is added).
    patch_size : int
        Side ``p`` of the patches.

    Returns
    -------
    patches : torch.Tensor of shape (B, C * p * p, (H - p + 1) * (W - p + 1))
        Rows in ``(C, p, p)`` order, columns in row-major position order.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.patches import unfold_valid
    >>> unfold_valid(torch.arange(9.0).reshape(1, 1, 3, 3), 2)[0]
    tensor([[0., 1., 3., 4.],
            [1., 2., 4., 5.],
            [3., 4., 6., 7.],
            [4., 5., 7., 8.]])
    """
    p = patch_size
    if torch.is_grad_enabled() and x.requires_grad:
        return F.unfold(x, p)
    b, c, h, w = x.shape
    ho, wo = h - p + 1, w - p + 1
    sb, sc, sh, sw = x.stride()
    view = x.as_strided((b, c, p, p, ho, wo), (sb, sc, sh, sw, sh, sw))
    return view.reshape(b, c * p * p, ho * wo)


# Up to this patch dimension, an unfold and one batched matrix product beat
# ``conv2d``: with 3 input channels (first layers, d=27) oneDNN's convolution ran at
# half the speed of unfold + matmul on a 2-core Xeon; with 64 channels (d=576) the
# convolution was faster (benchmarks/bench_transform.py times the embeddings).
_UNFOLD_MAX_PATCH_DIM = 32


def patch_products(x, weight, patch_size):
    """Return the inner products of every ``p x p`` patch of ``x`` with rows of ``weight``.

    The same as ``conv2d`` of the zero ("same") padded map with ``weight`` as ``F``
    filters, and differentiable like it. Few-channel inputs go through an unfold and
    one batched product instead (faster on the CPU).

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        The maps.
    weight : torch.Tensor of shape (F, C * p * p)
        Rows in ``(C, p, p)`` order.
    patch_size : int
        Side ``p`` of the patches.

    Returns
    -------
    products : torch.Tensor of shape (B, F, H, W)
        ``<weight_f, patch>`` at every position; in the channels-last memory format
        for many-channel inputs on the CPU without autograd.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.patches import patch_products
    >>> patch_products(torch.ones(1, 1, 3, 3), torch.ones(1, 9), 3)[0, 0]
    tensor([[4., 6., 4.],
            [6., 9., 6.],
            [4., 6., 4.]])
    """
    p = patch_size
    pad = p // 2
    b, c, h, w = x.shape
    if weight.shape[1] > _UNFOLD_MAX_PATCH_DIM and x.device.type == "cpu" and not torch.is_grad_enabled():
        # oneDNN's channels-last convolution: 0.78x the time of the default layout
        # for 64 -> 256 channels on 16x16 maps, and 0.85x again when it pads the
        # map itself (odd p) instead of reading a padded copy (bench_transform.py).
        # The result is a channels-last (B, F, H, W) tensor.
        channels_last = torch.channels_last
        weight = weight.reshape(weight.shape[0], c, p, p).contiguous(memory_format=channels_last)
        x = x.contiguous(memory_format=channels_last)
        if p % 2:
            return F.conv2d(x, weight, padding=pad)
        return F.conv2d(F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad)), weight)
    xp = F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad))
    if weight.shape[1] <= _UNFOLD_MAX_PATCH_DIM:
        return torch.matmul(weight, unfold_valid(xp, p)).view(b, weight.shape[0], h, w)
    return F.conv2d(xp, weight.reshape(weight.shape[0], c, p, p))
