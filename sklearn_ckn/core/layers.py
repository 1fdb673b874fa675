"""The CKN layer as a plain :class:`torch.nn.Module` (:class:`CKNLayer`).

A layer maps an input map ``x`` of shape ``(B, C, H, W)`` as follows (Mairal, 2016):

1. every ``p x p`` patch (zero padding, same size output) is optionally centred and
   whitened (first layer), giving vectors ``x_ij``;
2. each patch is embedded as ``||x_ij|| kappa(Z x_ij / ||x_ij||)`` with ``F`` unit-norm
   anchors ``Z`` (the rows of ``anchors``);
3. the map is Gaussian-pooled with subsampling factor ``s``;
4. the Nystrom matrix ``kappa(Z Z^T)^(-1/2)`` is applied to every position.

Steps 3 and 4 commute (one acts on space, the other on channels), so pooling comes
first: the ``F x F`` product then runs on ``s^2`` times fewer positions.

Every map a layer builds is in the channels-last memory format, where the products
with the anchors and with the Nystrom matrix act on contiguous rows and pooling is a
depthwise convolution: no layout copy between the steps. In training mode the
``1 x 1`` products go through oneDNN's convolution (faster, but rounding that can
depend on the batch size); in eval mode (``transform``, Grad-CAM) through products
whose result for an image does not depend on the batch it comes in.

Under :func:`torch.autocast` (mixed precision) only the patch-anchor products of
step 2, most of a forward pass's FLOPs, run in the autocast dtype (bfloat16);
everything else runs in float32. The kernel, pooling and Nystrom projection amplify
rounding: with every product of a 256/1024 CIFAR-10 network in bfloat16 the
normalised features moved by 50% (relative norm), with the patch products alone by
10% (4% before normalisation), at 2.2x the speed of float32 on a CPU with AMX units
(benchmarks/bench_mixed_precision.py); see CKNTransformer's ``mixed_precision`` for
what it costs in accuracy.

The modules contain no scikit-learn code, so they can be differentiated through
(Grad-CAM) and moved between devices. The anchors are an ``nn.Parameter``: frozen
(``requires_grad=False``) in the unsupervised CKN, trained end to end in the
supervised one (Mairal, 2016), where an optimiser step is followed by
:meth:`CKNLayer.normalize_anchors_` to bring them back onto the sphere. The Nystrom
matrix is recomputed, and differentiated through, at every training forward pass;
otherwise it is a cached buffer, refreshed when the anchors change.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._autocast import autocast_dtype, full_precision
from ._config import ConfigurableModule
from .kernels import get_kernel, homogeneous_kernel
from .nystrom import kernel_inverse_sqrt
from .patches import _same_pad, patch_norms, patch_products
from .pooling import gaussian_pool, pooled_size, pooling_kernel
from .recompute import embed_pool, recompute_chunk

__all__ = ["CKNLayer"]

def _cast(x, dtype):
    return x if dtype is None else x.to(dtype)


class CKNLayer(ConfigurableModule, nn.Module):
    """One convolutional kernel layer (see the module docstring).

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    n_filters : int
        Number of anchor points ``F`` (output channels).
    patch_size : int
        Side ``p`` of the square patches.
    subsampling : int
        Pooling factor ``s`` (1: no pooling).
    kernel : str
        Name of the dot-product kernel (:data:`sklearn_ckn.core.kernels.KERNELS`).
    sigma : float
        Bandwidth of the ``"exp"`` kernel.
    whitening : bool
        Whether patches go through a fitted centring + ZCA map first.
    nystrom_reg : float
        Regulariser of the Nystrom inverse square root.

    See Also
    --------
    sklearn_ckn.core.sequential.CKNSequential : A stack of layers.
    sklearn_ckn.CKNTransformer : Fits the layers' anchors by spherical k-means.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.layers import CKNLayer
    >>> layer = CKNLayer(in_channels=1, n_filters=8, patch_size=3, subsampling=2)
    >>> layer.set_anchors(torch.nn.functional.normalize(torch.randn(8, 9), dim=1))
    >>> layer(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 8, 14, 14])
    """

    def __init__(
        self,
        in_channels,
        n_filters,
        patch_size=3,
        subsampling=1,
        kernel="exp",
        sigma=0.6,
        whitening=False,
        nystrom_reg=1e-3,
    ):
        super().__init__()
        self.in_channels = int(in_channels)
        self.n_filters = int(n_filters)
        self.patch_size = int(patch_size)
        self.subsampling = int(subsampling)
        self.kernel = kernel
        self.sigma = float(sigma)
        self.whitening = bool(whitening)
        self.nystrom_reg = float(nystrom_reg)
        self.kappa = get_kernel(kernel, self.sigma)
        self.patch_dim = self.in_channels * self.patch_size**2
        self.anchors = nn.Parameter(torch.zeros(self.n_filters, self.patch_dim), requires_grad=False)
        self.register_buffer("lintrans", torch.eye(self.n_filters))
        self._lintrans_stale = False
        if self.whitening:
            p = self.patch_size
            self.register_buffer("white_weight", torch.zeros(self.patch_dim, self.in_channels, p, p))
            self.register_buffer("white_bias", torch.zeros(self.patch_dim))
        self._pool_cache = {}

    @property
    def config(self):
        """Constructor arguments: ``CKNLayer.from_config(layer.config)`` rebuilds the layer."""
        return {
            "in_channels": self.in_channels,
            "n_filters": self.n_filters,
            "patch_size": self.patch_size,
            "subsampling": self.subsampling,
            "kernel": self.kernel,
            "sigma": self.sigma,
            "whitening": self.whitening,
            "nystrom_reg": self.nystrom_reg,
        }

    def extra_repr(self):
        return (
            f"in_channels={self.in_channels}, n_filters={self.n_filters}, "
            f"patch_size={self.patch_size}, subsampling={self.subsampling}, "
            f"kernel={self.kernel!r}, sigma={self.sigma}, whitening={self.whitening}"
        )

    def output_size(self, height, width):
        """Return the spatial size of this layer's output for an input of ``height x width``.

        Parameters
        ----------
        height, width : int
            Input size.

        Returns
        -------
        size : tuple of int
            ``(height, width)`` after pooling.
        """
        return pooled_size(height, self.subsampling), pooled_size(width, self.subsampling)

    def flops(self, height, width):
        """Count the floating-point operations of the matrix products of one forward pass.

        Counts the convolution (or whitening + 1x1 product), the pooling products
        and the Nystrom projection for one image of ``height x width``; elementwise
        work (norms, kernel) is left out, so this is what matmul speed should bound.

        Parameters
        ----------
        height, width : int
            Input size.

        Returns
        -------
        flops : int
            Operations for one image.
        """
        hw = height * width
        f, d = self.n_filters, self.patch_dim
        conv = 2 * hw * d * (d + f) if self.whitening else 2 * hw * d * f
        ho, wo = self.output_size(height, width)
        taps = (2 * self.subsampling + 1) ** 2  # the depthwise pooling convolution
        pool = 0 if self.subsampling == 1 else 2 * f * ho * wo * taps
        return conv + pool + 2 * ho * wo * f * f

    # -- fitting ---------------------------------------------------------------------
    def set_whitening(self, weight, bias):
        """Install a fitted centring + ZCA map (see :mod:`.whitening`).

        Parameters
        ----------
        weight : torch.Tensor of shape (C * p * p, C, p, p)
            The linear part, as a convolution weight.
        bias : torch.Tensor of shape (C * p * p,)
            The offset.
        """
        self.white_weight.copy_(weight)
        self.white_bias.copy_(bias)

    @torch.no_grad()
    def set_anchors(self, anchors):
        """Install unit-norm anchors and recompute the Nystrom matrix.

        Parameters
        ----------
        anchors : torch.Tensor of shape (n_filters, C * p * p)
            Unit-norm anchor points, one per row.
        """
        self.anchors.copy_(anchors.to(self.anchors))
        self._refresh_lintrans()

    @torch.no_grad()
    def normalize_anchors_(self):
        """Project the anchors back onto the unit sphere (after an optimiser step)."""
        norms = self.anchors.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.anchors.div_(norms)
        self._lintrans_stale = True

    def _refresh_lintrans(self):
        with torch.inference_mode(False), torch.no_grad():
            self.lintrans.copy_(
                kernel_inverse_sqrt(self.anchors.detach(), self.kappa, reg=self.nystrom_reg)
            )
        self._lintrans_stale = False

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # A saved state (pickle, best epoch) must hold the matrix of the saved anchors.
        if getattr(self, "_lintrans_stale", False):
            self._refresh_lintrans()
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def nystrom_matrix(self):
        """Return ``kappa(Z Z^T)^(-1/2)``: differentiable while training the anchors, else cached.

        Returns
        -------
        matrix : torch.Tensor of shape (n_filters, n_filters)
            The Nystrom normalisation of the anchors' kernel map.
        """
        if self.training and self.anchors.requires_grad and torch.is_grad_enabled():
            self._lintrans_stale = True  # the anchors are about to change
            return kernel_inverse_sqrt(self.anchors, self.kappa, reg=self.nystrom_reg)
        if getattr(self, "_lintrans_stale", False):
            self._refresh_lintrans()
        return self.lintrans

    def whiten_patches(self, patches):
        """Map raw ``(K, C*p*p)`` patches to the space the anchors live in.

        Parameters
        ----------
        patches : torch.Tensor of shape (K, C * p * p)
            Raw patches.

        Returns
        -------
        patches : torch.Tensor of shape (K, C * p * p)
            Whitened patches (unchanged without whitening).
        """
        if not self.whitening:
            return patches
        w = self.white_weight.reshape(self.patch_dim, -1)
        return patches @ w.T + self.white_bias

    # -- forward ---------------------------------------------------------------------
    def _products(self, x, eps):
        """Patch-anchor dot products ``(B, F, H, W)`` and patch norms ``(B, 1, H, W)``.

        Both come in the channels-last memory format (see :func:`.patches.patch_products`).
        Under autocast only the products run in the autocast dtype; ``x`` and the
        norms stay in the anchors' dtype.
        """
        low = autocast_dtype(x)  # mixed precision: the products alone in this dtype
        with full_precision(x):
            x = x.to(self.anchors.dtype) if low is not None else x
            x = x.contiguous(memory_format=torch.channels_last)
            if self.whitening:
                y = F.conv2d(_same_pad(x, self.patch_size), self.white_weight, self.white_bias)
                y = y.contiguous(memory_format=torch.channels_last)
                squares = y.pow(2).sum(dim=1, keepdim=True)
                if not bool(torch.isfinite(squares).all()):
                    # A whitening fitted on faint images amplifies bright ones past
                    # float32's range once squared: sum those squares in float64.
                    squares = y.double().pow(2).sum(dim=1, keepdim=True)
                norms = squares.clamp_min(eps).sqrt().to(y.dtype)
                # The whitened patches are 1x1 "patches" of y.
                dots = patch_products(_cast(y, low), _cast(self.anchors, low), 1,
                                      batch_invariant=not self.training)
            else:
                p = self.patch_size
                dots = patch_products(_cast(x, low), _cast(self.anchors, low), p,
                                      batch_invariant=not self.training)
                norms = patch_norms(x, p, eps=eps)
        return _cast(dots, x.dtype), norms

    def embed(self, x):
        """Return the kernel embedding of every patch, before pooling.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W)
            Input map.

        Returns
        -------
        embedded : torch.Tensor of shape (B, F, H, W)
            ``||x|| kappa(<z_f, x> / ||x||)`` for every anchor ``f`` and position.
        """
        # Without autograd the norms are exact, so that a zero patch embeds to exactly
        # zero (blank image regions give zero features, not 1e-7 noise that a signed
        # power would amplify); with it, sqrt's derivative needs a floor at 0.
        differentiable = torch.is_grad_enabled() and (
            x.requires_grad or self.anchors.requires_grad
        )
        dots, norms = self._products(x, 1e-12 if differentiable else 0.0)
        with full_precision(x):
            out = None if differentiable else dots  # in place when nothing is recorded
            return homogeneous_kernel(dots, norms, self.kernel, self.sigma, out=out)

    @torch.no_grad()
    def nearest_anchor_cosines(self, x):
        """Return each patch's norm and its cosine to the nearest anchor.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W)
            Input map.

        Returns
        -------
        norms : torch.Tensor of shape (B, H, W)
            Norm of every (whitened) patch.
        cosines : torch.Tensor of shape (B, H, W)
            ``max_f <z_f, x> / ||x||`` (0 where the patch is 0).
        """
        dots, norms = self._products(x, 0.0)
        norms = norms[:, 0]
        return norms, dots.amax(dim=1) / norms.clamp_min(1e-30)

    def pool(self, x):
        """Gaussian-pool an embedded map, with cached pooling matrices.

        Parameters
        ----------
        x : torch.Tensor of shape (B, F, H, W)
            Embedded map.

        Returns
        -------
        pooled : torch.Tensor of shape (B, F, H', W')
            The pooled map (``x`` itself when ``subsampling`` is 1).
        """
        if self.subsampling == 1:
            return x
        if autocast_dtype(x) is not None:
            with full_precision(x):
                return self.pool(x.to(self.lintrans.dtype))
        key = (x.shape[1], x.dtype, x.device)
        kernel = self._pool_cache.get(key)
        if kernel is None:
            # Built outside inference mode: the cache is first filled by transform (in
            # inference mode), and inference tensors cannot be saved for backward.
            with torch.inference_mode(False):
                kernel = pooling_kernel(self.subsampling, x.shape[1], dtype=x.dtype,
                                        device=x.device)
            self._pool_cache = {key: kernel}
        return gaussian_pool(x, self.subsampling, kernel)

    def project(self, x):
        """Apply the Nystrom matrix to every position of ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (B, F, H, W)
            Pooled map.

        Returns
        -------
        projected : torch.Tensor of shape (B, F, H, W)
            The layer's output.
        """
        if autocast_dtype(x) is not None:
            with full_precision(x):
                return self.project(x.to(self.lintrans.dtype))
        # A 1 x 1 "patch" product on the channels-last map (see patch_products).
        return patch_products(x, self.nystrom_matrix(), 1, batch_invariant=not self.training)

    def forward(self, x):
        if torch.is_grad_enabled() and (x.requires_grad or self.anchors.requires_grad):
            # Training: large embeddings by cached sub-batches, recomputed in backward.
            chunk = recompute_chunk(self, x.shape[-2], x.shape[-1], x.element_size())
            if chunk and x.shape[0] > chunk:
                return self.project(embed_pool(self, x, chunk))
        return self.project(self.pool(self.embed(x)))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pool_cache"] = {}  # device tensors: rebuilt on first use
        return state
