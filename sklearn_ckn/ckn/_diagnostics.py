"""Checks of a freshly fitted CKN: kernel values that underflow to 0 (too small a sigma).

With the ``"exp"`` kernel ``exp((u - 1) / sigma^2)``, a patch far from every anchor
(cosine ``u`` well below 1) embeds to exactly 0 when ``sigma`` is small: its features
vanish, and a later layer may find no usable patch at all. ``fit`` checks a few
training images and raises (most patches dead) or warns (some), naming a bandwidth
to use.
"""

import math
import warnings

import numpy as np
import torch

__all__ = ["check_kernel_underflow"]

#: A patch counts (for the dead fraction) when its norm exceeds this fraction of the
#: largest patch norm of the batch.
_MIN_RELATIVE_NORM = 1e-4


def _underflow_stats(network, x):
    """Per ``"exp"`` layer with fitted anchors: non-empty, dead patches and cosines."""
    out = {}
    with torch.no_grad():
        x = network.preprocess_input(x)
        for index, layer in enumerate(network.layers):
            if not bool(layer.anchors.detach().abs().sum() > 0):
                break  # not fitted yet (fit failed at this layer)
            emb = layer.embed(x)
            if layer.kernel == "exp":
                norms, cos = layer.nearest_anchor_cosines(x)
                nonzero = norms > _MIN_RELATIVE_NORM * norms.max().clamp_min(1e-30)
                dead = nonzero & (emb.amax(dim=1) <= 0)
                out[index] = {
                    "nonzero": int(nonzero.sum()),
                    "dead": int(dead.sum()),
                    "cos": cos[nonzero].float().cpu().numpy(),
                }
            x = layer.project(layer.pool(emb))
    return out


def _sigma_advice(index, sigma, stats):
    """Message for a layer whose kernel values underflow, with a bandwidth to try."""
    frac = stats["dead"] / max(stats["nonzero"], 1)
    cos = stats["cos"]
    low = float(np.quantile(cos, 0.01)) if len(cos) else 0.0
    # exp((u - 1) / sigma^2) >= exp(-20) for 99% of the patches.
    suggestion = math.sqrt(max(1.0 - low, 1e-6) / 20.0)
    digits = -int(math.floor(math.log10(suggestion))) + 1
    suggestion = math.ceil(suggestion * 10**digits) / 10**digits
    return (
        f"sigmas={sigma:g} is too small for layer {index + 1}: for {frac:.1%} of its "
        f"{stats['nonzero']} non-empty training patches checked, the 'exp' kernel "
        f"exp((u - 1) / sigma^2) underflows to 0 for every anchor (their cosine u to the "
        f"nearest anchor is as low as {low:.3f}), so their features are all zero. Use "
        f"sigmas >= {suggestion:g} for this layer (the default is 0.6)."
    )


def check_kernel_underflow(network, x, cause=None, stacklevel=2):
    """Raise (most patches) or warn (more than 1%) when ``"exp"`` kernel values underflow.

    Parameters
    ----------
    network : CKNSequential
        The network, fitted up to some layer.
    x : torch.Tensor of shape (b, C, H, W)
        A few training images.
    cause : Exception or None, default=None
        The error that interrupted fitting (a layer without usable patches): any
        underflow then raises, chained to it.
    stacklevel : int, default=2
        Of the warning.

    Raises
    ------
    ValueError
        Naming the layer and a bandwidth to use.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.layers import CKNLayer
    >>> from sklearn_ckn.core.sequential import CKNSequential
    >>> from sklearn_ckn.ckn._diagnostics import check_kernel_underflow
    >>> net = CKNSequential([CKNLayer(1, 4)])
    >>> net.layers[0].set_anchors(torch.nn.functional.normalize(torch.randn(4, 9), dim=1))
    >>> check_kernel_underflow(net, torch.rand(2, 1, 8, 8))  # sigma 0.6: nothing dies
    """
    for index, st in _underflow_stats(network, x).items():
        frac = st["dead"] / max(st["nonzero"], 1)
        sigma = network.layers[index].sigma
        if frac >= 0.5 or (cause is not None and frac > 0):
            raise ValueError(_sigma_advice(index, sigma, st)) from cause
        if frac >= 0.01:
            warnings.warn(_sigma_advice(index, sigma, st), UserWarning, stacklevel=stacklevel + 1)
