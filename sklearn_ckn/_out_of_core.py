"""Features written out of core: batch by batch into an array the user provides."""

import numbers

import numpy as np

__all__ = ["transform_to"]

#: Chunks of a dask array computed at once by :func:`transform_to`, when not given.
DASK_CHUNKS_IN_FLIGHT = 4


def _check_out(out, n, n_features):
    shape = getattr(out, "shape", None)
    if shape is None or not hasattr(out, "__setitem__"):
        raise TypeError(
            "out must be a writable array (np.memmap, ndarray, zarr array...), got "
            f"{type(out).__name__}."
        )
    if tuple(shape) != (n, n_features):
        raise ValueError(
            f"out has shape {tuple(shape)}, but the features of {n} images have shape "
            f"({n}, {n_features})."
        )
    dtype = np.dtype(getattr(out, "dtype", np.float32))
    if dtype.kind != "f":
        raise ValueError(f"out must have a floating dtype (float32 is enough), got {dtype}.")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError("out is read-only; open the memmap with mode 'w+' or 'r+'.")


def transform_to(estimator, X, out, *, batch_size=None, chunks_in_flight=None):
    """Write the features of ``X`` into ``out``, one batch of images at a time.

    Memory is bounded by one batch (its images, its features and the transform's
    working set), not by the ``n x n_features_out_`` output, which ``out`` holds: a
    ``np.memmap`` on disk, a zarr array, or any array with ``shape`` and slice
    assignment.

    Parameters
    ----------
    estimator : fitted transformer
        A fitted estimator with ``transform`` and ``n_features_out_``, e.g. a
        :class:`~sklearn_ckn.CKNTransformer` or a :class:`~sklearn_ckn.CKNClassifier`.
    X : array-like of images, of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        Any array whose row slices ``X[start:stop]`` give NumPy arrays: ndarray,
        ``np.memmap``, zarr or h5py arrays; or a dask array, whose chunks are computed
        ``chunks_in_flight`` at a time on the current scheduler and written here.
    out : np.memmap or array of shape (n, `n_features_out_`), floating dtype
        Where the features go; written in place, then flushed when it has ``flush``.
    batch_size : int, default=None
        Images per batch (NumPy-like ``X``). None: the estimator's ``batch_size``, or
        256 if it has none.
    chunks_in_flight : int, default=None
        Chunks of a dask ``X`` computed at once (memory: that many chunks of features).
        None: 4.

    Returns
    -------
    out : the ``out`` argument
        Filled with ``estimator.transform(X)``.

    See Also
    --------
    sklearn_ckn.transform_dask : Lazy features of a dask array.
    sklearn_ckn.svm.TorchLinearSVC : Fits from a memmap, zarr or dask array by chunks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn import CKNTransformer, transform_to
    >>> images = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    >>> ckn = CKNTransformer(n_filters=(4, 8), n_patches=500, random_state=0).fit(images)
    >>> out = np.zeros((20, ckn.n_features_out_), dtype=np.float32)  # or a np.memmap
    >>> _ = transform_to(ckn, images, out, batch_size=8)
    >>> np.allclose(out, ckn.transform(images), atol=1e-5)
    True
    """
    from ._dask import fitted_n_features_out, is_dask_array, transform_dask

    n_features = fitted_n_features_out(estimator, "transform_to")
    if not hasattr(X, "shape") or not hasattr(X, "__getitem__"):
        X = np.asarray(X)
    n = X.shape[0]
    if not isinstance(n, numbers.Integral):
        raise ValueError(
            "X has an unknown number of images (a dask array of unknown chunk sizes); "
            "call X.compute_chunk_sizes() first."
        )
    _check_out(out, n, n_features)
    if is_dask_array(X):
        import dask

        k = DASK_CHUNKS_IN_FLIGHT if chunks_in_flight is None else chunks_in_flight
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"chunks_in_flight must be a positive integer, got {k!r}.")
        lazy = transform_dask(estimator, X)
        bounds = np.concatenate([[0], np.cumsum(lazy.chunks[0])]).astype(int)
        blocks = lazy.to_delayed().ravel()
        for first in range(0, len(blocks), k):
            for i, feats in enumerate(dask.compute(*blocks[first:first + k]), start=first):
                out[bounds[i]:bounds[i + 1]] = feats
    else:
        if batch_size is None:
            batch_size = getattr(estimator, "batch_size", None) or 256
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        for start in range(0, n, int(batch_size)):
            stop = min(start + int(batch_size), n)
            out[start:stop] = estimator.transform(np.asarray(X[start:stop]))
    if hasattr(out, "flush"):
        out.flush()
    return out
