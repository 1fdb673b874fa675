"""Spherical k-means: k-means with cosine similarity, centroids on the unit sphere.

Given unit-norm rows ``X``, it maximises ``sum_i max_k <x_i, c_k>`` over unit-norm
centroids ``c_k`` by Lloyd iterations: assign each point to its most similar centroid,
then set each centroid to the normalised sum of its points. Each step can only raise
the objective. A centroid that loses all its points is re-seeded at the point that is
worst represented, which also cannot lower the objective.
"""

import torch

from .._progress import progress

__all__ = ["spherical_kmeans"]


def _assign(X, centroids, chunk):
    """Best centroid and its similarity for every row of ``X``, in chunks of rows."""
    sims = torch.empty(X.shape[0], dtype=X.dtype, device=X.device)
    labels = torch.empty(X.shape[0], dtype=torch.long, device=X.device)
    for start in range(0, X.shape[0], chunk):
        s = X[start : start + chunk] @ centroids.T
        sims[start : start + chunk], labels[start : start + chunk] = s.max(dim=1)
    return sims, labels


def spherical_kmeans(X, n_clusters, *, max_iter=20, tol=1e-5, seed=0, chunk=16384, verbose=0):
    """Cluster unit-norm rows of ``X`` by spherical k-means.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Rows of unit norm, on any device; all work stays on that device.
    n_clusters : int
        Number of centroids; at most ``n_samples``.
    max_iter : int
        Maximum number of Lloyd iterations.
    tol : float
        Stop when the mean similarity improves by less than ``tol``.
    seed : int
        Seed of the initialisation (``n_clusters`` distinct random rows); drawn on the
        CPU so that every device starts from the same centroids.
    chunk : int
        Rows per similarity block, bounding memory to ``chunk * n_clusters`` floats.
    verbose : int
        Show a progress bar with the objective.

    Returns
    -------
    centroids : torch.Tensor of shape (n_clusters, n_features)
        Unit-norm centroids.
    objectives : list of float
        Mean similarity ``mean_i max_k <x_i, c_k>`` after each assignment step.
    """
    n = X.shape[0]
    if n_clusters > n:
        raise ValueError(f"Cannot find {n_clusters} clusters in {n} points.")
    gen = torch.Generator().manual_seed(int(seed))
    init = torch.randperm(n, generator=gen)[:n_clusters].to(X.device)
    centroids = X[init].clone()
    objectives = []
    bar = progress(range(max_iter), verbose=verbose, desc="spherical k-means")
    for _ in bar:
        sims, labels = _assign(X, centroids, chunk)
        objectives.append(sims.mean().item())
        if verbose:
            bar.set_postfix(objective=f"{objectives[-1]:.5f}")
        if len(objectives) > 1 and objectives[-1] - objectives[-2] < tol:
            break
        sums = torch.zeros_like(centroids).index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=n_clusters)
        empty = torch.nonzero(counts == 0).flatten()
        if empty.numel():
            # Re-seed empty clusters at the worst represented points, distinct ones.
            worst = torch.argsort(sims)[: empty.numel()]
            sums[empty] = X[worst]
        norms = sums.norm(dim=1, keepdim=True)
        centroids = torch.where(norms > 0, sums / norms.clamp_min(1e-30), centroids)
    return centroids, objectives
