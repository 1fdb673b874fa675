"""Data augmentation on whole batches, in plain PyTorch: random crops and flips.

Random translations with zero padding ("random crops" of CIFAR recipes) and
horizontal flips, drawn for a whole ``(b, C, H, W)`` batch at once from a CPU
``torch.Generator``, so that training runs are repeatable for a given seed.
"""

import torch
from torch.nn import functional as F

__all__ = ["augment_batch"]


def augment_batch(x, *, crop=(0, 0), flip=False, generator=None):
    """Random translations with zero padding and horizontal flips of a batch.

    Parameters
    ----------
    x : Tensor of shape (b, C, H, W)
        The batch.
    crop : (int, int)
        Maximal shift ``(ph, pw)``: the image is zero-padded by ``ph`` rows and ``pw``
        columns on each side and a random ``H x W`` window is cut out (the "random crop
        with padding" of CIFAR recipes). ``(0, 0)`` disables it.
    flip : bool
        Flip each image left-right with probability 1/2.
    generator : torch.Generator or None
        CPU generator for the random draws (moved to ``x.device`` afterwards).

    Returns
    -------
    augmented : Tensor of shape (b, C, H, W)
        The shifted and flipped batch, channels-last.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.augmentation import augment_batch
    >>> x = torch.rand(4, 3, 8, 8)
    >>> augment_batch(x, crop=(1, 1), flip=True, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3, 8, 8])
    """
    b, _, h, w = x.shape
    ph, pw = crop
    if ph or pw:
        dy = torch.randint(0, 2 * ph + 1, (b,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * pw + 1, (b,), generator=generator).to(x.device)
        padded = F.pad(x, (pw, pw, ph, ph))
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        c = x.shape[1]
        x = padded.gather(2, rows.expand(b, c, h, w + 2 * pw))
        x = x.gather(3, cols.expand(b, c, h, w))
    if flip:
        mask = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x.contiguous(memory_format=torch.channels_last)
