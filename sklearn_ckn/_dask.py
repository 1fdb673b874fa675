"""Lazy CKN features of dask arrays (dask is optional: imported only when used).

:func:`transform_dask` maps a fitted transformer over the sample-axis chunks of a dask
array of images. The graph holds the estimator once, as a single key on which every
chunk's task depends, so a ``dask.distributed`` cluster ships the fitted model to a
worker once, not once per chunk. ``CKNTransformer.transform`` calls it when given a
dask array.

Threads: a dask task is one thread of a worker (``threads_per_worker`` on a cluster,
the pool of the threaded scheduler), and dask runs the chunks in parallel. Each task
therefore runs torch with one thread when the estimator's ``n_jobs`` is None (the
default), and with ``n_jobs`` threads otherwise (for workers started with
``threads_per_worker=1`` and ``n_jobs`` set to the cores each worker owns). Torch's
setting is saved when the first task of a process starts and restored when the last
one ends, so concurrent tasks do not undo each other's limits and the caller's setting
comes back after ``compute``.
"""

import contextlib
import sys
import threading
import uuid

import numpy as np

__all__ = ["is_dask_array", "transform_dask"]


def fitted_n_features_out(estimator, caller):
    """``estimator.n_features_out_`` of a fitted transformer, or a clear error for ``caller``."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    n_features = getattr(estimator, "n_features_out_", None)
    if n_features is None:
        raise ValueError(
            f"{type(estimator).__name__} has no n_features_out_: {caller} needs a "
            "fitted transformer that states its number of output features."
        )
    return int(n_features)


def is_dask_array(X):
    """True when ``X`` is a ``dask.array.Array`` (without importing dask).

    Parameters
    ----------
    X : object
        Anything.

    Returns
    -------
    is_dask : bool
        Whether ``X`` is a dask array (False whenever dask is not imported).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn._dask import is_dask_array
    >>> is_dask_array(np.zeros((2, 3)))
    False
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


_lock = threading.Lock()
_active = 0
_saved = None


@contextlib.contextmanager
def _task_threads(n):
    """Torch threads ``n`` for a dask task; the process's setting restored by the last task."""
    global _active, _saved
    import torch

    with _lock:
        if _active == 0:
            _saved = torch.get_num_threads()
        _active += 1
        torch.set_num_threads(n)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                torch.set_num_threads(_saved)
                _saved = None


def _task_n_threads(estimator):
    from ._threads import resolve_n_threads

    n_jobs = getattr(estimator, "n_jobs", None)
    return 1 if n_jobs is None else resolve_n_threads(n_jobs)


def _transform_block(block, estimator, n_features):
    """The features of one chunk of images (a task of the graph)."""
    if block.shape[0] == 0:
        return np.empty((0, n_features), dtype=np.float32)
    with _task_threads(_task_n_threads(estimator)):
        out = estimator.transform(block)
    return np.asarray(out, dtype=np.float32)


def _check_input(estimator, X):
    """Shape checks done when the graph is built (the values are checked per chunk)."""
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            "Expected images as a dask array of shape (n, H, W), (n, H, W, C) or (n, H*W*C); "
            f"got {X.ndim} dimension(s)."
        )
    if any(np.isnan(s) for s in X.shape[1:]):
        raise ValueError(
            f"The dask array of images has unknown sizes {X.shape} beyond the sample axis; "
            "call X.compute_chunk_sizes() first."
        )
    image_shape = getattr(estimator, "image_shape_", None)
    if X.ndim > 2 and image_shape is not None:
        shape = tuple(X.shape[1:]) + ((1,) if X.ndim == 3 else ())
        if shape != tuple(image_shape):
            raise ValueError(
                f"X has images of shape {shape} (H, W, C), but {type(estimator).__name__} "
                f"was fitted on images of shape {tuple(image_shape)}."
            )
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is not None and int(np.prod(X.shape[1:])) != n_in:
        raise ValueError(
            f"X has images of shape {X.shape[1:]} ({int(np.prod(X.shape[1:]))} features), "
            f"but {type(estimator).__name__} was fitted on {n_in} features per image."
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"Images must have a numeric dtype, got {X.dtype}.")


def transform_dask(estimator, X):
    """Lazy features of a dask array of images, computed chunk by chunk on any scheduler.

    Parameters
    ----------
    estimator : fitted transformer
        A fitted estimator with ``transform`` and ``n_features_out_``, e.g. a
        :class:`~sklearn_ckn.CKNTransformer` or a :class:`~sklearn_ckn.CKNClassifier`.
    X : dask.array.Array of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        Images. Chunks may split the sample axis only: the other axes are rechunked
        to one chunk each.

    Returns
    -------
    features : dask.array.Array of shape (n, `n_features_out_`), dtype float32
        Lazy; its chunks are ``(X.chunks[0], (n_features_out_,))``. The graph holds the
        estimator itself (one key, shared by every chunk): refitting the estimator
        before ``compute`` changes the result on the threaded and synchronous
        schedulers.

    See Also
    --------
    sklearn_ckn.transform_to : Write the features into an array you give.
    sklearn_ckn.ckn.CKNTransformer.transform : The same for a dask array.

    Notes
    -----
    Nothing is computed here: the output's ``dtype`` and ``meta`` are given, so dask
    never calls ``transform`` on a dummy array. A task runs torch with one thread when
    the estimator's ``n_jobs`` is None, with ``n_jobs`` threads otherwise (see the
    module docstring); on a cluster, start workers with ``threads_per_worker=1`` and one
    worker per core, or set ``n_jobs`` to the threads of a worker.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn import transform_dask
    >>> images = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    >>> ckn = CKNTransformer(n_filters=(4, 8), n_patches=500, random_state=0).fit(images)
    >>> lazy = transform_dask(ckn, da.from_array(images, chunks=8))
    >>> lazy.chunks
    ((8, 8, 4), (128,))
    >>> np.allclose(lazy.compute(scheduler="sync"), ckn.transform(images), atol=1e-5)
    True
    """
    import dask
    import dask.array as da

    n_features = fitted_n_features_out(estimator, "transform_dask")
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask.array.Array, got {type(X).__name__}.")
    _check_input(estimator, X)
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    # One key for the model: every chunk's task depends on it (pure=False: no
    # tokenising, i.e. no pickling, of a possibly large model to name it).
    name = f"{type(estimator).__name__.lower()}-{uuid.uuid4().hex}"
    model = dask.delayed(estimator, pure=False, name=name)
    return da.map_blocks(
        _transform_block,
        X,
        model,
        n_features,
        dtype=np.float32,
        chunks=(X.chunks[0], (n_features,)),
        drop_axis=list(range(2, X.ndim)),
        meta=np.empty((0, n_features), dtype=np.float32),
        name=f"{name}-transform",
    )
