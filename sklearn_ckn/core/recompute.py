"""A layer's embedding and pooling, trained by sub-batches and recomputed for the backward pass.

While the anchors are trained, autograd keeps every tensor that the embedding of a
layer builds, each the size of the layer's map before pooling: with a first layer of
128 filters on 32 x 32 images, 64 MiB for a batch of 128, where the pooled output
the next layer reads is 16 MiB. Such tensors are written and read once or twice
(element-wise work bound by memory, not by arithmetic), and on the CPU fresh memory
of that size also costs a page fault every 4 KiB.

:func:`embed_pool` runs ``layer.pool(layer.embed(x))`` by sub-batches small enough to
stay in the cache, without autograd, and keeps only ``x``; the backward pass runs
each sub-batch again, this time with autograd, and back-propagates through it at
once (gradient checkpointing, by sub-batch). The products are computed twice, the
large tensors never exist for the whole batch. The gradients are those of the plain
pass up to rounding.
"""

import torch

from ._autocast import autocast_dtype
from .batching import split_sizes

__all__ = ["RECOMPUTE_MIN_BYTES", "embed_pool", "recompute_chunk"]

#: Layers whose embedding takes at least this many bytes per image are recomputed.
RECOMPUTE_MIN_BYTES = 256 * 2**10

#: Bytes of a layer's embedding per sub-batch (a part of the last-level cache).
_CHUNK_BYTES = 4 * 2**20


def recompute_chunk(layer, height, width, element_size=4):
    """Return the sub-batch size for recomputing ``layer`` on ``height x width`` maps, or 0.

    Parameters
    ----------
    layer : CKNLayer
        The layer.
    height, width : int
        Size of its input map.
    element_size : int, default=4
        Bytes per value.

    Returns
    -------
    chunk : int
        Images per sub-batch (at least 2), or 0 where the layer's embedding is too
        small for the recomputation to pay (under :data:`RECOMPUTE_MIN_BYTES` an
        image).

    Examples
    --------
    >>> from sklearn_ckn.core.layers import CKNLayer
    >>> from sklearn_ckn.core.recompute import recompute_chunk
    >>> recompute_chunk(CKNLayer(3, 128, subsampling=2), 32, 32)
    8
    >>> recompute_chunk(CKNLayer(128, 128, subsampling=2), 8, 8)
    0
    """
    per_image = layer.n_filters * height * width * element_size
    if per_image < RECOMPUTE_MIN_BYTES:
        return 0
    return max(2, _CHUNK_BYTES // per_image)


def embed_pool(layer, x, chunk):
    """``layer.pool(layer.embed(x))``, by sub-batches of ``chunk`` images, recomputed in backward.

    Parameters
    ----------
    layer : CKNLayer
        The layer (its anchors may require gradients).
    x : torch.Tensor of shape (B, C, H, W)
        Its input (may require gradients).
    chunk : int
        Images per sub-batch (see :func:`recompute_chunk`).

    Returns
    -------
    pooled : torch.Tensor of shape (B, F, H', W')
        The pooled embedding, differentiable with respect to ``x`` and the anchors.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.layers import CKNLayer
    >>> from sklearn_ckn.core.recompute import embed_pool
    >>> layer = CKNLayer(in_channels=1, n_filters=8, patch_size=3, subsampling=2)
    >>> layer.set_anchors(torch.nn.functional.normalize(torch.randn(8, 9), dim=1))
    >>> pooled = embed_pool(layer.requires_grad_(True), torch.rand(6, 1, 28, 28), chunk=2)
    >>> pooled.sum().backward()  # recomputes the three sub-batches, one at a time
    >>> pooled.shape, layer.anchors.grad.shape
    (torch.Size([6, 8, 14, 14]), torch.Size([8, 9]))
    """
    return _EmbedPool.apply(layer, chunk, x, layer.anchors)


class _EmbedPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, layer, chunk, x, anchors):
        ctx.layer = layer
        ctx.sizes = split_sizes(x.shape[0], chunk)
        # The autocast state of the forward pass, for the recomputation.
        ctx.low = autocast_dtype(x)
        ctx.save_for_backward(x)
        parts = [layer.pool(layer.embed(part)) for part in x.split(ctx.sizes)]
        return torch.cat(parts).contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        layer = ctx.layer
        need_x = ctx.needs_input_grad[2]
        need_anchors = ctx.needs_input_grad[3]
        grad_x = torch.empty_like(x) if need_x else None
        grad_anchors = None
        device = x.device.type
        autocast = (torch.autocast(device, dtype=ctx.low) if ctx.low is not None
                    else torch.autocast(device, enabled=False))
        start = 0
        for part, g in zip(x.split(ctx.sizes), grad.split(ctx.sizes)):
            part = part.detach().requires_grad_(need_x)
            with torch.enable_grad(), autocast:
                out = layer.pool(layer.embed(part))
            inputs = ([part] if need_x else []) + ([layer.anchors] if need_anchors else [])
            grads = torch.autograd.grad(out, inputs, g)
            if need_x:
                grad_x[start:start + part.shape[0]] = grads[0]
            if need_anchors:
                ga = grads[-1]
                grad_anchors = ga if grad_anchors is None else grad_anchors.add_(ga)
            start += part.shape[0]
        return None, None, grad_x, grad_anchors
