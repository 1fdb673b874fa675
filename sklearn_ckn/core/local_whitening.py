"""Per-image patch whitening: the CIFAR-10 preprocessing of Mairal's CKN experiments.

Each image is whitened on its own, with nothing learned from the training set:

1. every ``p x p`` patch has its per-channel mean removed, and the image is rebuilt by
   averaging the overlapping patches (a local contrast normalisation);
2. the image's patches (``C * p * p`` vectors) are multiplied by ``S^power`` where ``S``
   is their uncentred second-moment matrix (``power=-1/4``: half of a ZCA whitening),
   and the image is rebuilt again by averaging.

Directions whose singular value is below ``rel_eps`` times the largest are dropped
(the constant direction removed in step 1, flat images).
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LocalPatchWhitening", "whiten_images_locally"]


def _overlap_counts(height, width, patch_size, like):
    """``(1, 1, H, W)``: how many valid patches cover each pixel."""
    ones = torch.ones(1, 1, height, width, dtype=like.dtype, device=like.device)
    return F.fold(F.unfold(ones, patch_size), (height, width), patch_size)


def _fold_mean(patches, counts, patch_size):
    """Rebuild ``(n, C*p*p, L)`` valid patches into ``(n, C, H, W)`` by averaging overlaps."""
    return F.fold(patches, tuple(counts.shape[-2:]), patch_size) / counts


def whiten_images_locally(x, patch_size=3, power=-0.25, rel_eps=1e-8):
    """Whiten each image of ``x`` (``(n, C, H, W)``, float) with its own patches.

    Returns a tensor of the same shape and dtype. Images smaller than a patch are
    returned unchanged.
    """
    n, c, h, w = x.shape
    p = patch_size
    if h < p or w < p:
        return x
    counts = _overlap_counts(h, w, p, x)
    patches = F.unfold(x, p)  # (n, C*p*p, L): valid patches, no padding
    L = patches.shape[-1]
    patches = patches.view(n, c, p * p, L)
    patches = (patches - patches.mean(2, keepdim=True)).view(n, c * p * p, L)
    x = _fold_mean(patches, counts, p)
    patches = F.unfold(x, p).to(torch.float64)
    second_moment = patches @ patches.transpose(1, 2)  # (n, d, d), batched
    evals, evecs = torch.linalg.eigh(second_moment)
    evals = evals.clamp_min(0.0)
    keep = evals.sqrt() > rel_eps * evals.amax(1, keepdim=True).sqrt()
    scale = torch.where(keep, evals.clamp_min(torch.finfo(evals.dtype).tiny) ** power, 0.0)
    whitening = evecs @ (scale.unsqueeze(-1) * evecs.transpose(1, 2))
    patches = (whitening @ patches).to(x.dtype)
    return _fold_mean(patches, counts, p)


class LocalPatchWhitening(nn.Module):
    """:func:`whiten_images_locally` as a module (no parameters, nothing to fit)."""

    def __init__(self, patch_size=3, power=-0.25):
        super().__init__()
        self.patch_size = int(patch_size)
        self.power = float(power)

    def extra_repr(self):
        return f"patch_size={self.patch_size}, power={self.power}"

    def forward(self, x):
        return whiten_images_locally(x, self.patch_size, self.power)
