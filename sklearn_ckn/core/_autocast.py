"""Where autocast (mixed precision) is on, and a context that turns it off.

The CKN layers run only their patch products in the autocast dtype and everything
else in float32 (see :mod:`.layers`); the recomputed sub-batches of training
(:mod:`.recompute`) replay the forward pass's state.
"""

import contextlib

import torch


def autocast_dtype(x):
    """The autocast dtype of ``x``'s device if autocast is on there, else None."""
    kind = x.device.type
    if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return None


def full_precision(x):
    """A context where autocast is off for ``x``'s device (a no-op when it is off)."""
    if autocast_dtype(x) is None:
        return contextlib.nullcontext()
    return torch.autocast(x.device.type, enabled=False)
