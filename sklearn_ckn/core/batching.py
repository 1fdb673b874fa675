"""Batch shapes shared by every forward pass: padding to a multiple, splitting into parts.

CPU kernels take other code paths (and round differently in float32) for a batch of
one image, or for a batch that is not a multiple of the SIMD width: an image's output
would then depend on the batch it comes in. Inference batches are therefore
zero-padded to a multiple of :data:`PAD_MULTIPLE`, and batches are never split so
that one image stays alone.
"""

import torch

__all__ = ["PAD_MULTIPLE", "pad_to_multiple", "split_sizes"]

#: Inference batches are zero-padded to a multiple of this.
PAD_MULTIPLE = 8


def pad_to_multiple(x, multiple=PAD_MULTIPLE, memory_format=torch.contiguous_format):
    """Append all-zero images to a batch until its size is a multiple of ``multiple``.

    Parameters
    ----------
    x : torch.Tensor of shape (b, ...)
        The batch.
    multiple : int, default=PAD_MULTIPLE
        The padded size is the next multiple of it (1: no padding).
    memory_format : torch.memory_format, default=torch.contiguous_format
        Layout of a padded 4-D batch (``x`` is returned as it is when not padded).

    Returns
    -------
    padded : torch.Tensor of shape (b + n_pad, ...)
        The batch and its zero images.
    n : int
        The original size ``b``: ``out[:n]`` are the outputs of ``x``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.batching import pad_to_multiple
    >>> padded, n = pad_to_multiple(torch.ones(3, 1, 2, 2), 8)
    >>> padded.shape, n, float(padded[3:].abs().sum())
    (torch.Size([8, 1, 2, 2]), 3, 0.0)
    """
    n = x.shape[0]
    if multiple > 1 and n % multiple:
        pad = x.new_zeros((multiple - n % multiple,) + tuple(x.shape[1:]))
        x = torch.cat([x, pad])
        if x.dim() == 4:
            x = x.contiguous(memory_format=memory_format)
    return x, n


def split_sizes(n, chunk, smallest=2):
    """Return part sizes for ``n`` items: at most ``chunk`` each, none below ``smallest``.

    A last part smaller than ``smallest`` joins the previous one (a lone image takes
    another convolution path; a training batch of one sample breaks batch norm).

    Parameters
    ----------
    n : int
        Number of items.
    chunk : int
        Largest part.
    smallest : int, default=2
        Smallest last part (unless there is only one part).

    Returns
    -------
    sizes : list of int
        Summing to ``n``.

    Examples
    --------
    >>> from sklearn_ckn.core.batching import split_sizes
    >>> split_sizes(65, 32), split_sizes(64, 32), split_sizes(5, 32)
    ([32, 33], [32, 32], [5])
    """
    sizes = [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])
    if len(sizes) > 1 and sizes[-1] < smallest:
        last = sizes.pop()
        sizes[-1] += last
    return sizes
