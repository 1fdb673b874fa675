"""Unsupervised training of a :class:`CKNSequential`, layer by layer (Mairal, 2016).

For each layer in turn: draw patch centres uniformly over images and positions, push
the images that hold them through the layers already trained, gather the patches,
(first layer) fit the centring + ZCA map, drop near-zero patches, normalise the rest
and learn the anchors by spherical k-means.
"""

import numpy as np
import torch

from ._docstrings import NETWORK_IMPORTS, fill_doc
from .patches import gather_patches
from .spherical_kmeans import fast_product_dtype, spherical_kmeans
from .whitening import fit_patch_whitening

__all__ = ["TooFewPatchesError", "fit_ckn_unsupervised", "sample_layer_patches"]


class TooFewPatchesError(ValueError):
    """A layer has fewer usable (non-zero) patches than anchors to learn.

    Parameters
    ----------
    message : str
        The error message.
    layer : int
        Index of the layer (from 0), also the attribute ``layer``.

    See Also
    --------
    sklearn_ckn.core.unsupervised.fit_ckn_unsupervised : Raises it.

    Examples
    --------
    >>> from sklearn_ckn.core.unsupervised import TooFewPatchesError
    >>> error = TooFewPatchesError("Layer 2 has only 3 usable patches", layer=1)
    >>> isinstance(error, ValueError), error.layer
    (True, 1)
    """

    def __init__(self, message, layer):
        super().__init__(message)
        self.layer = layer


def _too_few_patches_message(index, layer, patches, norms, n_usable, n_images):
    """Why layer ``index`` lacks usable patches, and what to do about it."""
    where = (
        f"Layer {index + 1} has only {n_usable} usable (non-zero) patches out of "
        f"{len(norms)} drawn from n_samples={n_images} images, fewer than its "
        f"{layer.n_filters} filters (n_filters)"
    )
    peak = float(patches.abs().max()) if patches.numel() else 0.0
    if float(norms.max()) == 0.0 and peak > 0.0:
        # Squares of values below ~1e-19 underflow in float32: the norms are 0.
        return (
            f"{where}: the patches' values are at most {peak:.3g}, so faint that their "
            "squared norms underflow in float32 (to 0). Rescale the images, e.g. "
            "X / np.abs(X).max()."
        )
    if peak == 0.0:
        if index == 0:
            cause = (
                "the images are constant (blank), or every patch is, once whitening has "
                "removed each patch's mean"
                if layer.whitening
                else "the images are blank (all zero)"
            )
        else:
            cause = f"the map that layer {index} outputs is zero everywhere"
        return f"{where}: every patch drawn is zero ({cause}). The images carry nothing to learn."
    if index == 0 and n_usable <= len(norms) // 2:
        return (
            f"{where}: the images are nearly constant or blank (most patches are below "
            "1e-4 of the largest patch norm). Use fewer n_filters, more images (with "
            "content) or a larger n_patches."
        )
    return f"{where}. Use fewer n_filters, more images or a larger n_patches."


@fill_doc(network_imports=NETWORK_IMPORTS)
def sample_layer_patches(network, layer_index, load_batch, n_images, n_patches, rng, *, batch_size):
    """Raw patches of layer ``layer_index``'s input map, drawn uniformly.

    Parameters
    ----------
    network : CKNSequential
        Layers before ``layer_index`` must be trained.
    layer_index : int
        The layer whose input patches are drawn.
    load_batch : callable
        ``load_batch(indices) -> (b, C, H, W)`` float tensor on the network's device.
    n_images : int
        Number of images ``load_batch`` can index.
    n_patches : int
        Number of patch centres to draw uniformly over images and positions (all of
        them when there are fewer; without replacement unless they are plentiful).
    rng : numpy.random.Generator
        Source of randomness (drawn on the host, so CPU and GPU runs agree).
    batch_size : int
        Images pushed through the trained layers at once.

    Returns
    -------
    patches : torch.Tensor of shape (min(n_patches, n_positions), C_l * p * p)
        In the layer's raw input space (before any whitening).

    Examples
    --------
    >>> import numpy as np
    {network_imports}
    >>> from sklearn_ckn.core.unsupervised import sample_layer_patches
    >>> images = torch.rand(10, 1, 8, 8)
    >>> net = CKNSequential([CKNLayer(1, 4, patch_size=3)])
    >>> patches = sample_layer_patches(net, 0, lambda idx: images[idx], 10, 50,
    ...                                np.random.default_rng(0), batch_size=4)
    >>> patches.shape
    torch.Size([50, 9])
    """
    layer = network.layers[layer_index]
    height, width = network.map_sizes(*load_batch(np.arange(1)).shape[-2:])[layer_index]
    total = n_images * height * width
    if total <= n_patches:
        flat = np.arange(total)  # small data: every patch once
    elif total <= 10 * n_patches:
        flat = np.sort(rng.permutation(total)[:n_patches])  # without replacement
    else:
        flat = np.sort(rng.integers(0, total, size=n_patches))  # duplicates are rare
    n_patches = len(flat)
    image_ids, pos = np.divmod(flat, height * width)
    rows, cols = np.divmod(pos, width)
    unique, first = np.unique(image_ids, return_index=True)
    bounds = np.append(first, n_patches)
    chunks = []
    with torch.no_grad():
        for start in range(0, len(unique), batch_size):
            ids = unique[start : start + batch_size]
            x = network(load_batch(ids), n_layers=layer_index)
            lo, hi = bounds[start], bounds[start + len(ids)]

            def as_t(a):
                return torch.as_tensor(a, dtype=torch.long, device=x.device)

            local = np.searchsorted(ids, image_ids[lo:hi])
            chunks.append(
                gather_patches(x, as_t(local), as_t(rows[lo:hi]), as_t(cols[lo:hi]), layer.patch_size)
            )
    return torch.cat(chunks)


@fill_doc(network_imports=NETWORK_IMPORTS)
def fit_ckn_unsupervised(
    network,
    load_batch,
    n_images,
    *,
    n_patches=100_000,
    kmeans_max_iter=20,
    kmeans_tol=1e-5,
    kmeans_precision="float32",
    batch_size=256,
    seed=0,
    verbose=0,
    min_norm=1e-4,
    whitening_reg=0.1,
    progress=None,
):
    """Train every layer of ``network`` in place; return per-layer fit statistics.

    Patches whose norm is below ``min_norm`` times the largest sampled norm are
    treated as empty (e.g. the black background of digits) and skipped.
    ``whitening_reg`` is the ZCA regulariser of whitened layers, relative to the mean
    eigenvalue of the patch covariance (see :func:`.whitening.fit_patch_whitening`).

    Parameters
    ----------
    network : CKNSequential
        The untrained network; its layers' whitening and anchors are set in place.
    load_batch : callable
        ``load_batch(indices) -> (b, C, H, W)`` float tensor on the network's device.
    n_images : int
        Number of training images ``load_batch`` can index.
    n_patches : int or sequence of int, default=100_000
        Patches drawn per layer for spherical k-means (one number, or one per layer).
    kmeans_max_iter : int, default=20
        Spherical k-means iterations per layer.
    kmeans_tol : float, default=1e-5
        Each layer's k-means stops when its objective (the mean cosine of the
        patches to their centroids) improves by less than this in an iteration.
    kmeans_precision : {"float32", "auto"}, default="float32"
        Dtype of k-means' assignment products: ``"auto"`` runs them in bfloat16 where
        the device computes it natively and the patches are long enough
        (:func:`.spherical_kmeans.fast_product_dtype`); the anchors are averaged in
        float32 either way.
    batch_size : int, default=256
        Images pushed through the trained layers at once.
    seed : int, default=0
        Seed of the patch sampling and of the k-means initialisations.
    verbose : int, default=0
        Print one line per layer and show k-means progress.
    min_norm : float, default=1e-4
        Patches below this fraction of the largest norm are skipped.
    whitening_reg : float, default=0.1
        ZCA regulariser of whitened layers.
    progress : callable or None, default=None
        Progress display of the k-means iterations (see
        :func:`.spherical_kmeans.spherical_kmeans`).

    Returns
    -------
    stats : list of dict
        Per layer: ``n_patches`` (usable patches) and ``kmeans_objective`` (the
        objective after each k-means iteration).

    Raises
    ------
    TooFewPatchesError
        (a ``ValueError``) If a layer has fewer usable (non-zero) patches than filters.

    Examples
    --------
    {network_imports}
    >>> from sklearn_ckn.core.unsupervised import fit_ckn_unsupervised
    >>> images = torch.rand(20, 1, 8, 8)
    >>> net = CKNSequential([CKNLayer(1, 4, subsampling=2), CKNLayer(4, 8, subsampling=2)])
    >>> stats = fit_ckn_unsupervised(net, lambda idx: images[idx], 20, n_patches=500)
    >>> [s["n_patches"] for s in stats], net(images).shape  # layer 2: all 20 x 4 x 4
    ([500, 320], torch.Size([20, 8, 2, 2]))
    """
    rng = np.random.default_rng(seed)
    stats = []
    per_layer = list(n_patches) if np.ndim(n_patches) else [n_patches] * len(network)
    for index, layer in enumerate(network.layers):
        patches = sample_layer_patches(
            network, index, load_batch, n_images, int(per_layer[index]), rng,
            batch_size=batch_size,
        )
        if layer.whitening:
            layer.set_whitening(
                *fit_patch_whitening(patches, layer.in_channels, layer.patch_size, reg=whitening_reg)
            )
            patches = layer.whiten_patches(patches)
        norms = patches.norm(dim=1)
        keep = norms > min_norm * norms.max().clamp_min(1e-30)
        n_usable = int(keep.sum())
        if n_usable < layer.n_filters:
            raise TooFewPatchesError(
                _too_few_patches_message(index, layer, patches, norms, n_usable, n_images),
                layer=index,
            )
        patches = patches[keep] / norms[keep, None]
        if verbose:
            print(
                f"[CKN] layer {index + 1}/{len(network)}: {n_usable} patches of dim "
                f"{patches.shape[1]} -> {layer.n_filters} anchors"
            )
        anchors, objectives = spherical_kmeans(
            patches,
            layer.n_filters,
            max_iter=kmeans_max_iter,
            tol=kmeans_tol,
            product_dtype=fast_product_dtype(patches) if kmeans_precision == "auto" else None,
            seed=int(rng.integers(2**31)),
            verbose=verbose,
            progress=progress,
        )
        layer.set_anchors(anchors)
        stats.append({"n_patches": n_usable, "kmeans_objective": objectives})
        del patches
    return stats
