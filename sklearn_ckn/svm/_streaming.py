"""Features larger than memory for the linear SVMs: ``np.memmap``, zarr, h5py and dask arrays.

:class:`~sklearn_ckn.svm.TorchLinearSVC` reads such an ``X`` through
:class:`~sklearn_ckn.core.linear_svm.RowChunks`, one chunk of rows at a time, once per
pass of the solver (each objective and gradient evaluation, and the preconditioner's
Gram matrix); the labels stay in memory (they are ``n`` values). The chunks are:

* ``np.memmap``, zarr, h5py and other array-likes with ``shape``, ``dtype`` and row
  slicing: slices ``X[start:stop]`` of ``chunk_size`` rows; by default as many rows as
  fit in :data:`DEFAULT_CHUNK_BYTES` (64 MiB) in the computation's dtype, rounded down to
  a multiple of the array's own row chunks when it has any (zarr, h5py);
* dask arrays: their own row blocks (all columns of a block in one chunk), computed one
  at a time on the current scheduler, never the whole array; ``chunk_size`` rechunks the
  rows first. Every pass recomputes the blocks: persist a dask array whose blocks are
  costly (e.g. lazy CKN features) or store it (``to_zarr``) before fitting.

Every chunk's values are checked (finite) the first time it is read.
``decision_function`` and ``predict`` of such an ``X`` return NumPy arrays, computed chunk
by chunk; for a dask ``X`` they return lazy dask arrays with the same row chunks.
"""

import numbers
import warnings

import numpy as np

from .._dask import is_dask_array
from ..core.row_chunks import RowChunks

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "RowSubset",
    "check_streamed_shape",
    "is_streamed",
    "streamed_decision_function",
    "streamed_predict",
    "streamed_rows",
]

#: Bytes of one chunk of rows (in the computation's dtype) when ``chunk_size`` is None.
DEFAULT_CHUNK_BYTES = 64 * 2**20


def is_streamed(X):
    """Whether ``X`` is read by row chunks rather than loaded into memory.

    True for dask arrays, ``np.memmap`` and array-likes that are not NumPy arrays but
    have ``shape``, ``dtype`` and ``__getitem__`` (zarr and h5py arrays); False for
    NumPy arrays, lists, sparse matrices, torch tensors and data frames.

    Parameters
    ----------
    X : object
        The ``X`` given to ``fit``, ``decision_function`` or ``predict``.

    Returns
    -------
    streamed : bool
        Whether ``X`` is read by row chunks.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_ckn.svm._streaming import is_streamed
    >>> X = np.memmap(tempfile.TemporaryFile(), dtype=np.float32, mode="w+", shape=(3, 2))
    >>> is_streamed(np.zeros((3, 2))), is_streamed(X)
    (False, True)
    """
    if is_dask_array(X) or isinstance(X, np.memmap):
        return True
    if isinstance(X, (np.ndarray, list, tuple)):
        return False
    module = type(X).__module__.split(".")[0]
    if module in {"torch", "pandas", "polars", "pyarrow", "scipy"}:
        return False
    return all(hasattr(X, a) for a in ("shape", "dtype", "__getitem__"))


def check_streamed_shape(X, name):
    """``(n, d)`` of a streamed ``X``, or a clear error (not 2-D, unknown sizes, empty, not numeric)."""
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(
            f"{name} needs 2-D features of shape (n_samples, n_features); got an array of "
            f"shape {shape}."
        )
    if any(isinstance(s, float) and np.isnan(s) for s in shape):
        raise ValueError(
            f"X has unknown sizes {shape} (a dask array of unknown chunk sizes); call "
            "X.compute_chunk_sizes() first."
        )
    n, d = (int(s) for s in shape)
    if n < 1 or d < 1:
        raise ValueError(f"Found array with shape {shape}: {name} needs at least 1 sample and 1 feature.")
    dtype = np.dtype(X.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"X must have a real numeric dtype, got {dtype}.")
    return n, d


def _as_chunk(block, np_dtype, checked, i, start=None, read_only=False):
    """A C-contiguous array of ``np_dtype`` (a copy only when needed), checked once.

    Writable unless ``read_only``: then a read-only block (a slice of a ``np.memmap``
    opened with ``mode="r"``) is returned as it is, without a copy.
    """
    a = np.asarray(block)
    if a.dtype != np_dtype or not a.flags.c_contiguous or not (read_only or a.flags.writeable):
        a = np.array(a, dtype=np_dtype, order="C")
    if checked is not None and i not in checked:
        # The sum first: one pass and no temporary when all is finite (scikit-learn's test).
        if not np.isfinite(a.sum(dtype=np.float64)) and not np.isfinite(a).all():
            where = "" if start is None else f" (in rows {start} to {start + len(a)})"
            raise ValueError(f"Input X contains NaN or infinity{where}.")
        checked.add(i)
    return a


def _chunk_rows(X, d, itemsize, chunk_size):
    if chunk_size is not None:
        return int(chunk_size)
    rows = max(1, DEFAULT_CHUNK_BYTES // (d * itemsize))
    own = getattr(X, "chunks", None)  # zarr's and h5py's storage chunks
    if isinstance(own, tuple) and own and isinstance(own[0], numbers.Integral) and 0 < own[0] <= rows:
        rows -= rows % int(own[0])
    return rows


def _dask_blocks(X, chunk_size):
    """``(bounds, blocks)``: the non-empty row blocks of a dask ``X``, all columns in each."""
    X = X.rechunk({0: int(chunk_size) if chunk_size is not None else X.chunks[0], 1: -1})
    sizes = np.asarray(X.chunks[0], dtype=int)
    blocks = X.to_delayed().ravel()
    keep = np.flatnonzero(sizes > 0)
    bounds = np.concatenate([[0], np.cumsum(sizes[keep])]).tolist()
    return bounds, [blocks[i] for i in keep]


def streamed_rows(X, *, dtype, device, chunk_size=None, name="TorchLinearSVC"):
    """:class:`~sklearn_ckn.core.linear_svm.RowChunks` over a ``np.memmap``, zarr, h5py or dask ``X``.

    Parameters
    ----------
    X : np.memmap, zarr or h5py array, dask array of shape (n_samples, n_features)
        Features, read one chunk of rows at a time (see the module docstring).
    dtype : torch.dtype
        Dtype of the computation (each chunk is converted to it).
    device : torch.device
        Where each chunk goes.
    chunk_size : int, default=None
        Rows per chunk; None: :data:`DEFAULT_CHUNK_BYTES` worth of rows (dask: its own
        row blocks).
    name : str, default="TorchLinearSVC"
        The estimator's name, for error messages.

    Returns
    -------
    chunks : RowChunks
        Whose chunks are read (and, for dask, computed) when iterated; each chunk's
        values are checked the first time it is read.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_ckn.svm._streaming import streamed_rows
    >>> X = np.memmap(tempfile.TemporaryFile(), dtype=np.float32, mode="w+", shape=(10, 3))
    >>> chunks = streamed_rows(X, dtype=torch.float32, device="cpu", chunk_size=4)
    >>> chunks.bounds
    [0, 4, 8, 10]
    """
    import torch

    n, d = check_streamed_shape(X, name)
    np_dtype = np.dtype(torch.empty(0, dtype=dtype).numpy().dtype)
    checked = set()
    if is_dask_array(X):
        bounds, blocks = _dask_blocks(X, chunk_size)

        def load(i):
            return _as_chunk(blocks[i].compute(), np_dtype, checked, i, bounds[i])
    else:
        step = _chunk_rows(X, d, np_dtype.itemsize, chunk_size)
        bounds = list(range(0, n, step)) + [n]

        def load(i):
            a = _as_chunk(X[bounds[i]:bounds[i + 1]], np_dtype, checked, i, bounds[i], read_only=True)
            if a.flags.writeable:
                return a
            # The file's pages themselves, not a copy: the solvers only read chunks
            # (RowChunks), so torch's warning about read-only memory does not apply.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                return torch.from_numpy(a)

    return RowChunks(load, bounds, d, dtype=dtype, device=device)


class RowSubset:
    """The rows ``rows`` of a streamed ``X``, read by slices like ``X`` itself (no copy).

    ``RowSubset(X, rows)[a:b]`` reads the rows ``rows[a:b]`` of ``X`` (in increasing
    order from ``X``, as h5py requires), so that a cross-validation fold's validation
    rows are scored one chunk at a time.

    Parameters
    ----------
    X : np.memmap, zarr or h5py array, dask array of shape (n_samples, n_features)
        Features.
    rows : array-like of int
        Row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn.svm._streaming import RowSubset
    >>> subset = RowSubset(np.arange(12).reshape(6, 2), [4, 0, 2])
    >>> subset.shape, subset[1:3].tolist()
    ((3, 2), [[0, 1], [4, 5]])
    """

    def __init__(self, X, rows):
        self._X = X
        self._rows = np.asarray(rows, dtype=np.intp)
        self.shape = (len(self._rows), X.shape[1])
        self.dtype = X.dtype

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("RowSubset is read by slices of rows.")
        rows = self._rows[key]
        order = np.argsort(rows, kind="stable")
        X = self._X
        if is_dask_array(X):
            block = np.asarray(X[rows[order]].compute())
        elif hasattr(X, "oindex"):  # zarr: orthogonal selection of rows
            block = np.asarray(X.oindex[rows[order], :])
        else:
            block = np.asarray(X[rows[order]])
        out = np.empty_like(block)
        out[order] = block
        return out


def _check_features(estimator, X):
    n, d = check_streamed_shape(X, type(estimator).__name__)
    if d != estimator.n_features_in_:
        raise ValueError(
            f"X has {d} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return n, d


def _scores_block(block, coef, intercept, start=None):
    a = _as_chunk(block, np.float64, set(), 0, start)
    scores = a @ coef.T + intercept
    return scores.ravel() if coef.shape[0] == 1 else scores


def _predict_block(block, coef, intercept, classes):
    scores = _scores_block(block, coef, intercept)
    return classes[(scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)]


def _dask_map(estimator, X, func, dtype, *args):
    n_classes = estimator.coef_.shape[0]
    X = X.rechunk({1: -1})
    out_1d = func is _predict_block or n_classes == 1
    chunks = (X.chunks[0],) if out_1d else (X.chunks[0], (n_classes,))
    meta = np.empty((0,) if out_1d else (0, n_classes), dtype=dtype)
    return X.map_blocks(
        func, estimator.coef_, estimator.intercept_, *args, dtype=dtype, chunks=chunks,
        drop_axis=1 if out_1d else None, meta=meta,
    )


def streamed_decision_function(estimator, X, chunk_size=None):
    """``X @ coef_.T + intercept_`` of a fitted linear classifier, one chunk of rows at a time.

    Parameters
    ----------
    estimator : fitted linear classifier
        With ``coef_``, ``intercept_`` and ``n_features_in_``.
    X : np.memmap, zarr or h5py array, dask array of shape (n_samples, n_features)
        Features.
    chunk_size : int, default=None
        Rows per chunk (not dask); None: :data:`DEFAULT_CHUNK_BYTES` of float64 rows.

    Returns
    -------
    scores : ndarray or dask array of shape (n_samples,) or (n_samples, n_classes)
        float64; lazy (same row chunks as ``X``) for a dask ``X``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_ckn.svm import TorchLinearSVC
    >>> from sklearn_ckn.svm._streaming import streamed_decision_function
    >>> X = np.memmap(tempfile.TemporaryFile(), dtype=np.float32, mode="w+", shape=(6, 2))
    >>> X[:] = [[0, 1], [1, 0], [0, 2], [2, 0], [0, 3], [3, 0]]
    >>> clf = TorchLinearSVC(device="cpu").fit(np.asarray(X), [0, 1] * 3)
    >>> streamed_decision_function(clf, X, chunk_size=4).shape
    (6,)
    """
    n, d = _check_features(estimator, X)
    if is_dask_array(X):
        return _dask_map(estimator, X, _scores_block, np.float64)
    step = _chunk_rows(X, d, 8, chunk_size)
    coef, intercept = estimator.coef_, estimator.intercept_
    out = np.empty((n,) if coef.shape[0] == 1 else (n, coef.shape[0]))
    for start in range(0, n, step):
        out[start:start + step] = _scores_block(X[start:start + step], coef, intercept, start)
    return out


def streamed_predict(estimator, X, chunk_size=None):
    """Class labels of a fitted linear classifier, one chunk of rows at a time.

    Parameters
    ----------
    estimator : fitted linear classifier
        With ``classes_``, ``coef_``, ``intercept_`` and ``n_features_in_``.
    X : np.memmap, zarr or h5py array, dask array of shape (n_samples, n_features)
        Features.
    chunk_size : int, default=None
        Rows per chunk (not dask), as in :func:`streamed_decision_function`.

    Returns
    -------
    labels : ndarray or dask array of shape (n_samples,)
        Lazy (same row chunks as ``X``) for a dask ``X``.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_ckn.svm import TorchLinearSVC
    >>> from sklearn_ckn.svm._streaming import streamed_predict
    >>> path = os.path.join(tempfile.mkdtemp(), "X.f32")
    >>> np.array([[0, 1], [1, 0]] * 3, dtype=np.float32).tofile(path)
    >>> X = np.memmap(path, dtype=np.float32, mode="r", shape=(6, 2))  # read-only
    >>> clf = TorchLinearSVC(device="cpu").fit(X[:2], ["a", "b"])
    >>> streamed_predict(clf, X, chunk_size=4).tolist()
    ['a', 'b', 'a', 'b', 'a', 'b']
    """
    classes = estimator.classes_
    if is_dask_array(X):
        _check_features(estimator, X)
        return _dask_map(estimator, X, _predict_block, classes.dtype, classes)
    scores = streamed_decision_function(estimator, X, chunk_size)
    return classes[(scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)]
