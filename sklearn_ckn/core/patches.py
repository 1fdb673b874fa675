"""Patches of feature maps: gathering sampled patches and their norms, vectorised."""

import math

import torch
import torch.nn.functional as F

__all__ = ["gather_patches", "patch_norms", "patch_products", "unfold_valid"]


def _same_pad(x, p):
    """Zero-pad a map so that its valid ``p x p`` patches are one per position ("same")."""
    pad = p // 2
    return F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad))


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
    xp = _same_pad(x, p)
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
    if p == 1:
        return _ChannelNorms.apply(x, False).clamp_min(math.sqrt(eps))
    sq = _same_pad(_ChannelNorms.apply(x, True), p)
    box = torch.ones(1, 1, p, p, dtype=x.dtype, device=x.device)
    return F.conv2d(sq, box).clamp_min(eps).sqrt()


class _ChannelNorms(torch.autograd.Function):
    """``||x||`` over the channels, ``(B, 1, H, W)``, or its square (``squared=True``).

    A fused reduction forward (no tensor of ``x``'s size is built, where
    ``x.pow(2).sum()`` builds one) and one pass over ``x`` backward: the gradient is
    ``x * (grad / norms)`` (``2 grad x`` squared), with the small factor formed first.
    Autograd's own backward of ``vector_norm`` makes three passes over ``x``'s size
    (divide, mask, multiply): 6 ms against 0.7 ms on a ``(128, 128, 16, 16)`` map,
    one thread, timed by hand.
    """

    @staticmethod
    def forward(ctx, x, squared):
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        ctx.squared = squared
        ctx.save_for_backward(x, None if squared else norms)
        return norms.square() if squared else norms

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, norms = ctx.saved_tensors
        if ctx.squared:
            factor = grad * 2.0
        else:  # d||x|| / dx = x / ||x||, taken as 0 at x = 0 (autograd's convention)
            factor = (grad / norms).masked_fill_(norms == 0, 0.0)
        return x * factor, None


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


def patch_products(x, weight, patch_size, batch_invariant=True):
    """Return the inner products of every ``p x p`` patch of ``x`` with rows of ``weight``.

    The same as ``conv2d`` of the zero ("same") padded map with ``weight`` as ``F``
    filters, and differentiable like it. ``1 x 1`` patches are one product of the
    channels-last rows with ``weight``; few-channel inputs go through an unfold and
    one batched product (faster on the CPU).

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        The maps.
    weight : torch.Tensor of shape (F, C * p * p)
        Rows in ``(C, p, p)`` order.
    patch_size : int
        Side ``p`` of the patches.
    batch_invariant : bool, default=True
        Whether every image's products must be the same to the bit whatever the
        batch it comes in (inference); False lets ``1 x 1`` patches go through a
        faster convolution whose rounding can depend on the batch size (training).

    Returns
    -------
    products : torch.Tensor of shape (B, F, H, W)
        ``<weight_f, patch>`` at every position, in the channels-last memory format:
        the layout that the rest of a layer (kernel, pooling, projection) works in
        without copies.

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
    f = weight.shape[0]
    x = x.contiguous(memory_format=torch.channels_last)
    if p == 1:
        if batch_invariant:
            # The product of the channels-last rows (B, H, W, C), contiguous, with weight.T.
            return torch.matmul(x.permute(0, 2, 3, 1), weight.T).permute(0, 3, 1, 2)
        # oneDNN's 1 x 1 convolution: 3x faster forward than the product, as fast
        # backward, but on one thread its sums run in an order that depends on the
        # batch size for some shapes (4 -> 8 channels on 3 x 3 maps, 256 -> 256 on 4 x 4).
        return F.conv2d(x, weight.view(f, c, 1, 1))
    if weight.shape[1] <= _UNFOLD_MAX_PATCH_DIM:
        patches = unfold_valid(_same_pad(x, p), p)
        out = torch.matmul(patches.transpose(1, 2), weight.T)  # (B, H W, F)
        return out.view(b, h, w, f).permute(0, 3, 1, 2)
    # oneDNN's channels-last convolution: 0.78x the time of the default layout for
    # 64 -> 256 channels on 16x16 maps, and 0.85x again when it pads the map itself
    # (odd p) instead of reading a padded copy (bench_transform.py).
    weight = weight.reshape(f, c, p, p).contiguous(memory_format=torch.channels_last)
    if p % 2:
        return F.conv2d(x, weight, padding=pad)
    return F.conv2d(_same_pad(x, p), weight)
