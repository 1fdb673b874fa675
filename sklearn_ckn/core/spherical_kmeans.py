"""Spherical k-means: k-means with cosine similarity, centroids on the unit sphere.

Given unit-norm rows ``X``, it maximises ``sum_i max_k <x_i, c_k>`` over unit-norm
centroids ``c_k`` by Lloyd iterations: assign each point to its most similar centroid,
then set each centroid to the normalised sum of its points. Each step can only raise
the objective. A centroid that loses all its points is re-seeded at the point that is
worst represented, which also cannot lower the objective.
"""

import torch

__all__ = ["BF16_MIN_FEATURES", "fast_product_dtype", "spherical_kmeans"]


#: Shortest rows whose assignment products :func:`fast_product_dtype` runs in bfloat16.
BF16_MIN_FEATURES = 128

# Rows per similarity block on the CPU: a block of about 2^18 floats (1 MiB) stays in
# the L2 cache between the product that writes it and the max that reads it, instead
# of a round trip through memory. GPUs want large blocks.
_CPU_BLOCK_FLOATS = 2**18
_GPU_BLOCK_FLOATS = 2**26


def _block_rows(X, n_clusters, chunk):
    if chunk is not None:
        return max(1, int(chunk))
    floats = _CPU_BLOCK_FLOATS if X.device.type == "cpu" else _GPU_BLOCK_FLOATS
    return max(256, floats // max(1, n_clusters))


#: Most centroids whose index :func:`_assign_packed` packs into a similarity's low
#: mantissa bits (10 bits: the quantum it leaves is 2^-12 on similarities + 1 in [1, 2]).
PACKED_MAX_CLUSTERS = 1024


def _packs(X, n_clusters):
    """Whether the assignment of ``X`` takes the packed path (float32 on a CPU)."""
    return X.device.type == "cpu" and X.dtype == torch.float32 and n_clusters <= PACKED_MAX_CLUSTERS


def _assign(X, centroids, chunk, sims=None, labels=None, block=None):
    """Best centroid and its similarity for every row of ``X``, block of rows by block.

    Each block's similarities are written into the same preallocated ``block`` buffer
    (fresh allocations of a few MiB are page-faulted in on every call) and reduced
    while still in cache; ``sims`` and ``labels`` are filled in place when given.
    """
    n = X.shape[0]
    if sims is None:
        sims = torch.empty(n, dtype=X.dtype, device=X.device)
    if labels is None:
        labels = torch.empty(n, dtype=torch.long, device=X.device)
    if block is None:
        block = torch.empty(min(chunk, n), centroids.shape[0], dtype=X.dtype, device=X.device)
    if _packs(X, centroids.shape[0]):
        return _assign_packed(X, centroids, chunk, sims, labels, block)
    ct = centroids.T
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        s = torch.mm(X[start:stop], ct, out=block[: stop - start])
        torch.max(s, dim=1, out=(sims[start:stop], labels[start:stop]))
    return sims, labels


def _assign_packed(X, centroids, chunk, sims, labels, block):
    """:func:`_assign` by an integer max: each centroid's index in its similarity's low bits.

    On a CPU, ``torch.max`` with indices along rows is a scalar loop (at 27 dimensions
    a profile gave it 55% of an iteration, the products 38%: docs/benchmarks.md),
    while ``amax`` is vectorised. The similarities plus one (added by the product itself)
    are non-negative floats, whose bit patterns order as integers do; with the low
    ``b = ceil(log2(k))`` mantissa bits replaced by the centroid's index, one integer
    ``amax`` per row yields the index of a centroid whose similarity is within
    ``q = 2^(b - 22)`` of the best (6e-5 for 256 centroids), and that similarity
    rounded down to a multiple of ``q`` in ``sims``: the objective is biased by less
    than ``q``, by the same amount from one iteration to the next, so its increments
    (the stopping rule) are not.
    """
    n, k = X.shape[0], centroids.shape[0]
    bits = max(1, (k - 1).bit_length())
    keep = -(1 << bits)  # ...11110000: the high bits of a float32's pattern
    index = torch.arange(k, dtype=torch.int32, device=X.device)
    one = torch.ones(k, dtype=X.dtype, device=X.device)
    packed = torch.empty(n, dtype=torch.int32, device=X.device)
    ct = centroids.T
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        s = torch.addmm(one, X[start:stop], ct, out=block[: stop - start]).view(torch.int32)
        torch.amax(s.bitwise_and_(keep).bitwise_or_(index), dim=1, out=packed[start:stop])
    torch.bitwise_and(packed, (1 << bits) - 1, out=labels)
    torch.sub(packed.bitwise_and_(keep).view(X.dtype), 1.0, out=sims)
    return sims, labels


def fast_product_dtype(X, min_features=BF16_MIN_FEATURES):
    """The dtype in which the assignment products of ``X`` run fastest: bfloat16 or ``X``'s.

    bfloat16 where the device computes it natively (CUDA, or a CPU with AVX512-BF16 or
    AMX units) and the rows are long enough for the product to dominate an
    iteration (``min_features``); otherwise ``X.dtype``. The assignment only needs
    each row's most similar centroid: a bfloat16 product changes it only between
    centroids whose similarities are within about 1% of each other, and the centroids
    are still averaged in ``X``'s precision.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The rows to cluster.
    min_features : int, default=BF16_MIN_FEATURES
        Shortest rows for which bfloat16 is chosen.

    Returns
    -------
    dtype : torch.dtype
        ``torch.bfloat16`` or ``X.dtype``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.spherical_kmeans import fast_product_dtype
    >>> fast_product_dtype(torch.zeros(10, 27))
    torch.float32
    """
    if X.shape[1] < min_features or X.dtype != torch.float32:
        return X.dtype
    if X.device.type == "cuda":
        return torch.bfloat16
    try:
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # pragma: no cover - an older torch without these probes
        native = False
    return torch.bfloat16 if native else X.dtype


def spherical_kmeans(
    X, n_clusters, *, max_iter=20, tol=1e-5, seed=0, chunk=None, verbose=0, init=None,
    progress=None, product_dtype=None,
):
    """Cluster unit-norm rows of ``X`` by spherical k-means.

    Each iteration costs one pass over ``X`` for the assignment (a matrix product and
    a row-wise max, fused block by block so that the ``n x k`` similarities are never
    written to memory in full) and one for the update (``index_add_``). In float32 on
    a CPU the row-wise max is an integer ``amax`` with the centroid's index packed into
    the similarity's low bits (:func:`_assign_packed`): the chosen centroid is within
    ``2^(ceil(log2(k)) - 22)`` of the best, and the objective is rounded down to that
    quantum. Figures against scikit-learn's ``KMeans`` and faiss: benchmark case
    ``kmeans.cifar10`` (docs/benchmarks.md).

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
    chunk : int or None
        Rows per similarity block, bounding memory to ``chunk * n_clusters`` floats;
        ``None`` picks a cache-sized block on the CPU (about 1 MiB) and a large one
        on a GPU.
    verbose : int
        Show a progress bar with the objective (with ``progress``).
    init : torch.Tensor of shape (n_clusters, n_features), optional
        Initial unit-norm centroids, instead of random rows drawn with ``seed``.
    progress : callable or None
        ``progress(iterable, verbose=..., desc=...)`` wraps the iterations (e.g. a
        tqdm bar with ``set_postfix``); None: no progress display. The core stays
        free of display code: the estimators pass the package's own.
    product_dtype : torch.dtype or None
        Dtype of the assignment's products (``torch.bfloat16``: a copy of ``X`` in
        that dtype is kept); None: ``X.dtype``. The centroids are averaged in
        ``X.dtype`` either way, and the objective is the mean similarity computed in
        ``product_dtype``.

    Returns
    -------
    centroids : torch.Tensor of shape (n_clusters, n_features)
        Unit-norm centroids.
    objectives : list of float
        Mean similarity ``mean_i max_k <x_i, c_k>`` after each assignment step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.spherical_kmeans import spherical_kmeans
    >>> X = torch.nn.functional.normalize(torch.randn(200, 5), dim=1)
    >>> centroids, objectives = spherical_kmeans(X, 4, max_iter=10, seed=0)
    >>> centroids.shape, bool(torch.allclose(centroids.norm(dim=1), torch.ones(4)))
    (torch.Size([4, 5]), True)
    """
    n = X.shape[0]
    if n_clusters > n:
        raise ValueError(f"Cannot find {n_clusters} clusters in {n} points.")
    if init is None:
        gen = torch.Generator().manual_seed(int(seed))
        rows = torch.randperm(n, generator=gen)[:n_clusters].to(X.device)
        centroids = X[rows].clone()
    else:
        if tuple(init.shape) != (n_clusters, X.shape[1]):
            raise ValueError(
                f"init has shape {tuple(init.shape)}; expected ({n_clusters}, {X.shape[1]})."
            )
        centroids = init.to(dtype=X.dtype, device=X.device).clone()
    chunk = _block_rows(X, n_clusters, chunk)
    low = X.dtype if product_dtype is None else product_dtype
    X_low = X if low == X.dtype else X.to(low)
    sims = torch.empty(n, dtype=low, device=X.device)
    labels = torch.empty(n, dtype=torch.long, device=X.device)
    block = torch.empty(min(chunk, n), n_clusters, dtype=low, device=X.device)
    sums = torch.empty_like(centroids)
    objectives = []
    iterations = range(max_iter)
    bar = iterations if progress is None else progress(
        iterations, verbose=verbose, desc="spherical k-means")
    for _ in bar:
        _assign(X_low, centroids.to(low), chunk, sims, labels, block)
        objectives.append(sims.float().mean().item())
        if verbose and hasattr(bar, "set_postfix"):
            bar.set_postfix(objective=f"{objectives[-1]:.5f}")
        if len(objectives) > 1 and objectives[-1] - objectives[-2] < tol:
            break
        sums.zero_().index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=n_clusters)
        empty = torch.nonzero(counts == 0).flatten()
        if empty.numel():
            # Re-seed empty clusters at the worst represented points, distinct ones.
            worst = torch.argsort(sims)[: empty.numel()]
            sums[empty] = X[worst]
        norms = sums.norm(dim=1, keepdim=True)
        centroids = torch.where(norms > 0, sums / norms.clamp_min(1e-30), centroids)
    return centroids, objectives
